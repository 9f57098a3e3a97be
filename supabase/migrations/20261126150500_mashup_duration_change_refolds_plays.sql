-- A mashup's new duration re-caps its plays.
--
-- A play's furthest position is its largest position capped at the mashup's duration_seconds, and
-- it is completed at 95 % of that duration (docs/aggregation.md). Creators may change
-- duration_seconds (column privilege "creators update their own mashups"), but the fold caps a play
-- only when one of its events arrives: after a change, every earlier play of the mashup kept the old
-- cap and completion, and with them the retention rows, lifetime watch time and completions and the
-- days' avg_watch_time, unlike a recount from raw events. Found by tests/sql/27_fold_all_rollups_randomized.
--
-- Now a change of duration_seconds re-caps the mashup's plays from their folds (each summary keeps
-- its uncapped max_position_seconds) and rebuilds the mashup's retention rows, its lifetime watch
-- time and completions and its days' avg_watch_time from them, in the updating transaction. Its
-- cost is the mashup's plays, once per change (a rare edit). It takes the aggregation lock so a run
-- folding the mashup's plays at the same time is not mixed with the re-cap.
create function aggregation.recap_mashup_plays()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform aggregation.lock(true);

  update public.mashup_play_summaries s
  set furthest_position_seconds = c.furthest, duration_seconds = new.duration_seconds,
      completed = c.furthest >= 0.95 * new.duration_seconds
  from (
    select x.play_id,
           least(greatest(coalesce(x.max_position_seconds, x.furthest_position_seconds, 0), 0), new.duration_seconds)
             as furthest
    from public.mashup_play_summaries x where x.mashup_id = new.id
  ) c
  where s.play_id = c.play_id
    and (s.furthest_position_seconds, s.duration_seconds, s.completed)
        is distinct from (c.furthest, new.duration_seconds, c.furthest >= 0.95 * new.duration_seconds);

  delete from public.mashup_daily_retention r where r.mashup_id = new.id;
  insert into public.mashup_daily_retention
    (mashup_id, date, position_bucket_seconds, plays, completed_plays, watch_time_seconds)
  select new.id, (s.started_at at time zone 'UTC')::date, (floor(s.furthest_position_seconds / 10) * 10)::integer,
         count(*)::integer, (count(*) filter (where s.completed))::integer, sum(s.furthest_position_seconds)
  from public.mashup_play_summaries s where s.mashup_id = new.id
  group by 2, 3;

  update public.mashup_lifetime_stats l
  set tracked_plays = r.plays, completed_plays = r.completed_plays, watch_time_seconds = r.watch_time_seconds,
      avg_watch_time = round(r.watch_time_seconds / nullif(r.plays, 0), 2)
  from (
    select coalesce(sum(x.plays), 0)::bigint as plays, coalesce(sum(x.completed_plays), 0)::bigint as completed_plays,
           coalesce(sum(x.watch_time_seconds), 0) as watch_time_seconds
    from public.mashup_daily_retention x where x.mashup_id = new.id
  ) r
  where l.mashup_id = new.id;

  update public.mashup_daily_stats d
  set avg_watch_time = a.avg_watch_time
  from (
    select x.date, round(sum(x.watch_time_seconds) / nullif(sum(x.plays), 0), 2) as avg_watch_time
    from public.mashup_daily_retention x where x.mashup_id = new.id group by x.date
  ) a
  where d.mashup_id = new.id and d.date = a.date and d.avg_watch_time is distinct from a.avg_watch_time;
  return null;
end;
$$;
comment on function aggregation.recap_mashup_plays() is
  'After a mashup''s duration_seconds changes: re-caps its plays and rebuilds its retention, lifetime '
  'watch time and completions and its days'' avg_watch_time.';
revoke all on function aggregation.recap_mashup_plays() from public, anon, authenticated;

create trigger mashups_recap_plays
  after update of duration_seconds on public.mashups
  for each row when (old.duration_seconds is distinct from new.duration_seconds)
  execute function aggregation.recap_mashup_plays();
