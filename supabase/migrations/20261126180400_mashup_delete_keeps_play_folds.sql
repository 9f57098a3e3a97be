-- A deleted mashup's plays keep their fold: a later played event cannot give them a summary.
--
-- A play belongs to the mashup of its earliest played event, and has no summary when that mashup
-- does not exist (docs/aggregation.md). Deleting a mashup deleted its plays' summaries, and with
-- them everything the fold knew of those plays: a retried played event arriving afterwards (a later
-- timestamp, another mashup) then started the play afresh on the other mashup, with a summary,
-- retention and watch time a recount from raw events does not give it. Found by
-- tests/sql/27_fold_all_rollups_randomized. Now the trigger moves each deleted summary's fold into
-- aggregation.play_folds (where the fold keeps plays of mashups that do not exist), so the earliest
-- start stays known.
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

  -- The plays' folds stay known: a play whose earliest played event is the deleted mashup's has no
  -- summary whatever arrives later (a retry naming another mashup at a later time included), so its
  -- fold waits in play_folds like that of a play of a mashup that never existed. (A play may have a
  -- row there already, when its summary's start was not its earliest one's: the two are folded.)
  insert into aggregation.play_folds as t (play_id, started_at, started_event_id, mashup_id, max_position_seconds, ended)
  select s.play_id, s.started_at, s.started_event_id, s.mashup_id, s.max_position_seconds, coalesce(s.ended, false)
  from public.mashup_play_summaries s join gone g on g.id = s.mashup_id
  on conflict (play_id) do update set
    started_at = case when t.started_at is null or excluded.started_at < t.started_at
                        or (excluded.started_at = t.started_at and excluded.started_event_id < t.started_event_id)
                      then excluded.started_at else t.started_at end,
    started_event_id = case when t.started_at is null or excluded.started_at < t.started_at
                              or (excluded.started_at = t.started_at and excluded.started_event_id < t.started_event_id)
                            then excluded.started_event_id else t.started_event_id end,
    mashup_id = case when t.started_at is null or excluded.started_at < t.started_at
                       or (excluded.started_at = t.started_at and excluded.started_event_id < t.started_event_id)
                     then excluded.mashup_id else t.mashup_id end,
    max_position_seconds = greatest(t.max_position_seconds, excluded.max_position_seconds),
    ended = coalesce(t.ended, false) or coalesce(excluded.ended, false);

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
  'mashups'' counts taken out of their creator''s rollups (creator buckets, breakdowns, plays_received); '
  'their plays'' folds move to aggregation.play_folds.';
