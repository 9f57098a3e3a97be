-- Raw events in monthly partitions: every kept month exists ahead of time, a late event lands in
-- its own month, an id is stored once across months, and events outside the kept range are refused
-- (the batch's others stored). Months are computed from raw_events.settings, never hard-coded.
begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(24);

select is((select c.relkind::text from pg_class c where c.oid = 'raw_events.analytics_events'::regclass), 'p',
  'analytics_events is stored partitioned (raw_events.analytics_events, read through the view public.analytics_events)');
select is((select c.relkind::text from pg_class c where c.oid = 'public.analytics_bot_events'::regclass), 'p',
  'analytics_bot_events is partitioned');
select is((select pg_get_partkeydef('raw_events.analytics_events'::regclass)), 'RANGE ("timestamp")',
  'analytics_events is partitioned by range of "timestamp"');
select is((select settings.retention_months from raw_events.settings), 13, 'the default horizon keeps 13 months');

-- Every month from the horizon to months_ahead after this one, for both tables, covering exactly it.
create temporary table kept_months on commit drop as
select m::date as month from generate_series(raw_events.horizon() at time zone 'UTC',
  (raw_events.ceiling() at time zone 'UTC') - interval '1 month', interval '1 month') m;
select is((select count(*) from kept_months),
  (select 1 + s.retention_months + s.months_ahead from raw_events.settings s)::bigint,
  'the kept range is the current month, retention_months before it and months_ahead after it');
select is_empty($$
  select k.month, t.parent from kept_months k cross join (values ('raw_events', 'analytics_events'), ('public', 'analytics_bot_events')) t (parent_schema, parent)
  where not exists (
    select 1 from pg_inherits i join pg_class c on c.oid = i.inhrelid
    where i.inhparent = (t.parent_schema || '.' || t.parent)::regclass
      and c.relnamespace = 'raw_events'::regnamespace and c.relname = t.parent || '_p' || to_char(k.month, 'YYYYMM')
      and pg_get_expr(c.relpartbound, c.oid) = format('FOR VALUES FROM (%L) TO (%L)',
            (k.month::timestamp at time zone 'UTC'), ((k.month + interval '1 month')::timestamp at time zone 'UTC')))
$$, 'every kept month has its partition in both raw tables, bounded by UTC month starts');

-- Created ahead: a year from now, the maintenance job creates the new months (and only those).
create temporary table later on commit drop as
select raw_events.ensure_partitions(now() + interval '1 year') as created;
select is((select created from later), 2 * 12, 'a year later, twelve new months are created for each table');
select is(raw_events.ensure_partitions(now() + interval '1 year'), 0, 'running it again creates nothing');
select is(raw_events.maintain() ->> 'created', '0', 'the daily job then finds every month in place');

select tests.create_supabase_user('late listener');
select tests.authenticate_as_service_role();

-- A late event (timestamp in an earlier kept month) lands in its own month's partition.
create temporary table late on commit drop as
select (date_trunc('month', now() at time zone 'UTC') - interval '2 months' + interval '3 days 4 hours')
         at time zone 'UTC' as ts,
       gen_random_uuid() as id;
grant select on late to service_role;
select is((select count(*) from public.ingest_events(jsonb_build_array(jsonb_build_object(
  'id', (select id from late), 'type', 'mashup_liked', 'properties', '{}'::jsonb, 'session_id', 's-late',
  'timestamp', (select ts from late)))) where is_new), 1::bigint, 'a late event is stored');
select is((select e.tableoid::regclass::text from raw_events.analytics_events e where e.id = (select id from late)),
  'raw_events.analytics_events_p' || to_char((select ts from late) at time zone 'UTC', 'YYYYMM'),
  'a late event lands in the partition of its own month');

-- The same id resent with a time in another month: stored once, where it first landed.
select is((select array_agg(is_new order by ordinality) from public.ingest_events(jsonb_build_array(
  jsonb_build_object('id', (select id from late), 'type', 'mashup_liked', 'properties', '{}'::jsonb,
                     'session_id', 's-late'),
  jsonb_build_object('id', (select id from late), 'type', 'mashup_liked', 'properties', '{}'::jsonb,
                     'session_id', 's-late', 'timestamp', (select ts - interval '40 days' from late))))),
  array[false, false], 'the id resent with this month''s and another month''s time is a duplicate both times');
select is((select count(*) from public.analytics_events where id = (select id from late)), 1::bigint,
  'the resent id is stored once across all partitions');
select is((select "timestamp" from public.analytics_events where id = (select id from late)), (select ts from late),
  'the first stored copy is the one kept');

-- One batch, one new id twice with times in two months: the first occurrence wins, once.
create temporary table twice on commit drop as
select * from public.ingest_events(jsonb_build_array(
  jsonb_build_object('id', 'aaaaaaaa-5000-4000-8000-000000000001', 'type', 'mashup_liked', 'properties', '{}'::jsonb,
                     'anonymous_id', 'anon-twice', 'timestamp', (select ts from late)),
  jsonb_build_object('id', 'aaaaaaaa-5000-4000-8000-000000000001', 'type', 'mashup_liked', 'properties', '{}'::jsonb,
                     'anonymous_id', 'anon-twice')));
select is((select array_agg(is_new order by ordinality) from twice), array[true, false],
  'in one batch, the same id in two months: the first is new, the second a duplicate');
select is((select count(*) from public.analytics_events where id = 'aaaaaaaa-5000-4000-8000-000000000001'), 1::bigint,
  'and it is stored once');
-- A direct insert into another month's partition (not through ingest_events) is skipped too.
insert into public.analytics_events (id, event_type, session_id, "timestamp")
values ('aaaaaaaa-5000-4000-8000-000000000001', 'mashup_liked', 's', now());
select is((select count(*) from public.analytics_events where id = 'aaaaaaaa-5000-4000-8000-000000000001'), 1::bigint,
  'any writer is deduplicated across partitions (the id claim is a trigger)');
-- A bot event reusing a stored id is a duplicate as well: one id, one event.
select is((select is_new from public.ingest_events(jsonb_build_array(jsonb_build_object(
  'id', 'aaaaaaaa-5000-4000-8000-000000000001', 'type', 'mashup_liked', 'properties', '{}'::jsonb,
  'bot', true, 'user_agent', 'Googlebot')))), false, 'a bot event cannot reuse a stored id');

-- An update moving an event into another month (re-anchoring demo data does this) keeps it, once.
update public.analytics_events set "timestamp" = "timestamp" + interval '1 month' where id = (select id from late);
select is((select e.tableoid::regclass::text from raw_events.analytics_events e where e.id = (select id from late)),
  'raw_events.analytics_events_p' || to_char((select ts + interval '1 month' from late) at time zone 'UTC', 'YYYYMM'),
  'an update of "timestamp" into another month moves the event there');
select is((select count(*) from public.analytics_event_ids where id = (select id from late)),
  1::bigint, 'its id stays claimed once (retention deletes a month''s ids by joining its partition)');
select is((select count(*) from public.ingest_events(jsonb_build_array(jsonb_build_object(
  'id', (select id from late), 'type', 'mashup_liked', 'properties', '{}'::jsonb, 'session_id', 's-late'))) where is_new),
  0::bigint, 'and a resend of the moved event is still a duplicate');

-- Outside the kept range: refused with the refused time, the batch's other events stored.
create temporary table outside on commit drop as
select * from public.ingest_events(jsonb_build_array(
  jsonb_build_object('id', 'aaaaaaaa-5000-4000-8000-000000000002', 'type', 'mashup_liked', 'properties', '{}'::jsonb,
                     'session_id', 's-old', 'timestamp', raw_events.horizon() - interval '1 second'),
  jsonb_build_object('id', 'aaaaaaaa-5000-4000-8000-000000000003', 'type', 'mashup_liked', 'properties', '{}'::jsonb,
                     'session_id', 's-far', 'timestamp', raw_events.ceiling()),
  jsonb_build_object('id', 'aaaaaaaa-5000-4000-8000-000000000004', 'type', 'mashup_liked', 'properties', '{}'::jsonb,
                     'session_id', 's-edge', 'timestamp', raw_events.horizon())));
select results_eq($$ select ordinality, is_new, "timestamp" from outside order by ordinality $$,
  $$ values (1::bigint, false, raw_events.horizon() - interval '1 second'), (2::bigint, false, raw_events.ceiling()),
            (3::bigint, true, raw_events.horizon()) $$,
  'before the horizon or past the last partition: not new, with the refused time; at the horizon: stored');
select is((select count(*) from public.analytics_events where id in ('aaaaaaaa-5000-4000-8000-000000000002',
  'aaaaaaaa-5000-4000-8000-000000000003')), 0::bigint, 'refused events are stored nowhere');
select is((select count(*) from public.analytics_event_ids where id in ('aaaaaaaa-5000-4000-8000-000000000002',
  'aaaaaaaa-5000-4000-8000-000000000003')), 0::bigint, 'and claim no id');

select * from finish();
rollback;
