begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(14);

-- whole_percentages: floors plus largest remainders, always 100 --------------------------------
select results_eq($$ select key, percentage from public.whole_percentages(array['a','b','c'], array[1,1,1]::bigint[]) $$,
  $$ values ('a', 34), ('b', 33), ('c', 33) $$, 'three equal shares: 34/33/33, ties by key');
select results_eq($$ select key, percentage from public.whole_percentages(array['x','y','z'], array[2,1,7]::bigint[]) $$,
  $$ values ('z', 70), ('x', 20), ('y', 10) $$, 'exact shares stay exact, busiest first');
select is((select sum(percentage)::int from public.whole_percentages(array['a','b','c','d','e','f','g'],
          array[13,7,29,1,3,3,11]::bigint[])), 100, 'percentages of awkward counts sum to 100');
select is_empty($$ select * from public.whole_percentages(array['a'], array[0]::bigint[]) $$,
  'no counts, no percentages');

-- period checks: SQLSTATE 22023 with the parameter as hint --------------------------------------
select throws_ok($$ select public.dashboard_period_bounds('2026-03-10', '2026-03-01', 'UTC') $$,
  '22023', 'end must be after start', 'end before start is refused');
select throws_ok($$ select public.dashboard_period_bounds('2025-01-01', '2026-03-01', 'UTC') $$,
  '22023', 'end must be at most 366 days after start', 'a period over 366 days is refused');
select throws_ok($$ select public.dashboard_period_bounds('2026-03-01', '2026-03-10', 'Mars/Base') $$,
  '22023', 'tz is not a known IANA time zone: Mars/Base', 'an unknown zone is refused');
select results_eq($$ select start_at, end_at from public.dashboard_period_bounds('2026-03-08', '2026-03-09', 'America/New_York') $$,
  $$ values ('2026-03-08 05:00+00'::timestamptz, '2026-03-09 04:00+00'::timestamptz) $$,
  'the DST day in New York is 23 hours long');
select throws_ok($$ select public.get_creator_dashboard('2026-03-01', '2026-03-10', 'UTC', '0') $$,
  '22023', 'p_limit must be an integer between 1 and 100', 'limit 0 is refused');

-- who may call what ------------------------------------------------------------------------------
select tests.create_supabase_user('dash_a');
select tests.create_supabase_user('dash_b');
insert into public.mashups (id, creator_id, title, duration_seconds) values
  ('cccccccc-0000-4000-8000-00000000000a', tests.get_supabase_uid('dash_a'), 'Dash A', 100);
insert into public.mashup_quarter_hour_stats (mashup_id, bucket_start, plays, likes) values
  ('cccccccc-0000-4000-8000-00000000000a', '2026-03-02 10:15+00', 5, 2);

select tests.authenticate_as_anon();
select throws_ok($$ select public.get_creator_dashboard('2026-03-01', '2026-03-10') $$,
  '42501', null, 'anon may not call the dashboard RPC');

select tests.authenticate_as('dash_a');
select is((public.get_creator_dashboard('2026-03-01', '2026-03-10') -> 'summary' ->> 'totalPlays')::int, 5,
  'the creator''s own plays are summed');
select is((public.get_mashup_analytics('cccccccc-0000-4000-8000-00000000000a', '2026-03-01', '2026-03-10')
           -> 'mashup' ->> 'title'), 'Dash A', 'the creator reads their own mashup');

select tests.authenticate_as('dash_b');
select is((public.get_creator_dashboard('2026-03-01', '2026-03-10') -> 'summary' ->> 'totalPlays')::int, 0,
  'another creator''s plays are invisible');
select throws_ok($$ select public.get_mashup_analytics('cccccccc-0000-4000-8000-00000000000a', '2026-03-01', '2026-03-10') $$,
  'PGRST', '{"code" : "P0002", "message" : "mashup not found", "hint" : "id", "details" : null}',
  'another creator''s mashup is not found (PostgREST answers 404)');

select * from finish();
rollback;
