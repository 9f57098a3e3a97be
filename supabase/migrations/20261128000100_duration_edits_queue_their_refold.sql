-- A creator's duration edit no longer takes the aggregation lock; the next run refolds the mashup.
--
-- Found by an outside audit (2026-11-28, hostile PostgREST client): the statement trigger of
-- 20261126170100 waited for the aggregation lock inside the creator's own request and then refolded
-- every play of the mashup while holding it. The 5-minute job only tries the lock, so eight loops of
-- `PATCH /rest/v1/mashups?id=eq.<own mashup> {"duration_seconds": 60|61}` (~340 requests/s) kept it
-- busy in 38 of 40 checks, and `aggregation.runs` logged the scheduled run as `skipped`: any signed-in
-- creator could stop the platform's rollups for everyone, and a mashup with a million plays made
-- each edit hold the lock for seconds.
--
-- Now the trigger only queues the mashup (aggregation.pending_duration_refolds, one row per mashup
-- however many edits: coalesced), and every run of the incremental job refolds the queued mashups
-- against their current duration under the lock it already holds (aggregation.refold_durations: the
-- same statements as before). An edit commits at once and costs its request nothing; the dashboards
-- show the new cap and completion from the next run (within five minutes, as for new events). A
-- fold between the edit and the refold reads the new duration for the plays it touches; the refold
-- then corrects the plays it did not. run_incremental (restated from 20261126020300, one call added)
-- also waits a bounded time for the lock instead of trying once: see
-- 20261128000200_incremental_waits_for_short_lock_holders.sql.

create table aggregation.pending_duration_refolds (
  mashup_id uuid primary key references public.mashups (id) on delete cascade,
  queued_at timestamptz not null default now()
);
alter table aggregation.pending_duration_refolds enable row level security;
revoke all on table aggregation.pending_duration_refolds from public, anon, authenticated;
grant select, delete on table aggregation.pending_duration_refolds to service_role;
comment on table aggregation.pending_duration_refolds is
  'Mashups whose duration_seconds changed since the last run: the next aggregation.run_incremental refolds their '
  'plays against the current duration (aggregation.run_pending_duration_refolds). One row per mashup.';

-- The refold itself, as the trigger of 20261126170100 ran it; the caller holds the aggregation lock.
create function aggregation.refold_durations(p_ids uuid[])
returns void
language plpgsql
security invoker
set search_path = ''
as $$
begin
  update public.mashup_play_summaries s
  set duration_seconds = f.duration, furthest_position_seconds = f.furthest, completed = f.furthest >= 0.95 * f.duration
  from (
    select p.play_id, m.duration_seconds as duration,
           least(greatest(coalesce(p.max_position_seconds, p.furthest_position_seconds, 0), 0), m.duration_seconds) as furthest
    from public.mashups m
    join public.mashup_play_summaries p on p.mashup_id = m.id
    where m.id = any (p_ids)
  ) f
  where s.play_id = f.play_id
    and (s.duration_seconds, s.furthest_position_seconds, s.completed)
        is distinct from (f.duration, f.furthest, f.furthest >= 0.95 * f.duration);

  delete from public.mashup_daily_retention r where r.mashup_id = any (p_ids);
  insert into public.mashup_daily_retention
    (mashup_id, date, position_bucket_seconds, plays, completed_plays, watch_time_seconds)
  select s.mashup_id, (s.started_at at time zone 'UTC')::date, (floor(s.furthest_position_seconds / 10) * 10)::integer,
         count(*), count(*) filter (where s.completed), sum(s.furthest_position_seconds)
  from public.mashup_play_summaries s
  where s.mashup_id = any (p_ids)
  group by 1, 2, 3;

  update public.mashup_lifetime_stats l
  set (tracked_plays, completed_plays, watch_time_seconds, avg_watch_time) = (
    select count(*), count(*) filter (where s.completed), coalesce(sum(s.furthest_position_seconds), 0),
           round(sum(s.furthest_position_seconds) / nullif(count(*), 0), 2)
    from public.mashup_play_summaries s where s.mashup_id = l.mashup_id)
  where l.mashup_id = any (p_ids);

  update public.mashup_daily_stats d
  set avg_watch_time = a.avg_watch_time
  from (select r.mashup_id, r.date, round(sum(r.watch_time_seconds) / nullif(sum(r.plays), 0), 2) as avg_watch_time
        from public.mashup_daily_retention r where r.mashup_id = any (p_ids) group by 1, 2) a
  where d.mashup_id = a.mashup_id and d.date = a.date and d.avg_watch_time is distinct from a.avg_watch_time;
end;
$$;
comment on function aggregation.refold_durations(uuid[]) is
  'Caps and completes the plays of these mashups against their current duration (summaries, retention, lifetime '
  'watch time and completions, daily average). The caller holds the aggregation lock.';
revoke all on function aggregation.refold_durations(uuid[]) from public, anon, authenticated;
grant execute on function aggregation.refold_durations(uuid[]) to service_role;

create function aggregation.run_pending_duration_refolds()
returns integer
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_ids uuid[];
begin
  if not exists (select 1 from aggregation.pending_duration_refolds) then
    return 0;
  end if;
  perform aggregation.lock(true); -- held already by the job that calls this; a no-op then
  with taken as (delete from aggregation.pending_duration_refolds q where true returning q.mashup_id) -- the whole queue
  select coalesce(array_agg(t.mashup_id), '{}') into v_ids from taken t;
  perform aggregation.refold_durations(v_ids);
  return cardinality(v_ids);
end;
$$;
comment on function aggregation.run_pending_duration_refolds() is
  'Refolds the mashups whose duration was edited since the last run (aggregation.pending_duration_refolds) and '
  'empties the queue; returns how many. Called by every incremental run, under its lock.';
revoke all on function aggregation.run_pending_duration_refolds() from public, anon, authenticated;
grant execute on function aggregation.run_pending_duration_refolds() to service_role;

-- The trigger: queue, never lock. SECURITY DEFINER as before: the editing creator cannot write
-- the queue; it queues exactly the mashups whose duration the statement changed.
create or replace function aggregation.refold_edited_durations()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into aggregation.pending_duration_refolds (mashup_id)
  select n.id from new_rows n join old_rows o on o.id = n.id
  where n.duration_seconds is distinct from o.duration_seconds
  on conflict (mashup_id) do nothing;
  return null;
end;
$$;
comment on function aggregation.refold_edited_durations() is
  'After an update of mashups: queues the mashups whose duration changed for the next incremental run, which '
  'refolds their plays against the new duration (it takes no lock: an edit never holds up the jobs).';
revoke all on function aggregation.refold_edited_durations() from public, anon, authenticated;
