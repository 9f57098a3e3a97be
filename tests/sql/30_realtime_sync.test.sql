begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(27);

-- Tables, RLS, who may call what ------------------------------------------------------------------
select has_table('public', 'mashup_realtime_totals', 'mashup_realtime_totals exists');
select has_table('public', 'creator_realtime_totals', 'creator_realtime_totals exists');
select has_table('public', 'realtime_sync_batches', 'realtime_sync_batches exists');
select has_table('public', 'realtime_drift', 'realtime_drift exists');
select ok(not has_function_privilege('authenticated', 'public.update_realtime_stats(text, jsonb)', 'execute')
          and not has_function_privilege('anon', 'public.update_realtime_stats(text, jsonb)', 'execute'),
  'only the service role may apply a sync batch');
select ok(not has_function_privilege('authenticated', 'public.reconcile_realtime_totals(jsonb, bigint, text)', 'execute')
          and not has_function_privilege('anon', 'public.realtime_window_members(timestamptz, uuid, timestamptz)', 'execute')
          and not has_function_privilege('authenticated', 'public.realtime_window_members(timestamptz, uuid, timestamptz)', 'execute'),
  'nor reconcile, nor read raw recent activity');

-- cron.job exists only once pg_cron is created, so it is queried by name (query_to_xml).
select is(
  case when to_regclass('cron.job') is null then 0
       else (xpath('/row/n/text()', query_to_xml(
               $$select count(*) as n from cron.job where jobname in ('realtime-sync', 'realtime-reconcile')$$,
               false, true, '')))[1]::text::integer end,
  case when exists (select 1 from pg_available_extensions where name = 'pg_net') then 2 else 0 end,
  'pg_cron calls realtime-sync where pg_net exists, and no job is created where it does not');

-- Fixture: two creators, a mashup each ---------------------------------------------------------
select tests.create_supabase_user('rt_a');
select tests.create_supabase_user('rt_b');
insert into public.mashups (id, creator_id, title, duration_seconds) values
  ('cccccccc-0000-4000-8000-00000000000a', tests.get_supabase_uid('rt_a'), 'A live', 180),
  ('cccccccc-0000-4000-8000-00000000000b', tests.get_supabase_uid('rt_b'), 'B live', 200);

-- Idempotent batch apply ------------------------------------------------------------------------
select tests.authenticate_as_service_role();
select is(
  public.update_realtime_stats('batch-1', jsonb_build_object(
    'mashup:cccccccc-0000-4000-8000-00000000000a:plays', 5,
    'mashup:cccccccc-0000-4000-8000-00000000000a:likes', 2,
    'mashup:cccccccc-0000-4000-8000-00000000000b:plays', 1,
    'creator:' || tests.get_supabase_uid('rt_a') || ':followers', 3,
    'mashup:dddddddd-0000-4000-8000-000000000000:plays', 4,
    'mashup:cccccccc-0000-4000-8000-00000000000a:nonsense', 1)),
  '{"applied": true, "batch_id": "batch-1", "counters": 4, "increments": 11, "skipped_counters": 2, "skipped_increments": 5}'::jsonb,
  'a batch applies its deltas and reports what it skipped (unknown mashup, unknown counter)');
select is(
  public.update_realtime_stats('batch-1', jsonb_build_object('mashup:cccccccc-0000-4000-8000-00000000000a:plays', 5)),
  '{"applied": false, "batch_id": "batch-1"}'::jsonb, 'the same batch id a second time applies nothing');
select results_eq(
  $$ select mashup_id::text, plays, likes from public.mashup_realtime_totals
     where mashup_id::text like 'cccccccc-%' order by 1 $$,
  $$ values ('cccccccc-0000-4000-8000-00000000000a', 5::bigint, 2::bigint),
            ('cccccccc-0000-4000-8000-00000000000b', 1::bigint, 0::bigint) $$,
  'totals hold each delta once');
select is(public.update_realtime_stats('batch-2', jsonb_build_object('mashup:cccccccc-0000-4000-8000-00000000000a:plays', 2)) ->> 'applied',
  'true', 'a new batch id adds on top');
select is((select plays from public.mashup_realtime_totals where mashup_id = 'cccccccc-0000-4000-8000-00000000000a'),
  7::bigint, 'running total = 5 + 2');
select is((select followers from public.creator_realtime_totals where creator_id = tests.get_supabase_uid('rt_a')),
  3::bigint, 'creator followers are totalled too');
select throws_ok($$ select public.update_realtime_stats('batch-3', '[1, 2]'::jsonb) $$, '22023', null,
  'deltas must be a JSON object');

-- RLS on the totals -----------------------------------------------------------------------------
select tests.authenticate_as('rt_a');
select results_eq($$ select mashup_id::text, plays from public.realtime_totals() $$,
  $$ values ('cccccccc-0000-4000-8000-00000000000a', 7::bigint) $$, 'creator A reads only their own totals via RPC');
select is_empty($$ select * from public.realtime_totals(array['cccccccc-0000-4000-8000-00000000000b'::uuid]) $$,
  'asking for B''s mashup by id gives nothing');
select results_eq($$ select followers from public.creator_realtime_totals $$, $$ values (3::bigint) $$,
  'creator A reads their own follower total');
select throws_ok($$ update public.mashup_realtime_totals set plays = 0 $$, '42501', null, 'creators cannot write totals');
select throws_ok($$ select public.update_realtime_stats('batch-x', '{}') $$, '42501', null,
  'creators cannot apply a batch');
select tests.authenticate_as_anon();
select is_empty($$ select * from public.realtime_totals() $$, 'anon reads no totals');
select is_empty($$ select * from public.creator_realtime_totals $$, 'anon reads no creator totals');

-- Reconciliation: every drift before the fence repaired, nothing after it -----------------------
select tests.clear_authentication();
insert into public.analytics_events (event_type, properties, anonymous_id, "timestamp", received_at)
select 'mashup_played', '{"mashup_id": "cccccccc-0000-4000-8000-00000000000a"}', 'x' || i,
       now() - interval '1 hour', now() - interval '1 hour'
from generate_series(1, 9) as i;  -- A: 9 plays long ago; total 7 + outstanding 1 -> 1 lost
insert into public.analytics_events (event_type, properties, anonymous_id, "timestamp", received_at) values
  ('mashup_played', '{"mashup_id": "cccccccc-0000-4000-8000-00000000000b"}', 'y1', now(), now()),
  ('mashup_played', '{"mashup_id": "cccccccc-0000-4000-8000-00000000000b"}', 'y2', now(), now()),
  -- B: 2 plays this instant (total 1: one increment still on its way, refused once the fence is up),
  -- and a like received after the fence: not this run's business.
  ('mashup_liked', '{"mashup_id": "cccccccc-0000-4000-8000-00000000000b"}', 'y3', now(), now() + interval '1 second');
select tests.authenticate_as_service_role();
select ok((public.reconcile_realtime_totals(
  jsonb_build_object('mashup:cccccccc-0000-4000-8000-00000000000a:plays', 1),
  (extract(epoch from now()) * 1000000)::bigint + 1, 'pgtap') ->> 'run_id') is not null,
  'reconciliation runs');
select results_eq(
  $$ select mashup_id::text, plays, likes from public.mashup_realtime_totals
     where mashup_id::text like 'cccccccc-%' order by 1 $$,
  $$ values ('cccccccc-0000-4000-8000-00000000000a', 8::bigint, 0::bigint),
            ('cccccccc-0000-4000-8000-00000000000b', 2::bigint, 0::bigint) $$,
  'A: +1 (9 raw - 7 total - 1 outstanding); A likes: -2 (no raw likes); B: +1 (in flight, counted here); B''s later like: untouched');
select results_eq(
  $$ select subject_id::text, counter, expected, counted, uncertain, repaired from public.realtime_drift
     where subject_id::text like 'cccccccc-%' order by subject_id, counter desc $$,
  $$ values ('cccccccc-0000-4000-8000-00000000000a', 'plays', 9::bigint, 8::bigint, 0::bigint, 1::bigint),
            ('cccccccc-0000-4000-8000-00000000000a', 'likes', 0::bigint, 2::bigint, 0::bigint, -2::bigint),
            ('cccccccc-0000-4000-8000-00000000000b', 'plays', 2::bigint, 1::bigint, 0::bigint, 1::bigint) $$,
  'each repair is recorded with what was expected and what was counted');
select is((select count(*) from public.realtime_drift d
           where d.subject_id::text like 'cccccccc-%'
             and d.run_id = (public.reconcile_realtime_totals('{}', (extract(epoch from now()) * 1000000)::bigint + 1, 'pgtap')
                             ->> 'run_id')::uuid),
  0::bigint, 'a second run with the same fence finds nothing left');

-- The window members from raw events, at a pinned clock ------------------------------------------
select tests.clear_authentication();
-- A pinned clock in 2031: its month is past the partitions created ahead, so create it.
select raw_events.create_month('2031-05-01');
insert into public.analytics_events (event_type, properties, anonymous_id, "timestamp", received_at) values
  ('mashup_played', '{"mashup_id": "cccccccc-0000-4000-8000-00000000000a"}', 'z1', '2031-05-05 12:00:00Z', '2031-05-05 12:00:01Z'),
  ('mashup_play_progress', '{"mashup_id": "cccccccc-0000-4000-8000-00000000000a"}', 'z2', '2031-05-05 11:59:00Z', '2031-05-05 11:59:00Z'),
  ('mashup_liked', '{"mashup_id": "cccccccc-0000-4000-8000-00000000000a"}', 'z3', '2031-05-05 11:50:00Z', '2031-05-05 11:50:00Z'),
  ('mashup_played', '{"mashup_id": "cccccccc-0000-4000-8000-00000000000a"}', 'z4', '2031-05-05 12:00:20Z', '2031-05-05 12:00:20Z'),
  ('mashup_play_ended', '{"mashup_id": "cccccccc-0000-4000-8000-00000000000a"}', 'z5', '2031-05-05 12:00:04Z', '2031-05-05 12:00:04Z'),
  ('mashup_played', '{"mashup_id": "cccccccc-0000-4000-8000-00000000000a"}', 'z6', '2031-05-05 11:00:10Z', '2031-05-05 11:00:10Z');
select tests.authenticate_as_service_role();
select results_eq(
  $$ select x ->> 1, (x ->> 2)::bigint
     from jsonb_array_elements(public.realtime_window_members('2031-05-05 12:00:10Z', tests.get_supabase_uid('rt_a'))) x
     order by 1, 2 $$,
  $$ values ('a|a:z1', 1935748800000::bigint), ('a|a:z2', 1935748740000), ('a|a:z5', 1935748804000),
            ('e|likes|' || (select id from public.analytics_events where anonymous_id = 'z3'), 1935748200000),
            ('e|plays|' || (select id from public.analytics_events where anonymous_id = 'z1'), 1935748800000),
            ('p|cccccccc-0000-4000-8000-00000000000a|a:z1', 1935748800000),
            ('x|cccccccc-0000-4000-8000-00000000000a|a:z5', 1935748804000) $$,
  'at 12:00:10: active z1 z2 z5 (z3 10 min ago, z4 still to come); playing z1 (z2''s heartbeat is 70 s old), ended z5; the play and the like of the hour (z6 is 1 h ago, out)');
select is(jsonb_array_length(public.realtime_window_members('2031-05-05 12:00:10Z', tests.get_supabase_uid('rt_b'))), 0,
  'one creator''s members only');

select * from finish();
rollback;
