-- public.ingest_events: one call stores a batch, deduplicates on the client event id, keeps bots
-- apart, and only the service role may call it.
begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(23);

select has_function('public', 'ingest_events', array['jsonb'], 'ingest_events(jsonb) exists');
select is((select prosecdef from pg_proc where oid = 'public.ingest_events(jsonb)'::regprocedure), false,
  'ingest_events is security invoker');
select ok(has_function_privilege('service_role', 'public.ingest_events(jsonb)', 'execute'),
  'the service role may ingest');
select ok(not has_function_privilege('anon', 'public.ingest_events(jsonb)', 'execute'),
  'anon may not call ingest_events around the track function');
select ok(not has_function_privilege('authenticated', 'public.ingest_events(jsonb)', 'execute'),
  'authenticated may not call ingest_events around the track function');
select ok(not has_table_privilege('anon', 'public.analytics_bot_events', 'select'),
  'anon cannot read bot events');

-- A fixed date in January 2026: keep it inside the retention horizon whatever today's date.
update raw_events.settings set retention_months = 1200;
select raw_events.create_month('2026-01-01');
select tests.create_supabase_user('listener');
select tests.authenticate_as_service_role();

-- A batch with a repeated id: the first occurrence is stored, the repeat is a duplicate.
create temporary table first_call on commit drop as
select * from public.ingest_events(jsonb_build_array(
  jsonb_build_object('id', 'aaaaaaaa-1000-4000-8000-000000000001', 'type', 'mashup_played',
    'properties', '{"mashup_id":"bbbbbbbb-1000-4000-8000-000000000001","source":"twitter","auto_play":false}'::jsonb,
    'session_id', 's-1', 'anonymous_id', 'anon-1', 'timestamp', '2026-01-02T03:04:05Z', 'country', 'DE',
    'device', 'mobile'),
  jsonb_build_object('id', 'aaaaaaaa-1000-4000-8000-000000000001', 'type', 'mashup_played',
    'properties', '{"mashup_id":"bbbbbbbb-1000-4000-8000-000000000001","source":"other","auto_play":true}'::jsonb,
    'session_id', 's-1', 'anonymous_id', 'anon-1'),
  jsonb_build_object('id', 'aaaaaaaa-1000-4000-8000-000000000002', 'type', 'mashup_liked',
    'properties', '{"mashup_id":"bbbbbbbb-1000-4000-8000-000000000001"}'::jsonb,
    'user_id', tests.get_supabase_uid('listener'), 'session_id', 's-2'),
  jsonb_build_object('id', 'aaaaaaaa-1000-4000-8000-000000000003', 'type', 'mashup_liked',
    'properties', '{"mashup_id":"bbbbbbbb-1000-4000-8000-000000000001"}'::jsonb,
    'bot', true, 'user_agent', 'Googlebot/2.1', 'session_id', 's-bot')
));
grant select on first_call to service_role;

select results_eq('select ordinality, id, is_new from first_call order by ordinality',
  $$ values (1::bigint, 'aaaaaaaa-1000-4000-8000-000000000001'::uuid, true),
            (2::bigint, 'aaaaaaaa-1000-4000-8000-000000000001'::uuid, false),
            (3::bigint, 'aaaaaaaa-1000-4000-8000-000000000002'::uuid, true),
            (4::bigint, 'aaaaaaaa-1000-4000-8000-000000000003'::uuid, true) $$,
  'one row per input element, in order; a repeated id within the batch is a duplicate');
select results_eq($$ select listener_key from first_call order by ordinality $$,
  $$ values ('a:anon-1'), (null), ('u:' || tests.get_supabase_uid('listener')::text), (null) $$,
  'new events report their listener key; duplicates and bots report none');
select is((select "timestamp" from first_call where ordinality = 1), '2026-01-02T03:04:05Z'::timestamptz,
  'the stored timestamp is reported back');

select results_eq($$
  select event_type, properties ->> 'source', "timestamp", session_id, anonymous_id, country, device
  from public.analytics_events where id = 'aaaaaaaa-1000-4000-8000-000000000001' $$,
  $$ values ('mashup_played', 'twitter', '2026-01-02T03:04:05Z'::timestamptz, 's-1', 'anon-1', 'DE', 'mobile') $$,
  'the first occurrence of an id is the one stored, with every enriched column');
select is((select count(*)::int from public.analytics_events where id::text like 'aaaaaaaa-1000-%'), 2,
  'a repeated id is stored once and the bot event not at all in analytics_events');
select is((select count(*)::int from public.analytics_bot_events where id = 'aaaaaaaa-1000-4000-8000-000000000003'), 1,
  'the bot event is stored apart');
select is((select user_agent from public.analytics_bot_events where id = 'aaaaaaaa-1000-4000-8000-000000000003'),
  'Googlebot/2.1', 'the bot table keeps the User-Agent that flagged it');
select is((select mashup_id from public.analytics_events where id = 'aaaaaaaa-1000-4000-8000-000000000002'),
  'bbbbbbbb-1000-4000-8000-000000000001'::uuid, 'mashup_id is lifted from the properties');

-- Without a client timestamp the event time is the receive time.
select is((select "timestamp" = received_at and received_at = now() from public.analytics_events
           where id = 'aaaaaaaa-1000-4000-8000-000000000002'), true,
  'a missing timestamp becomes the receive time, which is the database''s now()');

-- The same ids again in a later call: all duplicates, nothing stored twice.
select results_eq($$
  select is_new from public.ingest_events(jsonb_build_array(
    jsonb_build_object('id', 'aaaaaaaa-1000-4000-8000-000000000002', 'type', 'mashup_liked',
      'properties', '{"mashup_id":"bbbbbbbb-1000-4000-8000-000000000001"}'::jsonb, 'session_id', 's-2'),
    jsonb_build_object('id', 'aaaaaaaa-1000-4000-8000-000000000003', 'type', 'mashup_liked',
      'properties', '{}'::jsonb, 'bot', true),
    jsonb_build_object('id', 'aaaaaaaa-1000-4000-8000-000000000004', 'type', 'mashup_liked',
      'properties', '{"mashup_id":"bbbbbbbb-1000-4000-8000-000000000001"}'::jsonb, 'session_id', 's-4')))
  order by ordinality $$,
  $$ values (false), (false), (true) $$, 'ids stored by an earlier call are duplicates, new ones are stored');
select is((select count(*)::int from public.analytics_events where id::text like 'aaaaaaaa-1000-%'), 3,
  'after the second call: three distinct events');
select is((select user_id from public.analytics_events where id = 'aaaaaaaa-1000-4000-8000-000000000002'),
  tests.get_supabase_uid('listener'), 'a duplicate never overwrites the stored event');

-- A token's user deleted since: the events are kept, without the user.
select results_eq($$
  select is_new, listener_key from public.ingest_events(jsonb_build_array(
    jsonb_build_object('id', 'aaaaaaaa-1000-4000-8000-000000000005', 'type', 'mashup_liked',
      'properties', '{"mashup_id":"bbbbbbbb-1000-4000-8000-000000000001"}'::jsonb,
      'user_id', '99999999-9999-4999-8999-999999999999', 'session_id', 's-5'))) $$,
  $$ values (true, 's:s-5') $$, 'an unknown user id does not lose the event');
select is((select user_id from public.analytics_events where id = 'aaaaaaaa-1000-4000-8000-000000000005'),
  null, 'the event of an unknown user is stored without a user');

select is((select count(*)::int from public.ingest_events('[]'::jsonb)), 0, 'an empty batch stores nothing');
select throws_ok($$ select * from public.ingest_events('{"id":"x"}'::jsonb) $$, '22023', null,
  'anything but a JSON array is refused');

-- anon cannot call it even when it tries.
select tests.authenticate_as_anon();
select throws_ok($$ select * from public.ingest_events('[]'::jsonb) $$, '42501', null,
  'anon calling ingest_events is refused');

select * from finish();
rollback;
