-- The fold queue in three slots: a run empties whole slots with TRUNCATE instead of deleting its rows.
--
-- Until now a run took its batch with `DELETE FROM aggregation.pending_events ... RETURNING`: every
-- queued event cost a deleted tuple (its WAL record, later its vacuum) besides the scan for the
-- oldest one. Measured on a ~50k-event run of bench/generate's mix: 100-130 ms of ~1,100 ms.
--
-- Now `aggregation.pending_events` is a parent partitioned by `slot` with three partitions. The
-- trigger writes each statement's events into the slot that is filling, read from a sequence
-- (`aggregation.pending_events_slot`: its last value mod 3; a sequence because the switch must be
-- seen by every session at once, not at the run's commit). A run (`aggregation.take_queue_slots()`):
--   1. switches the filling slot to the next one (`nextval`): new events go there from now on;
--   2. takes each of the two other slots: locks it (ACCESS EXCLUSIVE), which waits for the
--      transactions still writing into it, so the run takes every event of the slot once they
--      commit and none that could still roll back; copies it into the run's batch; empties it with
--      TRUNCATE;
--   3. puts back (into the filling slot) the events outside its window (p_lag, p_until,
--      p_max_window: the window is unchanged), which a later run takes.
-- So a run takes every event stored before it started, whichever slot holds it: the one that was
-- filling, and the one before it, which holds what a failed run left (its TRUNCATE rolled back with
-- it, not its switch: sequences are not transactional) and what a statement wrote after a run had
-- emptied it (it read the slot number just before that run's switch). The slot that becomes filling
-- is never locked by the run, so storing events never waits for a run. Every event in any slot is
-- folded exactly once: a slot is only emptied by the run that copied it, in one transaction. The fold
-- is order-free (counts add, sets insert, plays fold by min/max/or), so an event folded a run later
-- counts the same. After a crash the sequence may resume up to 32 values ahead (PostgreSQL logs
-- sequences ahead), which can move the filling slot without a run: nothing is lost, since a run takes
-- every slot but the one it makes filling.
--
-- Everything else reads and deletes through the parent (day rebuilds, erasure, is_final), so every
-- slot counts as queued, as before.

create sequence aggregation.pending_events_slot minvalue 0 start 0;
-- is_called: the first nextval returns 1 (a switch), not the start value again.
select setval('aggregation.pending_events_slot', 0, true);
comment on sequence aggregation.pending_events_slot is
  'The fold queue''s filling slot is last_value % 3; run_incremental switches it with nextval.';

alter table aggregation.pending_events rename to pending_events_unsplit;

create table aggregation.pending_events (
  id uuid not null,
  event_type text not null,
  "timestamp" timestamptz not null,
  received_at timestamptz not null,
  mashup_id uuid,
  listener_key text,
  user_id uuid,
  source text,
  country text,
  device text,
  play_id uuid,
  position_seconds numeric,
  creator_id uuid,
  slot smallint not null
) partition by list (slot);
create table aggregation.pending_events_slot0 partition of aggregation.pending_events for values in (0);
create table aggregation.pending_events_slot1 partition of aggregation.pending_events for values in (1);
create table aggregation.pending_events_slot2 partition of aggregation.pending_events for values in (2);
comment on table aggregation.pending_events is
  'Raw events inserted but not yet folded into the rollups (fed by a trigger on analytics_events, '
  'consumed by run_incremental and by the day rebuilds), in three slots: a run empties every slot but '
  'the one it makes filling. Holds listener keys until folded.';

-- What was queued before the upgrade: into slot 0, which the next run takes (the sequence says 0
-- is filling, so the run switches to 1 and empties 0 and 2).
insert into aggregation.pending_events
  (id, event_type, "timestamp", received_at, mashup_id, listener_key, user_id, source, country, device,
   play_id, position_seconds, creator_id, slot)
select q.id, q.event_type, q."timestamp", q.received_at, q.mashup_id, q.listener_key, q.user_id, q.source,
       q.country, q.device, q.play_id, q.position_seconds, q.creator_id, 0
from aggregation.pending_events_unsplit q;
drop table aggregation.pending_events_unsplit;

revoke all on table aggregation.pending_events, aggregation.pending_events_slot0, aggregation.pending_events_slot1,
  aggregation.pending_events_slot2 from public, anon, authenticated;
revoke all on sequence aggregation.pending_events_slot from public, anon, authenticated;
-- The trigger runs as the role that stores the events, and writes into a slot directly.
grant insert, select, delete on table aggregation.pending_events, aggregation.pending_events_slot0,
  aggregation.pending_events_slot1, aggregation.pending_events_slot2 to service_role;
grant select on sequence aggregation.pending_events_slot to service_role;
-- A run as service_role (the jobs may be called over RPC) switches and empties a slot.
grant usage on sequence aggregation.pending_events_slot to service_role;
grant truncate on table aggregation.pending_events_slot0, aggregation.pending_events_slot1,
  aggregation.pending_events_slot2 to service_role;

create or replace function aggregation.enqueue_events()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_slot smallint := (select s.last_value from aggregation.pending_events_slot s) % 3;
begin
  -- Straight into the filling slot's table (no tuple routing per row); the transition table is
  -- visible to the dynamic statement.
  execute format(
    'insert into aggregation.%I
       (id, event_type, "timestamp", received_at, mashup_id, listener_key, user_id, source, country, device,
        play_id, position_seconds, creator_id, slot)
     select f.id, f.event_type, f."timestamp", f.received_at, f.mashup_id, f.listener_key, f.user_id, f.source,
            f.country, f.device, f.play_id, f.position_seconds, f.creator_id, %s
     from new_rows n
     cross join lateral aggregation.fold_columns(n) f
     where n.event_code in (''a'', ''b'', ''c'', ''d'', ''e'', ''i'', ''f'', ''g'', ''j'')',
    'pending_events_slot' || v_slot, v_slot);
  return null;
end;
$$;

-- Switch the filling slot and move the two other slots into aggregation.fold_batch, emptied.
-- Returns the slots it could not take. Run under aggregation.lock() (one run at a time).
-- A slot that a transaction still keeps half a second after the switch is left for the next run:
-- the run holds aggregation.lock() meanwhile, and that transaction may be waiting for it (a script
-- or a test that stores events and then runs a job in the same transaction). Half a second is under
-- PostgreSQL's deadlock_timeout (1 s), so the run gives up before any deadlock check could pick the
-- other transaction as the victim. (Storing a batch takes milliseconds: the wait is normally that.)
create function aggregation.take_queue_slots()
returns smallint[]
language plpgsql
security invoker
set search_path = ''
set lock_timeout = '500ms'
as $$
declare
  v_filling smallint := nextval('aggregation.pending_events_slot') % 3;
  v_slot smallint;
  v_left smallint[] := '{}'::smallint[];
begin
  foreach v_slot in array array[(v_filling + 1) % 3, (v_filling + 2) % 3]::smallint[] loop
    begin
      -- Waits for the transactions still writing into the slot: every event it holds is taken
      -- once they commit, none that could still roll back.
      execute format('lock table aggregation.%I in access exclusive mode', 'pending_events_slot' || v_slot);
    exception when lock_not_available then
      v_left := v_left || v_slot;
      continue;
    end;
    execute format(
      'insert into aggregation.fold_batch
         (id, event_type, "timestamp", received_at, mashup_id, listener_key, user_id, source, country, device,
          play_id, position_seconds, creator_id)
       select q.id, q.event_type, q."timestamp", q.received_at, q.mashup_id, q.listener_key, q.user_id, q.source,
              q.country, q.device, q.play_id, q.position_seconds, q.creator_id
       from aggregation.%I q', 'pending_events_slot' || v_slot);
    execute format('truncate aggregation.%I', 'pending_events_slot' || v_slot);
  end loop;
  return v_left;
end;
$$;
revoke all on function aggregation.take_queue_slots() from public, anon, authenticated;
grant execute on function aggregation.take_queue_slots() to service_role;

create or replace function aggregation.run_incremental(
  p_lag interval default interval '30 seconds',
  p_overlap interval default interval '10 minutes',
  p_max_window interval default interval '6 hours',
  p_until timestamptz default null,
  p_job text default 'incremental',
  p_wait boolean default false
)
returns bigint
language plpgsql
set search_path = ''
set plan_cache_mode = force_custom_plan
as $$
declare
  v_started timestamptz := clock_timestamp();
  v_wm timestamptz;
  v_oldest timestamptz;
  v_to timestamptz;
  v_stats jsonb := '{}'::jsonb;
  v_run bigint;
  v_err text;
  v_ctx text;
  v_left smallint[];
begin
  if not aggregation.lock(p_wait) then
    insert into aggregation.runs (job, status, started_at, finished_at, duration_ms, error)
    values (p_job, 'skipped', v_started, clock_timestamp(),
            round(extract(epoch from clock_timestamp() - v_started) * 1000, 1),
            'another aggregation run held the lock; the next run takes what is queued')
    returning id into v_run;
    return v_run;
  end if;

  begin
    -- p_overlap is not needed any more (nothing is re-read); a negative one was never valid.
    if p_overlap < interval '0' then
      raise exception 'p_overlap must not be negative' using errcode = '22023';
    end if;
    select w.received_through into v_wm from aggregation.watermarks w where w.job = p_job;

    perform aggregation.fold_reset();
    v_left := aggregation.take_queue_slots();
    -- The window, as before: received before least(now() - p_lag, p_until), at most p_max_window
    -- after the oldest. What the slots held past it goes back to the queue for a later run.
    select min(b.received_at) into v_oldest from aggregation.fold_batch b;
    v_to := least(now() - p_lag, p_until, v_oldest + p_max_window);
    with back as (
      delete from aggregation.fold_batch b where b.received_at >= v_to returning b.*
    )
    insert into aggregation.pending_events
      (id, event_type, "timestamp", received_at, mashup_id, listener_key, user_id, source, country, device,
       play_id, position_seconds, creator_id, slot)
    select k.id, k.event_type, k."timestamp", k.received_at, k.mashup_id, k.listener_key, k.user_id, k.source,
           k.country, k.device, k.play_id, k.position_seconds, k.creator_id,
           (select s.last_value from aggregation.pending_events_slot s) % 3
    from back k;
    v_stats := aggregation.fold_new_events();

    insert into aggregation.watermarks as w (job, received_through, updated_at)
    values (p_job, greatest(v_to, v_wm), now())
    on conflict (job) do update
      set received_through = greatest(w.received_through, excluded.received_through), updated_at = excluded.updated_at;

    insert into aggregation.runs (job, status, started_at, finished_at, duration_ms, window_start, window_end,
                                  events_read, mashup_days, user_days, plays, mashups, rows_written, error)
    values (p_job, 'succeeded', v_started, clock_timestamp(),
            round(extract(epoch from clock_timestamp() - v_started) * 1000, 1), v_oldest, v_to,
            (v_stats ->> 'events_read')::bigint, (v_stats ->> 'mashup_days')::integer,
            (v_stats ->> 'user_days')::integer, (v_stats ->> 'plays')::integer, (v_stats ->> 'mashups')::integer,
            (v_stats ->> 'rows_written')::bigint,
            -- (Not a failure: what those slots hold is the next run's.)
            case when cardinality(v_left) > 0 then
              format('queue slot %s kept by a transaction for more than 0.5 s: left for the next run',
                     array_to_string(v_left, ', ')) end)
    returning id into v_run;
  exception when others or query_canceled then
    -- Everything above is rolled back (the slots' TRUNCATE too): the next run takes the same events.
    get stacked diagnostics v_err = message_text, v_ctx = pg_exception_context;
    insert into aggregation.runs (job, status, started_at, finished_at, duration_ms, window_start, window_end, error)
    values (p_job, 'failed', v_started, clock_timestamp(),
            round(extract(epoch from clock_timestamp() - v_started) * 1000, 1), v_oldest, v_to,
            v_err || coalesce(E'\n' || v_ctx, ''))
    returning id into v_run;
  end;
  return v_run;
end;
$$;

-- The day's queued events of some types (aggregate_mashup_stats / aggregate_user_stats): from every
-- slot, through the parent, as before; the columns named now that the queue has `slot`.
create or replace function aggregation.fold_day_pending(p_day date, p_types text[])
returns jsonb
language plpgsql
set search_path = ''
set plan_cache_mode = force_custom_plan
as $$
declare
  v_t0 timestamptz := aggregation.day_start(p_day);
  v_t1 timestamptz := aggregation.day_start(p_day + 1);
  v_result jsonb;
begin
  perform aggregation.lock(true);
  perform aggregation.fold_reset();
  with taken as (
    delete from aggregation.pending_events q
    where q."timestamp" >= v_t0 and q."timestamp" < v_t1 and q.event_type = any (p_types)
    returning q.id, q.event_type, q."timestamp", q.received_at, q.mashup_id, q.listener_key, q.user_id, q.source,
              q.country, q.device, q.play_id, q.position_seconds, q.creator_id
  )
  insert into aggregation.fold_batch
    (id, event_type, "timestamp", received_at, mashup_id, listener_key, user_id, source, country, device,
     play_id, position_seconds, creator_id)
  select t.id, t.event_type, t."timestamp", t.received_at, t.mashup_id, t.listener_key, t.user_id, t.source,
         t.country, t.device, t.play_id, t.position_seconds, t.creator_id
  from taken t;
  v_result := aggregation.fold_new_events();
  return v_result;
end;
$$;
