-- Upgrade an existing database with data to the folded rollups, in place.
--
-- Before this change every rollup row was recomputed whole from raw events; the new tables (per-day
-- listener sets, play folds, follower sets, creator rollups) are empty. This migration:
--   1. derives the creator rollups from the mashup rollups as they stand, so the day rebuilds below
--      see consistent rows and only propagate real differences;
--   2. rebuilds every UTC day that has raw events (aggregation.mashup_day, then aggregation.user_day),
--      which fills the listener sets and play folds from the raw events and corrects any rollup
--      that differs from them (events received since the last incremental run included);
--   3. recounts every lifetime row from the daily rollups and the listener set.
-- Nothing is queued by the new trigger for events that existed before it, so after this the
-- incremental job only folds what arrives next. On a fresh database (no events) it does nothing.
-- Cost: one set-based pass per day of raw events (about 1 s per 20k events of a day on 2 cores).

insert into public.creator_quarter_hour_stats (creator_id, bucket_start, plays, likes, shares)
select m.creator_id, q.bucket_start, sum(q.plays), sum(q.likes), sum(q.shares)
from public.mashup_quarter_hour_stats q join public.mashups m on m.id = q.mashup_id
group by 1, 2
having sum(q.plays) <> 0 or sum(q.likes) <> 0 or sum(q.shares) <> 0;

insert into public.creator_daily_breakdowns (creator_id, date, source, country, device, plays)
select m.creator_id, aggregation.utc_day(b.bucket_start), b.source, b.country, b.device, sum(b.plays)
from public.mashup_quarter_hour_breakdowns b join public.mashups m on m.id = b.mashup_id
group by 1, 2, 3, 4, 5
having sum(b.plays) <> 0;

do $$
declare
  v_day date;
begin
  for v_day in
    select distinct aggregation.utc_day(e."timestamp") from public.analytics_events e order by 1
  loop
    perform aggregation.mashup_day(v_day);
  end loop;
  for v_day in
    select distinct aggregation.utc_day(e."timestamp") from public.analytics_events e order by 1
  loop
    perform aggregation.user_day(v_day);
  end loop;
  perform aggregation.recompute_lifetime(array(select m.id from public.mashups m));
end
$$;
