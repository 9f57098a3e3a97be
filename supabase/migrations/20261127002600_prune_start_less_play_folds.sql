-- Plays whose start was never seen (heartbeats only) leave aggregation.play_folds with the raw
-- months retention drops (outside audit, 2026-11-27, finding 7, the part 20261127002100 left open).
--
-- A play's fold waits in play_folds while it has no summary: no start seen yet, or a start naming
-- a mashup that does not exist. 20261127002100 prunes the second kind by their start once it is
-- before raw_events.settings.dropped_through. The first kind had no time to prune by, and an
-- anonymous client can send heartbeats for any play id, so they grew for ever. Now every fold keeps
-- the time of the latest event folded into it (last_event_at), and the daily prune also deletes the
-- start-less folds whose latest event is before dropped_through: every event they hold is in a
-- dropped month, a start older than them is refused at the horizon, and no recount can see them
-- (their raw events are gone), so nothing reads them again. Existing folds get the time from their
-- raw events (one pass over the raw events at this migration); a fold whose raw events are all
-- gone already gets '-infinity' and goes at the next prune after a drop.
-- fold_plays as in its current definition, but for last_event_at (the p, known, folded and
-- waiting parts).

alter table aggregation.play_folds add column last_event_at timestamptz;
comment on column aggregation.play_folds.last_event_at is
  'The latest event time folded into this play (prune_fold_state deletes start-less folds by it).';

-- One pass over the raw events (a hash of the start-less folds' ids), not one per fold.
update aggregation.play_folds f set last_event_at = coalesce(x.last_at, '-infinity')
from aggregation.play_folds f2
left join (select e.play_id, max(e."timestamp") as last_at
           from raw_events.analytics_events e
           where e.play_id in (select o.play_id from aggregation.play_folds o where o.started_at is null)
           group by 1) x on x.play_id = f2.play_id
where f.play_id = f2.play_id and f2.started_at is null;

create or replace function aggregation.fold_plays()
 RETURNS bigint
 LANGUAGE plpgsql
 SET search_path TO ''
 SET plan_cache_mode TO 'force_custom_plan'
 SET enable_hashjoin TO 'off'
 SET enable_mergejoin TO 'off'
AS $$
declare
  v_rows bigint := 0;
  v_n bigint;
begin
  -- (One pass per statement and joins only against indexed tables: joins between CTEs have no
  -- statistics, and a nested loop over two 25k-row CTEs is quadratic.)
  with p as (
    select b.play_id,
           min(b."timestamp") filter (where b.event_type = 'mashup_played' and b.mashup_id is not null) as started_at,
           (array_agg(b.id order by b."timestamp", b.id)
              filter (where b.event_type = 'mashup_played' and b.mashup_id is not null))[1] as started_event_id,
           (array_agg(b.mashup_id order by b."timestamp", b.id)
              filter (where b.event_type = 'mashup_played' and b.mashup_id is not null))[1] as mashup_id,
           max(b.position_seconds) filter (where b.event_type <> 'mashup_played') as max_pos,
           bool_or(b.event_type = 'mashup_play_ended') as ended,
           max(b."timestamp") as last_at
    from aggregation.fold_batch b
    where b.play_id is not null and b.event_type in ('mashup_played', 'mashup_play_progress', 'mashup_play_ended')
    group by b.play_id
  ),
  -- What is known of each play before this batch (the statement's snapshot): its summary, and its
  -- row in play_folds if it has one (a play has at most one of the two, except when its earliest
  -- start moved to a mashup that does not exist: then both, and both are folded in).
  known as (
    select p.*,
           s.play_id is not null as summarized, s.mashup_id as s_mashup_id, s.started_at as s_started_at,
           s.started_event_id as s_started_event_id, s.max_position_seconds as s_max, s.ended as s_ended,
           s.furthest_position_seconds as s_furthest, s.duration_seconds as s_duration, s.completed as s_completed,
           o.play_id is not null as pending, o.started_at as o_started_at, o.started_event_id as o_started_event_id,
           o.mashup_id as o_mashup_id, o.max_position_seconds as o_max, o.ended as o_ended,
           o.last_event_at as o_last_at
    from p
    left join public.mashup_play_summaries s on s.play_id = p.play_id
    left join aggregation.play_folds o on o.play_id = p.play_id
  ),
  -- The earliest start, by ("timestamp", id), of the summary and the play_folds row ...
  so as (
    select k.*,
           k.o_started_at is null
             or (k.s_started_at is not null
                 and (k.s_started_at, k.s_started_event_id) <= (k.o_started_at, k.o_started_event_id)) as s_first
    from known k
  ),
  so_start as (
    select x.*,
           case when x.s_first then x.s_started_at else x.o_started_at end as so_started_at,
           case when x.s_first then x.s_started_event_id else x.o_started_event_id end as so_started_event_id,
           case when x.s_first then x.s_mashup_id else x.o_mashup_id end as so_mashup_id
    from so x
  ),
  -- ... and of that and the batch's: the play's fold after this batch (min, max, or: order-free).
  batch_first as (
    select x.*,
           not (x.started_at is null
                or (x.so_started_at is not null
                    and (x.so_started_at, x.so_started_event_id) <= (x.started_at, x.started_event_id))) as b_first
    from so_start x
  ),
  folded as (
    select x.play_id, x.summarized, x.pending, x.s_mashup_id, x.s_started_at, x.s_started_event_id, x.s_max,
           x.s_ended, x.s_furthest, x.s_duration, x.s_completed,
           case when x.b_first then x.started_at else x.so_started_at end as started_at,
           case when x.b_first then x.started_event_id else x.so_started_event_id end as started_event_id,
           case when x.b_first then x.mashup_id else x.so_mashup_id end as mashup_id,
           greatest(x.s_max, x.o_max, x.max_pos) as max_pos,
           coalesce(x.s_ended, false) or coalesce(x.o_ended, false) or coalesce(x.ended, false) as ended,
           greatest(x.o_last_at, x.last_at) as last_at
    from batch_first x
  ),
  -- Plays with a start and an existing mashup get (or keep) a summary; the rest wait in play_folds.
  -- One probe of the play's mashup: it has a summary (a start and an existing mashup) or waits.
  located as (
    select f.*, m.id is not null as mashup_exists, m.duration_seconds as duration
    from folded f left join public.mashups m on m.id = f.mashup_id
  ),
  new as (
    select f.*, least(greatest(coalesce(f.max_pos, 0), 0), f.duration) as furthest
    from located f
    where f.started_at is not null and f.mashup_exists
  ),
  changed as (
    select n.* from new n
    where not n.summarized
       or (n.s_mashup_id, n.s_started_at, n.s_started_event_id, n.s_max, n.s_furthest, n.s_duration, n.s_ended)
          is distinct from (n.mashup_id, n.started_at, n.started_event_id, n.max_pos, n.furthest, n.duration, n.ended)
  ),
  -- A play without a summary gets one with a plain INSERT; one with a summary has it updated. (The
  -- statement's snapshot knows which: only aggregation jobs write summaries, one at a time under
  -- aggregation.lock(). ON CONFLICT cost a speculative insertion per new play.)
  inserted as (
    insert into public.mashup_play_summaries
      (play_id, mashup_id, started_at, started_event_id, max_position_seconds, furthest_position_seconds,
       duration_seconds, completed, ended)
    select c.play_id, c.mashup_id, c.started_at, c.started_event_id, c.max_pos, c.furthest, c.duration,
           c.furthest >= 0.95 * c.duration, c.ended
    from changed c
    where not c.summarized
    returning 1
  ),
  updated as (
    update public.mashup_play_summaries t set
      mashup_id = c.mashup_id, started_at = c.started_at, started_event_id = c.started_event_id,
      max_position_seconds = c.max_pos, furthest_position_seconds = c.furthest,
      duration_seconds = c.duration, completed = c.furthest >= 0.95 * c.duration, ended = c.ended
    from changed c
    where c.summarized and t.play_id = c.play_id
    returning 1
  ),
  settled as (
    -- A play that now has its summary leaves play_folds (the summary holds its fold).
    delete from aggregation.play_folds t using new n
    where t.play_id = n.play_id and n.pending
    returning 1
  ),
  -- Plays without a start, or whose earliest start names a mashup that does not exist (a late
  -- played event can move a play to such a mashup): their fold waits in play_folds, and a summary
  -- they had is dropped (a play counts for its earliest played event's mashup, or not at all).
  missing as (
    select f.* from located f where f.started_at is null or not f.mashup_exists
  ),
  waiting as (
    insert into aggregation.play_folds as t (play_id, started_at, started_event_id, mashup_id, max_position_seconds, ended,
                                             last_event_at)
    select x.play_id, x.started_at, x.started_event_id, x.mashup_id, x.max_pos, x.ended, x.last_at from missing x
    on conflict (play_id) do update set
      started_at = excluded.started_at, started_event_id = excluded.started_event_id, mashup_id = excluded.mashup_id,
      max_position_seconds = excluded.max_position_seconds, ended = excluded.ended,
      last_event_at = greatest(t.last_event_at, excluded.last_event_at)
    returning 1
  ),
  dropped as (
    delete from public.mashup_play_summaries t using missing x
    where t.play_id = x.play_id and x.summarized
    returning t.mashup_id, t.started_at, t.furthest_position_seconds, t.completed
  ),
  moved as (
    -- A changed play leaves its old (mashup, start day, position bucket) and enters the new one.
    insert into aggregation.fold_retention_deltas
      (mashup_id, date, position_bucket_seconds, plays, completed_plays, watch_time_seconds)
    select c.s_mashup_id, (c.s_started_at at time zone 'UTC')::date, (floor(c.s_furthest / 10) * 10)::integer,
           -1, -(c.s_completed::integer), -c.s_furthest
    from changed c where c.summarized
    union all
    select c.mashup_id, (c.started_at at time zone 'UTC')::date, (floor(c.furthest / 10) * 10)::integer,
           1, (c.furthest >= 0.95 * c.duration)::integer, c.furthest
    from changed c
    union all
    select d.mashup_id, (d.started_at at time zone 'UTC')::date, (floor(d.furthest_position_seconds / 10) * 10)::integer,
           -1, -(d.completed::integer), -d.furthest_position_seconds
    from dropped d
    returning 1
  )
  select (select count(*) from inserted) + (select count(*) from updated) + (select count(*) from waiting) + (select count(*) from dropped)
         + (select count(*) from settled) * 0 + (select count(*) from moved) * 0
  into v_n;
  v_rows := v_rows + v_n;

  -- One MERGE, as in fold_counts(): a bucket is inserted only with plays in it, and a bucket a play
  -- moved out of may be left empty: it is deleted after, among the buckets plays left.
  merge into public.mashup_daily_retention as t
  using (
    select r.mashup_id, r.date, r.position_bucket_seconds, sum(r.plays)::integer as plays,
           sum(r.completed_plays)::integer as completed_plays, sum(r.watch_time_seconds) as watch_time_seconds
    from aggregation.fold_retention_deltas r group by 1, 2, 3
    having sum(r.plays) <> 0 or sum(r.completed_plays) <> 0 or sum(r.watch_time_seconds) <> 0
    order by 1, 2, 3
  ) d on t.mashup_id = d.mashup_id and t.date = d.date and t.position_bucket_seconds = d.position_bucket_seconds
  when matched then update set
    plays = t.plays + d.plays, completed_plays = t.completed_plays + d.completed_plays,
    watch_time_seconds = t.watch_time_seconds + d.watch_time_seconds
  when not matched then
    insert (mashup_id, date, position_bucket_seconds, plays, completed_plays, watch_time_seconds)
    values (d.mashup_id, d.date, d.position_bucket_seconds, d.plays, d.completed_plays, d.watch_time_seconds);
  get diagnostics v_n = row_count;
  v_rows := v_rows + v_n;
  delete from public.mashup_daily_retention t
  using (select distinct r.mashup_id, r.date, r.position_bucket_seconds from aggregation.fold_retention_deltas r
         where r.plays < 0) k
  where t.mashup_id = k.mashup_id and t.date = k.date and t.position_bucket_seconds = k.position_bucket_seconds
    and t.plays = 0;

  -- The start days whose plays changed: their avg_watch_time from their retention rows (a few
  -- dozen each), written by fold_counts() together with the day's counts. (Lifetime watch time
  -- and completions come from fold_retention_deltas there too.)
  insert into aggregation.fold_day_averages (mashup_id, date, avg_watch_time)
  select k.mashup_id, k.date,
         (select round(sum(rt.watch_time_seconds) / nullif(sum(rt.plays), 0), 2)
          from public.mashup_daily_retention rt where rt.mashup_id = k.mashup_id and rt.date = k.date)
  from (select distinct r.mashup_id, r.date from aggregation.fold_retention_deltas r) k;
  get diagnostics v_n = row_count;
  return v_rows + v_n;
end;
$$;

create or replace function aggregation.prune_fold_state()
returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_floor timestamptz := (select s.dropped_through from raw_events.settings s);
  v_listeners bigint := 0;
  v_folds bigint := 0;
begin
  if v_floor is not null then
    delete from aggregation.mashup_daily_listeners d where d.date < (v_floor at time zone 'UTC')::date;
    get diagnostics v_listeners = row_count;
    delete from aggregation.play_folds f
    where f.started_at < v_floor or (f.started_at is null and f.last_event_at < v_floor);
    get diagnostics v_folds = row_count;
  end if;
  return jsonb_build_object('dropped_through', v_floor, 'daily_listener_rows', v_listeners, 'play_folds', v_folds);
end;
$$;
comment on function aggregation.prune_fold_state() is
  'Daily: deletes the fold''s per-day listener sets and the folds of summary-less plays (by their start, or '
  'for plays never started by their latest event) from before the latest dropped month''s end '
  '(raw_events.settings.dropped_through): days that take no event again.';
