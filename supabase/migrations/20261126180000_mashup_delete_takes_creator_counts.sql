-- Deleting a mashup takes its counts out of its creator's rollups too.
--
-- Creators delete their own mashups (RLS "creators delete their own mashups"). The delete trigger
-- removed the mashup's own rollup rows, and the plan's mashup_daily_stats rows went by ON DELETE
-- CASCADE, but the mashup's plays, likes and shares stayed in creator_quarter_hour_stats (the
-- dashboard's summary and trends), creator_daily_breakdowns (sources, demographics) and
-- user_daily_stats.plays_received. So after a delete the creator's summary still counted the
-- mashup while topContent (mashup_daily_stats) did not, and a user_day() rebuild of a day then took
-- the plays out of plays_received for that day only. Every number now follows the one rule:
-- counts of the creator's existing mashups (found by tests/sql/27_fold_all_rollups_randomized).
--
-- The amounts come from the mashup's 15-minute rows, still there when this statement trigger runs
-- (they have no foreign key; the cascade of mashup_daily_stats, a row trigger, has already run):
-- a UTC day is exactly its 96 buckets, so plays_received loses the same amount the day's
-- mashup_daily_stats row held. A mashup's creator never changes (column privileges), so the
-- deleted row's creator_id is the creator its counts were folded into.
create or replace function aggregation.delete_mashup_rollups()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_ids uuid[];
  v_times timestamptz[];
  v_days date[];
begin
  -- The creator's buckets, minus the mashups' buckets; rows left at zero go.
  with d as (
    select g.creator_id, q.bucket_start, sum(q.plays)::integer as plays, sum(q.likes)::integer as likes,
           sum(q.shares)::integer as shares
    from gone g join public.mashup_quarter_hour_stats q on q.mashup_id = g.id
    group by 1, 2
  ),
  up as (
    update public.creator_quarter_hour_stats t
    set plays = t.plays - d.plays, likes = t.likes - d.likes, shares = t.shares - d.shares
    from d
    where t.creator_id = d.creator_id and t.bucket_start = d.bucket_start
    returning t.creator_id, t.bucket_start, (t.plays = 0 and t.likes = 0 and t.shares = 0) as zero
  )
  select array_agg(up.creator_id) filter (where up.zero), array_agg(up.bucket_start) filter (where up.zero)
  into v_ids, v_times from up;
  if v_ids is not null then
    delete from public.creator_quarter_hour_stats t using unnest(v_ids, v_times) as k (id, at)
    where t.creator_id = k.id and t.bucket_start = k.at and t.plays = 0 and t.likes = 0 and t.shares = 0;
  end if;

  -- The creator's UTC-day breakdowns, minus the mashups' bucket breakdowns of those days.
  with d as (
    select g.creator_id, (b.bucket_start at time zone 'UTC')::date as date, b.source, b.country, b.device,
           sum(b.plays)::integer as plays
    from gone g join public.mashup_quarter_hour_breakdowns b on b.mashup_id = g.id
    group by 1, 2, 3, 4, 5
  ),
  up as (
    update public.creator_daily_breakdowns t set plays = t.plays - d.plays
    from d
    where t.creator_id = d.creator_id and t.date = d.date and t.source = d.source and t.country = d.country
      and t.device = d.device
    returning t.creator_id, t.date, t.plays = 0 as zero
  )
  select array_agg(up.creator_id) filter (where up.zero), array_agg(up.date) filter (where up.zero)
  into v_ids, v_days from up;
  if v_ids is not null then
    delete from public.creator_daily_breakdowns t using unnest(v_ids, v_days) as k (id, day)
    where t.creator_id = k.id and t.date = k.day and t.plays = 0;
  end if;

  -- plays_received: the plays the mashups' days held.
  with d as (
    select g.creator_id, (q.bucket_start at time zone 'UTC')::date as date, sum(q.plays)::integer as plays
    from gone g join public.mashup_quarter_hour_stats q on q.mashup_id = g.id
    group by 1, 2 having sum(q.plays) <> 0
  ),
  up as (
    update public.user_daily_stats t set plays_received = coalesce(t.plays_received, 0) - d.plays
    from d
    where t.user_id = d.creator_id and t.date = d.date
    returning t.user_id, t.date, (coalesce(t.mashups_created, 0) = 0 and coalesce(t.plays_received, 0) = 0
                                  and coalesce(t.followers_gained, 0) = 0) as zero
  )
  select array_agg(up.user_id) filter (where up.zero), array_agg(up.date) filter (where up.zero)
  into v_ids, v_days from up;
  if v_ids is not null then
    delete from public.user_daily_stats t using unnest(v_ids, v_days) as k (id, day)
    where t.user_id = k.id and t.date = k.day and coalesce(t.mashups_created, 0) = 0
      and coalesce(t.plays_received, 0) = 0 and coalesce(t.followers_gained, 0) = 0;
  end if;

  delete from public.mashup_quarter_hour_stats t using gone g where t.mashup_id = g.id;
  delete from public.mashup_quarter_hour_breakdowns t using gone g where t.mashup_id = g.id;
  delete from public.mashup_play_summaries t using gone g where t.mashup_id = g.id;
  delete from public.mashup_daily_retention t using gone g where t.mashup_id = g.id;
  delete from public.mashup_listeners t using gone g where t.mashup_id = g.id;
  delete from public.mashup_lifetime_stats t using gone g where t.mashup_id = g.id;
  delete from aggregation.mashup_daily_listeners t using gone g where t.mashup_id = g.id;
  return null;
end;
$$;
comment on function aggregation.delete_mashup_rollups() is
  'ON DELETE CASCADE of the fold''s per-mashup rollups (statement-level, set-based), and the deleted '
  'mashups'' counts taken out of their creator''s rollups (creator buckets, breakdowns, plays_received).';
