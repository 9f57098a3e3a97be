-- The 5-minute run waits up to a minute for the aggregation lock instead of trying it once, and
-- refolds the mashups whose duration was edited (20261128000100).
--
-- Found by an outside audit (2026-11-28): run_incremental tried the lock once and logged `skipped`
-- when anything held it. Signed-in users hold it for a moment in their own requests: a follow or an
-- unfollow takes it when it is free to recompute the creator's day (20261126200000; held, the day is
-- queued for `follow-days`), and until 20261128000100 a duration edit waited for it. Enough such
-- requests in a row kept it busy at the one instant the job tried, so the job skipped run after run
-- and every creator's rollups stopped. Now the job waits, up to p_lock_wait (a minute by default),
-- behind whatever holds the lock. PostgreSQL grants a lock to its waiters in order and a request
-- that tries while one waits is refused, so a follow arriving meanwhile queues its day and the job
-- is next; a nightly run or a backfill holding the lock for longer still makes it skip (after the
-- minute) and the next run takes what is queued. p_wait => true waits without a bound (tests,
-- operators), as before.
--
-- The signature gains p_lock_wait (last, with a default): the old function is dropped, the cron
-- command `select aggregation.run_incremental()` and every named-argument call are unchanged. Body
-- as in 20261127000100 but for the lock and the refold call after the fold.

drop function aggregation.run_incremental(interval, interval, interval, timestamptz, text, boolean);

-- The aggregation lock, waited for at most p_timeout (null: without a bound). False when the wait
-- ran out. lock_timeout bounds exactly this wait and is put back at once, so no later statement of
-- the caller's transaction inherits it.
create function aggregation.lock_within(p_timeout interval)
returns boolean
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_previous text := pg_catalog.current_setting('lock_timeout');
begin
  if p_timeout is null then
    return aggregation.lock(true);
  end if;
  if p_timeout <= interval '0' then
    return aggregation.lock(false);
  end if;
  perform pg_catalog.set_config('lock_timeout', (extract(epoch from p_timeout) * 1000)::bigint::text, true);
  begin
    perform aggregation.lock(true);
  exception when lock_not_available then
    perform pg_catalog.set_config('lock_timeout', v_previous, true);
    return false;
  end;
  perform pg_catalog.set_config('lock_timeout', v_previous, true);
  return true;
end;
$$;
comment on function aggregation.lock_within(interval) is
  'The aggregation lock (aggregation.lock), waited for at most p_timeout (null: no bound; zero: one try). '
  'False when the wait ran out.';
revoke all on function aggregation.lock_within(interval) from public, anon, authenticated;
grant execute on function aggregation.lock_within(interval) to service_role;

create function aggregation.run_incremental(
  p_lag interval default '00:00:30'::interval,
  p_overlap interval default '00:10:00'::interval,
  p_max_window interval default '06:00:00'::interval,
  p_until timestamp with time zone default null::timestamp with time zone,
  p_job text default 'incremental'::text,
  p_wait boolean default false,
  p_lock_wait interval default '00:01:00'::interval)
returns bigint
language plpgsql
security invoker
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
begin
  if not aggregation.lock_within(case when p_wait then null else p_lock_wait end) then
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
    v_to := least(now() - p_lag, p_until);
    select min(q.received_at) into v_oldest from aggregation.pending_events q where q.received_at < v_to;
    v_to := least(v_to, v_oldest + p_max_window);

    -- UTC days that ended since the last run join the creator rollups (once a day: one pass over
    -- that day's mashup buckets).
    perform aggregation.close_creator_days();
    perform aggregation.fold_reset();
    with taken as (
      delete from aggregation.pending_events q where q.received_at < v_to returning q.*
    )
    insert into aggregation.fold_batch select * from taken;
    v_stats := aggregation.fold_new_events();
    -- Mashups whose duration a creator edited since the last run: their plays against the new one.
    perform aggregation.run_pending_duration_refolds();

    insert into aggregation.watermarks as w (job, received_through, updated_at)
    values (p_job, greatest(v_to, v_wm), now())
    on conflict (job) do update
      set received_through = greatest(w.received_through, excluded.received_through), updated_at = excluded.updated_at;

    insert into aggregation.runs (job, status, started_at, finished_at, duration_ms, window_start, window_end,
                                  events_read, mashup_days, user_days, plays, mashups, rows_written)
    values (p_job, 'succeeded', v_started, clock_timestamp(),
            round(extract(epoch from clock_timestamp() - v_started) * 1000, 1), v_oldest, v_to,
            (v_stats ->> 'events_read')::bigint, (v_stats ->> 'mashup_days')::integer,
            (v_stats ->> 'user_days')::integer, (v_stats ->> 'plays')::integer, (v_stats ->> 'mashups')::integer,
            (v_stats ->> 'rows_written')::bigint)
    returning id into v_run;
  exception when others or query_canceled then
    -- Everything above is rolled back (the queue's DELETE too): the next run takes the same events.
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
comment on function aggregation.run_incremental(interval, interval, interval, timestamptz, text, boolean, interval) is
  'The 5-minute job: folds the queued events (aggregation.pending_events) received before least(now() - p_lag, '
  'p_until) into every rollup, exactly once, and refolds mashups whose duration was edited; waits up to '
  'p_lock_wait for the aggregation lock (p_wait: without a bound), else logs skipped; logs to aggregation.runs.';
revoke all on function aggregation.run_incremental(interval, interval, interval, timestamptz, text, boolean, interval)
  from public, anon, authenticated;
grant execute on function aggregation.run_incremental(interval, interval, interval, timestamptz, text, boolean, interval)
  to service_role;
