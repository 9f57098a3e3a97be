-- The jobs on top of the fold (same names, signatures, schedules and run log as before):
--
--   aggregation.run_incremental(...)  every 5 minutes: takes the queue (what arrived) and folds it.
--                                     Cost: the events taken, nothing else.
--   aggregation.mashup_day(d)         backfill, the upgrade and repairs: make UTC day d exact from
--   aggregation.user_day(d)           its raw events, one set-based pass over that day (cost: the
--                                     day's events). (The plan's day functions and the nightly job
--                                     fold the day's queued events: 20261126020450.)
--   aggregation.is_final(before)      for retention (issue 11): nothing before `before` is pending.
--
-- How a day rebuild and the queue agree on what is counted: one statement takes the day's queue
-- rows out and copies the day's raw events into the batch. Both parts see the same snapshot, and a
-- raw row and its queue row commit together, so the batch holds exactly the events whose queue rows
-- were taken; an event committing later keeps its queue row and the next incremental run folds it.
-- Every event is counted once, by exactly one of the two. (Under aggregation.lock() nothing else
-- consumes the queue meanwhile.)

create or replace function aggregation.mashup_day(target_date date)
returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_t0 timestamptz := aggregation.day_start(target_date);
  v_t1 timestamptz := aggregation.day_start(target_date + 1);
  v_rows bigint := 0;
  v_events bigint;
  v_result jsonb;
begin
  perform aggregation.lock(true);
  perform aggregation.fold_reset();

  -- A day whose raw events are gone (a dropped partition) while its rollups remain: refuse to
  -- zero it. Lifetime numbers must not depend on raw rows still existing.
  if not exists (select 1 from public.analytics_events e where e."timestamp" >= v_t0 and e."timestamp" < v_t1)
     and exists (select 1 from public.mashup_daily_stats d where d.date = target_date) then
    raise notice 'aggregate_mashup_stats(%): no raw events left for that day; its rollups are kept as they are',
      target_date;
    return jsonb_build_object('events_read', 0, 'mashup_days', 0, 'plays', 0, 'mashups', 0, 'rows_written', 0,
                              'skipped', 'no raw events');
  end if;

  -- One statement, so one snapshot: the day's raw events it reads are exactly those whose queue
  -- rows it takes out (a raw row and its queue row commit together). Events committing later stay
  -- queued for the next incremental run.
  with taken as (
    delete from aggregation.pending_events q
    where q."timestamp" >= v_t0 and q."timestamp" < v_t1
      and q.event_type in ('mashup_played', 'mashup_play_progress', 'mashup_play_ended', 'mashup_liked',
                           'mashup_shared', 'comment_posted', 'mashup_exported')
    returning 1
  )
  insert into aggregation.fold_batch
  select r.* from aggregation.raw_events_for_fold r
  where r."timestamp" >= v_t0 and r."timestamp" < v_t1
    and r.event_type in ('mashup_played', 'mashup_play_progress', 'mashup_play_ended', 'mashup_liked',
                         'mashup_shared', 'comment_posted', 'mashup_exported');
  get diagnostics v_events = row_count;
  analyze aggregation.fold_batch;

  -- The day's buckets: what the raw events say now minus what the rows hold.
  with n as (
    select b.mashup_id, date_bin('15 minutes'::interval, b."timestamp", '2000-01-01 00:00:00+00'::timestamptz) as bucket_start,
           count(*) filter (where b.event_type = 'mashup_played')::integer as plays,
           count(*) filter (where b.event_type = 'mashup_liked')::integer as likes,
           count(*) filter (where b.event_type = 'mashup_shared')::integer as shares,
           count(*) filter (where b.event_type = 'comment_posted')::integer as comments,
           count(*) filter (where b.event_type = 'mashup_exported')::integer as downloads
    from aggregation.fold_batch b
    where b.event_type in ('mashup_played', 'mashup_liked', 'mashup_shared', 'comment_posted', 'mashup_exported')
      and exists (select 1 from public.mashups m where m.id = b.mashup_id)
    group by 1, 2
  ),
  o as (
    select q.mashup_id, q.bucket_start, q.plays, q.likes, q.shares, q.comments, q.downloads
    from public.mashup_quarter_hour_stats q where q.bucket_start >= v_t0 and q.bucket_start < v_t1
  )
  insert into aggregation.fold_count_deltas (mashup_id, bucket_start, plays, likes, shares, comments, downloads)
  select coalesce(n.mashup_id, o.mashup_id), coalesce(n.bucket_start, o.bucket_start),
         coalesce(n.plays, 0) - coalesce(o.plays, 0), coalesce(n.likes, 0) - coalesce(o.likes, 0),
         coalesce(n.shares, 0) - coalesce(o.shares, 0), coalesce(n.comments, 0) - coalesce(o.comments, 0),
         coalesce(n.downloads, 0) - coalesce(o.downloads, 0)
  from n full join o on o.mashup_id = n.mashup_id and o.bucket_start = n.bucket_start
  where (n.plays, n.likes, n.shares, n.comments, n.downloads) is distinct from
        (o.plays, o.likes, o.shares, o.comments, o.downloads);

  with n as (
    select b.mashup_id, date_bin('15 minutes'::interval, b."timestamp", '2000-01-01 00:00:00+00'::timestamptz) as bucket_start,
           b.source, b.country, b.device, count(*)::integer as plays
    from aggregation.fold_batch b
    where b.event_type = 'mashup_played' and exists (select 1 from public.mashups m where m.id = b.mashup_id)
    group by 1, 2, 3, 4, 5
  ),
  o as (
    select q.mashup_id, q.bucket_start, q.source, q.country, q.device, q.plays
    from public.mashup_quarter_hour_breakdowns q where q.bucket_start >= v_t0 and q.bucket_start < v_t1
  )
  insert into aggregation.fold_breakdown_deltas (mashup_id, bucket_start, source, country, device, plays)
  select coalesce(n.mashup_id, o.mashup_id), coalesce(n.bucket_start, o.bucket_start), coalesce(n.source, o.source),
         coalesce(n.country, o.country), coalesce(n.device, o.device), coalesce(n.plays, 0) - coalesce(o.plays, 0)
  from n full join o on o.mashup_id = n.mashup_id and o.bucket_start = n.bucket_start and o.source = n.source
                    and o.country = n.country and o.device = n.device
  where n.plays is distinct from o.plays;

  v_rows := v_rows + aggregation.fold_counts();
  v_rows := v_rows + aggregation.fold_breakdowns();
  v_rows := v_rows + aggregation.fold_listeners(target_date);
  v_rows := v_rows + aggregation.fold_plays();

  select jsonb_build_object(
    'events_read', v_events,
    'mashup_days', (select count(distinct b.mashup_id) from aggregation.fold_batch b),
    'plays', (select count(distinct b.play_id) from aggregation.fold_batch b),
    'mashups', (select count(distinct b.mashup_id) from aggregation.fold_batch b),
    'rows_written', v_rows)
  into v_result;
  return v_result;
end;
$$;
comment on function aggregation.mashup_day(date) is
  'Makes every per-mashup rollup of one UTC day exact from that day''s raw events (set-based, one pass; '
  'changes are propagated to lifetime and creator rollups); returns counts for the run log.';

create or replace function aggregation.user_day(target_date date)
returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_t0 timestamptz := aggregation.day_start(target_date);
  v_t1 timestamptz := aggregation.day_start(target_date + 1);
  v_c uuid[];
  v_d date[];
  v_f text[];
  v_users integer;
  v_rows bigint;
begin
  perform aggregation.lock(true);
  perform aggregation.fold_reset();

  if not exists (select 1 from public.analytics_events e where e."timestamp" >= v_t0 and e."timestamp" < v_t1)
     and exists (select 1 from public.user_daily_stats u where u.date = target_date) then
    raise notice 'aggregate_user_stats(%): no raw events left for that day; its rows are kept as they are', target_date;
    return jsonb_build_object('user_days', 0, 'rows_written', 0, 'skipped', 'no raw events');
  end if;

  with taken as (
    delete from aggregation.pending_events q
    where q."timestamp" >= v_t0 and q."timestamp" < v_t1 and q.event_type in ('mashup_created', 'user_followed')
    returning 1
  )
  insert into aggregation.fold_batch
  select r.* from aggregation.raw_events_for_fold r
  where r."timestamp" >= v_t0 and r."timestamp" < v_t1 and r.event_type in ('mashup_created', 'user_followed');

  select coalesce(array_agg(b.creator_id), '{}'), coalesce(array_agg(target_date), '{}'),
         coalesce(array_agg(b.listener_key), '{}')
  into v_c, v_d, v_f
  from aggregation.fold_batch b
  where b.event_type = 'user_followed' and b.creator_id is not null
    and exists (select 1 from auth.users u where u.id = b.creator_id);

  -- (Union and group rather than joins between CTEs: CTEs carry no statistics for the planner.)
  with computed as (
    select x.user_id, sum(x.created)::integer as mashups_created, sum(x.received)::integer as plays_received,
           sum(x.followed)::integer as followers_gained
    from (
      select b.user_id, 1 as created, 0 as received, 0 as followed
      from aggregation.fold_batch b
      where b.event_type = 'mashup_created' and b.user_id is not null
        and exists (select 1 from auth.users u where u.id = b.user_id)
      union all
      select m.creator_id, 0, d.plays, 0
      from public.mashup_daily_stats d join public.mashups m on m.id = d.mashup_id
      where d.date = target_date
      union all
      select f.user_id, 0, 0, f.followers_gained from aggregation.fold_follows(v_c, v_d, v_f) f
      union all
      select us.user_id, 0, 0, 0 from public.user_daily_stats us where us.date = target_date
    ) x
    group by x.user_id
  ),
  up as (
    insert into public.user_daily_stats as t (user_id, date, mashups_created, plays_received, followers_gained)
    select c.user_id, target_date, c.mashups_created, c.plays_received, c.followers_gained
    from computed c
    where c.mashups_created > 0 or c.plays_received > 0 or c.followers_gained > 0
    on conflict (user_id, date) do update set
      mashups_created = excluded.mashups_created, plays_received = excluded.plays_received,
      followers_gained = excluded.followers_gained
    where (t.mashups_created, t.plays_received, t.followers_gained)
      is distinct from (excluded.mashups_created, excluded.plays_received, excluded.followers_gained)
    returning 1
  ),
  del as (
    delete from public.user_daily_stats t
    using computed c
    where t.user_id = c.user_id and t.date = target_date
      and c.mashups_created = 0 and c.plays_received = 0 and c.followers_gained = 0
    returning 1
  )
  select (select count(*) from computed), (select count(*) from up) + (select count(*) from del)
  into v_users, v_rows;
  return jsonb_build_object('user_days', v_users, 'rows_written', v_rows);
end;
$$;
comment on function aggregation.user_day(date) is
  'Makes user_daily_stats of one UTC day exact: creations and follows from that day''s raw events, '
  'plays_received from mashup_daily_stats (run after mashup_day).';

-- Incremental: every 5 minutes --------------------------------------------------------------------
-- Takes the queued events received before upper = least(now() - p_lag, p_until), at most p_max_window
-- of receive time after the oldest one, and folds them. The queue is consumed with DELETE, so no
-- event is folded twice and a late commit is folded by the next run; p_overlap is no longer needed
-- and kept only so existing callers keep working.
create or replace function aggregation.run_incremental(
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
  v_oldest timestamptz;
  v_to timestamptz;
  v_stats jsonb := '{}'::jsonb;
  v_run bigint;
  v_err text;
  v_ctx text;
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
    v_to := least(now() - p_lag, p_until);
    select min(q.received_at) into v_oldest from aggregation.pending_events q where q.received_at < v_to;
    v_to := least(v_to, v_oldest + p_max_window);

    perform aggregation.fold_reset();
    with taken as (
      delete from aggregation.pending_events q where q.received_at < v_to returning q.*
    )
    insert into aggregation.fold_batch select * from taken;
    v_stats := aggregation.fold_new_events();

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
comment on function aggregation.run_incremental(interval, interval, interval, timestamptz, text, boolean) is
  'The 5-minute job: folds the queued events (aggregation.pending_events) received before '
  'least(now() - p_lag, p_until) into every rollup, exactly once; logs to aggregation.runs.';

-- For retention (issue 11): may a raw partition ending at p_before be dropped? ----------------------
create function aggregation.is_final(p_before timestamptz)
returns boolean
language sql
stable
security invoker
set search_path = ''
as $$
  select not exists (select 1 from aggregation.pending_events q where q."timestamp" < p_before)
$$;
comment on function aggregation.is_final(timestamptz) is
  'True when every raw event with "timestamp" < p_before has been folded into the rollups.';

alter function aggregation.fold_counts() set plan_cache_mode = force_custom_plan;
alter function aggregation.fold_breakdowns() set plan_cache_mode = force_custom_plan;
alter function aggregation.fold_listeners(date) set plan_cache_mode = force_custom_plan;
alter function aggregation.fold_plays() set plan_cache_mode = force_custom_plan;
alter function aggregation.fold_users() set plan_cache_mode = force_custom_plan;
alter function aggregation.fold_follows(uuid[], date[], text[]) set plan_cache_mode = force_custom_plan;
alter function aggregation.fold_new_events() set plan_cache_mode = force_custom_plan;

revoke all on function aggregation.is_final(timestamptz) from public, anon, authenticated;
grant execute on function aggregation.is_final(timestamptz) to service_role;
-- create or replace resets a function's settings: plan every statement for its actual arguments again.
alter function aggregation.mashup_day(date) set plan_cache_mode = force_custom_plan;
alter function aggregation.user_day(date) set plan_cache_mode = force_custom_plan;
alter function aggregation.run_incremental(interval, interval, interval, timestamptz, text, boolean)
  set plan_cache_mode = force_custom_plan;

-- The fold joins a batch with large rollup tables by their keys: index lookups per batch key are
-- what keeps a run's cost at what arrived. Hash and merge joins would scan a whole rollup table
-- whenever the planner over-estimates a batch, so they are off inside the fold functions.
alter function aggregation.fold_counts() set enable_hashjoin = off;
alter function aggregation.fold_counts() set enable_mergejoin = off;
alter function aggregation.fold_breakdowns() set enable_hashjoin = off;
alter function aggregation.fold_breakdowns() set enable_mergejoin = off;
alter function aggregation.fold_listeners(date) set enable_hashjoin = off;
alter function aggregation.fold_listeners(date) set enable_mergejoin = off;
alter function aggregation.fold_plays() set enable_hashjoin = off;
alter function aggregation.fold_plays() set enable_mergejoin = off;
alter function aggregation.fold_users() set enable_hashjoin = off;
alter function aggregation.fold_users() set enable_mergejoin = off;
alter function aggregation.fold_follows(uuid[], date[], text[]) set enable_hashjoin = off;
alter function aggregation.fold_follows(uuid[], date[], text[]) set enable_mergejoin = off;

-- The queue is emptied every 5 minutes: vacuum it by churn, not by the default 20 % of its size.
alter table aggregation.pending_events set (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000,
                                            autovacuum_vacuum_insert_scale_factor = 0,
                                            autovacuum_vacuum_insert_threshold = 5000);
