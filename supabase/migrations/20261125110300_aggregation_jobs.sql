-- The jobs: the plan's day functions, the 5-minute incremental run, the nightly run and backfill.
--
--   public.aggregate_mashup_stats(target_date)  the plan's function: every per-mashup rollup of one
--                                               UTC day, recomputed from the raw events
--   public.aggregate_user_stats(target_date)    the plan's function: user_daily_stats of one UTC day
--   aggregation.run_incremental(...)            pg_cron every 5 minutes: what arrived since the last run
--   aggregation.run_nightly(...)                pg_cron 02:00 UTC: finalise yesterday, refresh views
--   call aggregation.backfill(from, to)         a date range, one committed day at a time
--
-- Every run of the last three is logged in aggregation.runs.

create function aggregation.to_uuid(value text)
returns uuid
language sql
immutable
set search_path = ''
as $$
  select case
    when lower(value) ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then lower(value)::uuid
  end
$$;
comment on function aggregation.to_uuid(text) is 'A uuid from text, or null when the text is not one.';

-- One UTC day, every per-mashup rollup ----------------------------------------------------------
create function aggregation.mashup_day(target_date date)
returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_t0 timestamptz := aggregation.day_start(target_date);
  v_t1 timestamptz := aggregation.day_start(target_date + 1);
  v_events bigint;
  v_plays uuid[];
  v_pm uuid[];
  v_pd date[];
  v_m uuid[];
  v_d date[];
  v_mashups uuid[];
  v_rows bigint := 0;
begin
  perform aggregation.lock(true);

  select count(*) into v_events
  from public.analytics_events e
  where e.event_type in ('mashup_played', 'mashup_liked', 'mashup_shared', 'comment_posted', 'mashup_exported',
                         'mashup_play_progress', 'mashup_play_ended')
    and e."timestamp" >= v_t0 and e."timestamp" < v_t1;

  -- Plays with any event that day (a play started the day before may end today).
  select coalesce(array_agg(distinct aggregation.play_id_text(e.properties)::uuid), '{}') into v_plays
  from public.analytics_events e
  where e.event_type in ('mashup_played', 'mashup_play_progress', 'mashup_play_ended')
    and e."timestamp" >= v_t0 and e."timestamp" < v_t1
    and aggregation.play_id_text(e.properties) is not null;
  -- The (mashup, start day) of those plays before and after: their days' watch time changes.
  select coalesce(array_agg(s.mashup_id), '{}'), coalesce(array_agg(aggregation.utc_day(s.started_at)), '{}')
  into v_pm, v_pd
  from public.mashup_play_summaries s where s.play_id = any (v_plays);
  v_rows := v_rows + aggregation.recompute_plays(v_plays);

  select coalesce(array_agg(k.mashup_id), '{}'), coalesce(array_agg(k.day), '{}') into v_m, v_d
  from (
    select e.mashup_id, target_date as day
    from public.analytics_events e
    where e.event_type in ('mashup_played', 'mashup_liked', 'mashup_shared', 'comment_posted', 'mashup_exported')
      and e."timestamp" >= v_t0 and e."timestamp" < v_t1 and e.mashup_id is not null
    union
    select ds.mashup_id, ds.date from public.mashup_daily_stats ds where ds.date = target_date
    union
    select s.mashup_id, aggregation.utc_day(s.started_at)
    from public.mashup_play_summaries s where s.play_id = any (v_plays)
    union
    select u.mashup_id, u.day from unnest(v_pm, v_pd) as u (mashup_id, day)
  ) k;
  v_rows := v_rows + aggregation.recompute_mashup_days(v_m, v_d);
  v_rows := v_rows + aggregation.fold_listeners(null, null, v_t0, v_t1);

  select coalesce(array_agg(distinct x), '{}') into v_mashups from unnest(v_m) as x;
  v_rows := v_rows + aggregation.recompute_lifetime(v_mashups);

  return jsonb_build_object('events_read', v_events, 'mashup_days', cardinality(v_m),
                            'plays', cardinality(v_plays), 'mashups', cardinality(v_mashups),
                            'rows_written', v_rows);
end;
$$;
comment on function aggregation.mashup_day(date) is
  'Recomputes every per-mashup rollup row of one UTC day (and the start days of plays that '
  'spill into it) from the raw events; returns counts for the run log.';

-- One UTC day of user_daily_stats -----------------------------------------------------------------
create function aggregation.user_day(target_date date)
returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_t0 timestamptz := aggregation.day_start(target_date);
  v_t1 timestamptz := aggregation.day_start(target_date + 1);
  v_u uuid[];
  v_rows bigint;
begin
  perform aggregation.lock(true);
  select coalesce(array_agg(k.user_id), '{}') into v_u
  from (
    select m.creator_id as user_id
    from public.mashup_daily_stats ds join public.mashups m on m.id = ds.mashup_id
    where ds.date = target_date
    union
    select e.user_id from public.analytics_events e
    where e.event_type = 'mashup_created' and e."timestamp" >= v_t0 and e."timestamp" < v_t1
    union
    select aggregation.to_uuid(e.properties ->> 'creator_id') from public.analytics_events e
    where e.event_type = 'user_followed' and e."timestamp" >= v_t0 and e."timestamp" < v_t1
    union
    select us.user_id from public.user_daily_stats us where us.date = target_date
  ) k
  where k.user_id is not null;
  v_rows := aggregation.recompute_user_days(v_u, array_fill(target_date, array[cardinality(v_u)]));
  return jsonb_build_object('user_days', cardinality(v_u), 'rows_written', v_rows);
end;
$$;
comment on function aggregation.user_day(date) is
  'Recomputes user_daily_stats of one UTC day for every user with activity that day.';

-- The plan's functions ------------------------------------------------------------------------------
create function public.aggregate_mashup_stats(target_date date)
returns void
language plpgsql
security invoker
set search_path = ''
as $$
begin
  perform aggregation.mashup_day(target_date);
end;
$$;
comment on function public.aggregate_mashup_stats(date) is
  'The plan''s daily aggregation, fixed: the UTC day [target_date, target_date + 1) as a half-open '
  'range, every mashup_daily_stats column, unique listeners including anonymous ones, and the '
  'finer rollups of that day. Idempotent.';

create function public.aggregate_user_stats(target_date date)
returns void
language plpgsql
security invoker
set search_path = ''
as $$
begin
  perform aggregation.user_day(target_date);
end;
$$;
comment on function public.aggregate_user_stats(date) is
  'The plan''s user aggregation: mashups_created, plays_received and followers_gained of one UTC '
  'day. Run after aggregate_mashup_stats for the same day (plays_received reads its rows). Idempotent.';

-- Incremental: every 5 minutes ------------------------------------------------------------------
-- Reads the events received in [watermark - overlap, upper) and recomputes, whole, every key they
-- touch: (mashup, UTC day of the event), the plays they belong to (and those plays' start days),
-- the creators' user days, lifetime rows. A late event for a past day therefore recomputes that
-- past day. Reading an event twice (the overlap) changes nothing, because keys are recomputed
-- from raw events, never incremented.
--
-- upper = least(now() - lag, start of the oldest open transaction that has written, until).
-- received_at defaults to now() (the inserting transaction's start), so a row not yet committed
-- has received_at >= its transaction's start >= upper: no uncommitted row is ever below the new
-- watermark. The overlap additionally covers rows whose received_at was set by a client clock
-- or whose transaction had not yet written when this run looked (up to `overlap` late).
create function aggregation.run_incremental(
  p_lag interval default '30 seconds',
  p_overlap interval default '10 minutes',
  p_max_window interval default '6 hours',
  p_until timestamptz default null,
  p_job text default 'incremental',
  p_wait boolean default false)
returns bigint
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_started timestamptz := clock_timestamp();
  v_wm timestamptz;
  v_base timestamptz;
  v_from timestamptz;
  v_to timestamptz;
  v_oldest timestamptz;
  v_events bigint := 0;
  v_plays uuid[] := '{}'::uuid[];
  v_pm uuid[];
  v_pd date[];
  v_m uuid[] := '{}'::uuid[];
  v_d date[];
  v_u uuid[] := '{}'::uuid[];
  v_ud date[];
  v_mashups uuid[] := '{}'::uuid[];
  v_rows bigint := 0;
  v_run bigint;
  v_err text;
  v_ctx text;
begin
  if not aggregation.lock(p_wait) then
    insert into aggregation.runs (job, status, started_at, finished_at, duration_ms, error)
    values (p_job, 'skipped', v_started, clock_timestamp(),
            round(extract(epoch from clock_timestamp() - v_started) * 1000, 1),
            'another aggregation run held the lock; the next run reads this window')
    returning id into v_run;
    return v_run;
  end if;

  begin
    select w.received_through into v_wm from aggregation.watermarks w where w.job = p_job;

    select min(a.xact_start) into v_oldest
    from pg_catalog.pg_stat_activity a
    where a.backend_xid is not null and a.pid <> pg_catalog.pg_backend_pid()
      and a.datname = pg_catalog.current_database();
    v_to := least(now() - p_lag, v_oldest, p_until);

    if v_wm is null then
      -- Never ran: start at the first event (a backfill normally sets the watermark first).
      select min(e.received_at) into v_base from public.analytics_events e;
      v_base := coalesce(v_base, v_to);
      v_from := v_base;
    else
      v_base := v_wm;
      v_from := v_wm - p_overlap;
    end if;
    -- Catch up in bounded steps after an outage.
    v_to := least(v_to, v_base + p_max_window);

    if v_to > v_from then
      select count(*) into v_events
      from public.analytics_events e where e.received_at >= v_from and e.received_at < v_to;

      select coalesce(array_agg(distinct aggregation.play_id_text(e.properties)::uuid), '{}') into v_plays
      from public.analytics_events e
      where e.received_at >= v_from and e.received_at < v_to
        and e.event_type in ('mashup_played', 'mashup_play_progress', 'mashup_play_ended')
        and aggregation.play_id_text(e.properties) is not null;
      select coalesce(array_agg(s.mashup_id), '{}'), coalesce(array_agg(aggregation.utc_day(s.started_at)), '{}')
      into v_pm, v_pd
      from public.mashup_play_summaries s where s.play_id = any (v_plays);
      v_rows := v_rows + aggregation.recompute_plays(v_plays);

      select coalesce(array_agg(k.mashup_id), '{}'), coalesce(array_agg(k.day), '{}') into v_m, v_d
      from (
        select e.mashup_id, aggregation.utc_day(e."timestamp") as day
        from public.analytics_events e
        where e.received_at >= v_from and e.received_at < v_to and e.mashup_id is not null
          and e.event_type in ('mashup_played', 'mashup_liked', 'mashup_shared', 'comment_posted', 'mashup_exported')
        union
        select s.mashup_id, aggregation.utc_day(s.started_at)
        from public.mashup_play_summaries s where s.play_id = any (v_plays)
        union
        select u.mashup_id, u.day from unnest(v_pm, v_pd) as u (mashup_id, day)
      ) k;
      v_rows := v_rows + aggregation.recompute_mashup_days(v_m, v_d);
      v_rows := v_rows + aggregation.fold_listeners(v_from, v_to, null, null);

      select coalesce(array_agg(distinct x), '{}') into v_mashups from unnest(v_m) as x;
      v_rows := v_rows + aggregation.recompute_lifetime(v_mashups);

      select coalesce(array_agg(k.user_id), '{}'), coalesce(array_agg(k.day), '{}') into v_u, v_ud
      from (
        select m.creator_id as user_id, u.day
        from unnest(v_m, v_d) as u (mashup_id, day) join public.mashups m on m.id = u.mashup_id
        union
        select e.user_id, aggregation.utc_day(e."timestamp")
        from public.analytics_events e
        where e.received_at >= v_from and e.received_at < v_to and e.event_type = 'mashup_created'
        union
        select aggregation.to_uuid(e.properties ->> 'creator_id'), aggregation.utc_day(e."timestamp")
        from public.analytics_events e
        where e.received_at >= v_from and e.received_at < v_to and e.event_type = 'user_followed'
      ) k
      where k.user_id is not null;
      v_rows := v_rows + aggregation.recompute_user_days(v_u, v_ud);
    end if;

    insert into aggregation.watermarks as w (job, received_through, updated_at)
    values (p_job, greatest(v_to, v_wm), now())
    on conflict (job) do update
      set received_through = greatest(w.received_through, excluded.received_through), updated_at = excluded.updated_at;

    insert into aggregation.runs (job, status, started_at, finished_at, duration_ms, window_start, window_end,
                                  events_read, mashup_days, user_days, plays, mashups, rows_written)
    values (p_job, 'succeeded', v_started, clock_timestamp(),
            round(extract(epoch from clock_timestamp() - v_started) * 1000, 1), v_from, v_to,
            v_events, cardinality(v_m), cardinality(v_u), cardinality(v_plays), cardinality(v_mashups), v_rows)
    returning id into v_run;
  exception when others or query_canceled then
    -- Everything above is rolled back (the watermark too); record why, so the operator sees it
    -- and the next run reads the same window again.
    get stacked diagnostics v_err = message_text, v_ctx = pg_exception_context;
    insert into aggregation.runs (job, status, started_at, finished_at, duration_ms, window_start, window_end, error)
    values (p_job, 'failed', v_started, clock_timestamp(),
            round(extract(epoch from clock_timestamp() - v_started) * 1000, 1), v_from, v_to,
            v_err || coalesce(E'\n' || v_ctx, ''))
    returning id into v_run;
  end;
  return v_run;
end;
$$;
comment on function aggregation.run_incremental(interval, interval, interval, timestamptz, text, boolean) is
  'The 5-minute job: folds in the events received since the last run (with an overlap), '
  'recomputing every key they touch; logs to aggregation.runs; returns the run id.';

-- Nightly: finalise yesterday -------------------------------------------------------------------
create function aggregation.run_nightly(p_date date default null)
returns bigint
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_started timestamptz := clock_timestamp();
  v_day date := coalesce(p_date, aggregation.utc_day(now()) - 1);
  v_m jsonb;
  v_u jsonb;
  v_run bigint;
  v_err text;
  v_ctx text;
begin
  perform aggregation.lock(true);
  begin
    -- The plan's three steps, in its order.
    v_m := aggregation.mashup_day(v_day);
    v_u := aggregation.user_day(v_day);
    perform public.refresh_materialized_views();
    insert into aggregation.runs (job, status, started_at, finished_at, duration_ms, window_start, window_end,
                                  events_read, mashup_days, user_days, plays, mashups, rows_written)
    values ('nightly', 'succeeded', v_started, clock_timestamp(),
            round(extract(epoch from clock_timestamp() - v_started) * 1000, 1),
            aggregation.day_start(v_day), aggregation.day_start(v_day + 1),
            (v_m ->> 'events_read')::bigint, (v_m ->> 'mashup_days')::integer, (v_u ->> 'user_days')::integer,
            (v_m ->> 'plays')::integer, (v_m ->> 'mashups')::integer,
            (v_m ->> 'rows_written')::bigint + (v_u ->> 'rows_written')::bigint)
    returning id into v_run;
  exception when others or query_canceled then
    get stacked diagnostics v_err = message_text, v_ctx = pg_exception_context;
    insert into aggregation.runs (job, status, started_at, finished_at, duration_ms, window_start, window_end, error)
    values ('nightly', 'failed', v_started, clock_timestamp(),
            round(extract(epoch from clock_timestamp() - v_started) * 1000, 1),
            aggregation.day_start(v_day), aggregation.day_start(v_day + 1), v_err || coalesce(E'\n' || v_ctx, ''))
    returning id into v_run;
  end;
  return v_run;
end;
$$;
comment on function aggregation.run_nightly(date) is
  'The 02:00 UTC job: recomputes yesterday (or p_date) whole, user stats, refreshes the '
  'materialized views; logs to aggregation.runs; returns the run id.';

-- Backfill: a date range, one committed day at a time ---------------------------------------------
-- A procedure so it can COMMIT after each day: progress in aggregation.backfills is visible to
-- other sessions while it runs, a failure keeps the days already done, and locks are held one day
-- at a time. (A procedure that commits cannot carry SET search_path; every name is qualified.)
create procedure aggregation.backfill(p_from date, p_to date)
language plpgsql
as $$
declare
  v_id bigint;
  v_started timestamptz := clock_timestamp();
  v_day date := p_from;
  v_m jsonb;
  v_u jsonb;
  v_err text;
  v_events bigint := 0;
  v_mashup_days integer := 0;
  v_user_days integer := 0;
  v_plays integer := 0;
  v_rows bigint := 0;
begin
  if p_from is null or p_to is null or p_to <= p_from then
    raise exception 'backfill needs p_from < p_to (half-open [p_from, p_to)), got [%, %)', p_from, p_to;
  end if;
  insert into aggregation.backfills (from_date, to_date, status, days_total, started_at, updated_at)
  values (p_from, p_to, 'running', p_to - p_from, v_started, v_started)
  returning id into v_id;
  commit;

  while v_day < p_to loop
    v_err := null;
    begin
      v_m := aggregation.mashup_day(v_day);
      v_u := aggregation.user_day(v_day);
    exception when others or query_canceled then
      get stacked diagnostics v_err = message_text;
    end;
    if v_err is not null then
      update aggregation.backfills
      set status = 'failed', error = v_day || ': ' || v_err, updated_at = clock_timestamp(),
          finished_at = clock_timestamp()
      where id = v_id;
      insert into aggregation.runs (job, status, started_at, finished_at, duration_ms, window_start, window_end,
                                    events_read, mashup_days, user_days, plays, rows_written, error)
      values ('backfill', 'failed', v_started, clock_timestamp(),
              round(extract(epoch from clock_timestamp() - v_started) * 1000, 1),
              aggregation.day_start(p_from), aggregation.day_start(p_to),
              v_events, v_mashup_days, v_user_days, v_plays, v_rows, v_day || ': ' || v_err);
      commit;
      raise exception 'backfill % failed on %: % (days before it are committed)', v_id, v_day, v_err;
    end if;
    v_events := v_events + (v_m ->> 'events_read')::bigint;
    v_mashup_days := v_mashup_days + (v_m ->> 'mashup_days')::integer;
    v_user_days := v_user_days + (v_u ->> 'user_days')::integer;
    v_plays := v_plays + (v_m ->> 'plays')::integer;
    v_rows := v_rows + (v_m ->> 'rows_written')::bigint + (v_u ->> 'rows_written')::bigint;
    update aggregation.backfills
    set days_done = days_done + 1, last_day = v_day, updated_at = clock_timestamp()
    where id = v_id;
    raise notice 'backfill %: % done (% of % days), % events, % mashup days, % rows written',
      v_id, v_day, v_day - p_from + 1, p_to - p_from, (v_m ->> 'events_read'), (v_m ->> 'mashup_days'),
      (v_m ->> 'rows_written')::bigint + (v_u ->> 'rows_written')::bigint;
    commit;
    v_day := v_day + 1;
  end loop;

  perform public.refresh_materialized_views();
  -- A fresh database: let the incremental job start where this backfill started.
  insert into aggregation.watermarks (job, received_through, updated_at)
  values ('incremental', v_started, clock_timestamp())
  on conflict (job) do nothing;
  update aggregation.backfills
  set status = 'succeeded', updated_at = clock_timestamp(), finished_at = clock_timestamp()
  where id = v_id;
  insert into aggregation.runs (job, status, started_at, finished_at, duration_ms, window_start, window_end,
                                events_read, mashup_days, user_days, plays, rows_written)
  values ('backfill', 'succeeded', v_started, clock_timestamp(),
          round(extract(epoch from clock_timestamp() - v_started) * 1000, 1),
          aggregation.day_start(p_from), aggregation.day_start(p_to),
          v_events, v_mashup_days, v_user_days, v_plays, v_rows);
  commit;
end;
$$;
comment on procedure aggregation.backfill(date, date) is
  'Recomputes every rollup for the UTC days [p_from, p_to), committing after each day; progress '
  'in aggregation.backfills and a NOTICE per day. Run outside a transaction block: '
  'call aggregation.backfill(''2026-01-01'', ''2026-02-01'').';

revoke all on function aggregation.to_uuid(text), aggregation.mashup_day(date), aggregation.user_day(date),
  aggregation.run_incremental(interval, interval, interval, timestamptz, text, boolean),
  aggregation.run_nightly(date) from public, anon, authenticated;
revoke all on procedure aggregation.backfill(date, date) from public, anon, authenticated;
grant execute on function aggregation.to_uuid(text), aggregation.mashup_day(date), aggregation.user_day(date),
  aggregation.run_incremental(interval, interval, interval, timestamptz, text, boolean),
  aggregation.run_nightly(date) to service_role;
grant execute on procedure aggregation.backfill(date, date) to service_role;

revoke all on function public.aggregate_mashup_stats(date), public.aggregate_user_stats(date)
  from public, anon, authenticated;
grant execute on function public.aggregate_mashup_stats(date), public.aggregate_user_stats(date) to service_role;
