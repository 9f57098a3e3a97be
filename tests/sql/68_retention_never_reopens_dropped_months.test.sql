-- Retention never takes a dropped month back (20261127001600): raising retention_months after a
-- drop leaves the horizon at the dropped month's end, so no event of that month is stored again
-- (its day would become partial for a recount, and its ids were released with the drop).
begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(9);

create temporary table clock on commit drop as
select (date_trunc('month', now() at time zone 'UTC') - interval '3 months') at time zone 'UTC' as old_month;
grant select on clock to service_role;

-- A database that never dropped a month: raising retention moves the horizon back, and the months
-- it keeps are created by ensure_partitions (the daily maintenance, or by hand right after).
update raw_events.settings set dropped_through = null;
select tests.authenticate_as_service_role();
update raw_events.settings set retention_months = 30;
select tests.clear_authentication();
select is(raw_events.horizon(),
  (date_trunc('month', now() at time zone 'UTC') - interval '30 months') at time zone 'UTC',
  'the horizon follows a raised retention');
select ok(raw_events.ensure_partitions() >= 0, 'the months it keeps are created');
select is((select count(*) from public.ingest_events(jsonb_build_array(jsonb_build_object(
           'id', gen_random_uuid(), 'type', 'mashup_liked', 'anonymous_id', 'anon-68', 'session_id', 's-68',
           'timestamp', raw_events.horizon() + interval '1 day', 'properties', '{}'::jsonb)))
           where is_new), 1::bigint,
  'an event of a reopened month is stored');

-- A drop: the month is gone, and the horizon records its end (everything received is folded first).
update raw_events.settings set retention_months = 2;
update raw_events.analytics_events set received_at = now() - interval '1 minute' where anonymous_id = 'anon-68';
update aggregation.pending_events set received_at = now() - interval '1 minute' where received_at >= now() - interval '1 second';
select aggregation.run_incremental(p_lag => '0 seconds', p_max_window => '100 years') is not null as folded;
insert into aggregation.watermarks (job, received_through, updated_at)
values ('incremental', now() + interval '1 second', now())
on conflict (job) do update set received_through = now() + interval '1 second';
insert into aggregation.runs (job, status, started_at, finished_at, duration_ms, window_start, window_end)
values ('nightly', 'succeeded', now(), now(), 0, now() - interval '1 day', now());
select ok(raw_events.drop_expired() > 0, 'retention drops the months past a 2-month horizon');
select is((select dropped_through from raw_events.settings),
  (select old_month from clock) + interval '1 month', 'the end of the latest dropped month is recorded');
select ok(to_regclass('raw_events.analytics_events_p' || to_char((select old_month from clock) at time zone 'UTC', 'YYYYMM')) is null,
  'the old month is gone');

-- Retention raised again: the dropped months stay closed.
update raw_events.settings set retention_months = 13;
select is(raw_events.horizon(), (select old_month from clock) + interval '1 month',
  'the horizon stays at the end of the dropped month');
select ok(to_regclass('raw_events.analytics_events_p' || to_char((select old_month from clock) at time zone 'UTC', 'YYYYMM')) is null,
  'the dropped month is not created again');
select results_eq($$
  select is_new, "timestamp" is not null from public.ingest_events(jsonb_build_array(jsonb_build_object(
    'id', gen_random_uuid(), 'type', 'mashup_liked', 'anonymous_id', 'anon-68', 'session_id', 's-68',
    'timestamp', (select old_month from clock) + interval '5 days', 'properties', '{}'::jsonb))) $$,
  $$ values (false, true) $$,
  'an event of the dropped month is refused as before the horizon, with its time (not a duplicate)');

select * from finish();
rollback;
