-- An event in a kept month without a partition is stored: ingest_events creates the month when its
-- first event arrives (20261127002400). Before, the batch failed whole (no partition for the row)
-- until the daily maintenance ran ensure_partitions: after an operator raised retention_months, or
-- when the maintenance missed a run. Only kept months are created, never one past the horizon or
-- the ceiling, and only the service role may ask.
begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(12);

-- An operator keeps 40 months now; nothing was dropped yet. The month 27 months back has no partition.
update raw_events.settings set retention_months = 40, dropped_through = null;
create temporary table probe on commit drop as
select m::date as month, to_char(m, 'YYYYMM') as yyyymm,
       (m + interval '9 days 10 hours') at time zone 'UTC' as at
from (select date_trunc('month', now() at time zone 'UTC') - interval '27 months' as m) x;
grant select on probe to service_role;
create function pg_temp.partitions_of(p_yyyymm text) returns bigint language sql as $$
  select count(*) from pg_inherits i join pg_class c on c.oid = i.inhrelid
  where i.inhparent in ('raw_events.analytics_events'::regclass, 'public.analytics_bot_events'::regclass)
    and c.relname like '%\_p' || p_yyyymm
$$;
-- A test database may have made the month empty before; start without it.
do $$ begin
  if pg_temp.partitions_of((select yyyymm from probe)) > 0
     and not exists (select 1 from raw_events.analytics_events e, probe
                     where e."timestamp" >= probe.month and e."timestamp" < probe.month + interval '1 month') then
    execute format('drop table if exists raw_events.analytics_events_p%s, raw_events.analytics_bot_events_p%s',
                   (select yyyymm from probe), (select yyyymm from probe));
  end if;
end $$;
select is(pg_temp.partitions_of((select yyyymm from probe)), 0::bigint, 'the kept month has no partition yet');

create function pg_temp.ingest(p_id uuid, p_at timestamptz, p_bot boolean default false)
returns table (is_new boolean, "timestamp" timestamptz) language sql as $$
  select i.is_new, i."timestamp" from public.ingest_events(jsonb_build_array(jsonb_build_object(
    'id', p_id, 'type', 'mashup_liked', 'properties', '{"mashup_id":"bbbbbbbb-7300-4000-8000-000000000001"}'::jsonb,
    'timestamp', p_at, 'session_id', 's-73', 'bot', p_bot, 'user_agent', 'Googlebot'))) i
$$;

select tests.authenticate_as_service_role();
select results_eq($$ select is_new from pg_temp.ingest('aaaaaaaa-7300-4000-8000-000000000001', (select at from probe)) $$,
  $$ values (true) $$, 'the service role''s event in that month is stored');
select tests.clear_authentication();
select is(pg_temp.partitions_of((select yyyymm from probe)), 2::bigint,
  'its month was created, for raw events and bot events');
select is((select e."timestamp" from raw_events.analytics_events e where e.id = 'aaaaaaaa-7300-4000-8000-000000000001'),
  (select at from probe), 'the event is in its own month, on its own time');
select is((select tableoid::regclass::text from raw_events.analytics_events where id = 'aaaaaaaa-7300-4000-8000-000000000001'),
  'raw_events.analytics_events_p' || (select yyyymm from probe), 'stored in the new partition');

select tests.authenticate_as_service_role();
select results_eq($$ select is_new from pg_temp.ingest('aaaaaaaa-7300-4000-8000-000000000002', (select at from probe) + interval '1 day', true) $$,
  $$ values (true) $$, 'a bot event of the same month is kept apart, into the month now there');
-- Before the horizon: refused by its time, and no month is made for it.
select results_eq($$ select is_new, "timestamp" is not null from pg_temp.ingest('aaaaaaaa-7300-4000-8000-000000000003',
                     (select at from probe) - interval '15 months') $$,
  $$ values (false, true) $$, 'an event before the horizon is refused with its time');
select tests.clear_authentication();
select is(pg_temp.partitions_of(to_char((select month from probe) - interval '15 months', 'YYYYMM')), 0::bigint,
  'no month is made before the horizon');

-- The function itself: kept months only, an existing month is not an error, service role only.
select is(raw_events.create_kept_months(array[(date_trunc('month', now()) + interval '10 years')::date,
                                              (date_trunc('month', now()) - interval '50 years')::date]), 0,
  'months past the ceiling or before the horizon are never created');
select is(raw_events.create_kept_months(array[(select month from probe)]), 0, 'an existing month is left as it is');
update raw_events.settings set dropped_through = (select month from probe) + interval '1 month';
select is(raw_events.create_kept_months(array[(select month from probe) - interval '1 month']::date[]), 0,
  'a month at or before a dropped one is never created again');
select tests.create_supabase_user('73 someone');
select tests.authenticate_as('73 someone');
select throws_ok($$ select raw_events.create_kept_months(array[current_date]) $$, '42501', null,
  'a signed-in user may not create months');

select * from finish();
rollback;
