-- compare=previous in SQL: the change rule, the previous period's totals and series, and RLS.
begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(13);

-- percent_change: whole percent, null without a previous figure (the growth rule) ---------------
select is(public.percent_change(150, 100), 50, 'up by half is 50');
select is(public.percent_change(1, 3), -67, 'down by two thirds rounds to -67');
select is(public.percent_change(7, 0), null, 'no previous figure, no percentage');
select is(public.percent_change(0, 0), null, 'nothing before and after: no percentage');

select tests.create_supabase_user('cmp_a');
select tests.create_supabase_user('cmp_b');
select tests.create_supabase_user('cmp_fan1');
select tests.create_supabase_user('cmp_fan2');
insert into public.mashups (id, creator_id, title, duration_seconds) values
  ('dddddddd-0000-4000-8000-00000000000a', tests.get_supabase_uid('cmp_a'), 'Compare A', 100);
-- Previous period of 2026-03-08..03-10 is 03-06..03-08: 4 plays there, 6 now; one bucket just before both.
insert into public.mashup_quarter_hour_stats (mashup_id, bucket_start, plays, likes, shares) values
  ('dddddddd-0000-4000-8000-00000000000a', '2026-03-05 23:45+00', 100, 0, 0),
  ('dddddddd-0000-4000-8000-00000000000a', '2026-03-06 00:00+00', 3, 1, 0),
  ('dddddddd-0000-4000-8000-00000000000a', '2026-03-07 23:45+00', 1, 0, 2),
  ('dddddddd-0000-4000-8000-00000000000a', '2026-03-08 00:00+00', 6, 2, 1);
insert into public.follows (follower_id, creator_id, created_at) values
  (tests.get_supabase_uid('cmp_fan1'), tests.get_supabase_uid('cmp_a'), '2026-01-01'),
  (tests.get_supabase_uid('cmp_fan2'), tests.get_supabase_uid('cmp_a'), '2026-03-09');

select tests.authenticate_as_anon();
select throws_ok($$ select public.get_creator_dashboard_with_comparison('2026-03-08', '2026-03-10') $$,
  '42501', null, 'anon may not call the comparison RPC');

select tests.authenticate_as('cmp_a');
select is(public.get_creator_dashboard_with_comparison('2026-03-08', '2026-03-10') - 'comparison',
          public.get_creator_dashboard('2026-03-08', '2026-03-10'),
          'the response besides `comparison` is the plan''s dashboard exactly');
select is(public.get_creator_dashboard_with_comparison('2026-03-08', '2026-03-10') -> 'comparison' -> 'summary',
          '{"totalPlays": 4, "totalLikes": 1, "totalShares": 2, "followers": 1, "following": 0}'::jsonb,
          'previous totals; followers at the start of the period');
select is(public.get_creator_dashboard_with_comparison('2026-03-08', '2026-03-10') -> 'comparison' -> 'change',
          '{"totalPlays": 50, "totalLikes": 100, "totalShares": -50, "followers": 100, "following": null}'::jsonb,
          'change in whole percent');
select is(public.get_creator_dashboard_with_comparison('2026-03-08', '2026-03-10') -> 'comparison' -> 'trends' -> 'playsOverTime',
          '[{"date": "2026-03-06", "plays": 3}, {"date": "2026-03-07", "plays": 1}]'::jsonb,
          'the previous period''s daily series, zero-filled and in order');
select is(public.get_mashup_analytics_with_comparison('dddddddd-0000-4000-8000-00000000000a', '2026-03-08', '2026-03-10')
            -> 'comparison' -> 'summary',
          '{"plays": 4, "likes": 1, "shares": 2}'::jsonb, 'a mashup''s previous totals');
select throws_ok($$ select public.get_creator_dashboard_with_comparison('2026-03-08', '2026-03-10', 'UTC', '10', 'year') $$,
  '22023', 'compare must be previous', 'an unknown comparison is refused');

select tests.authenticate_as('cmp_b');
select is((public.get_creator_dashboard_with_comparison('2026-03-08', '2026-03-10') -> 'comparison' -> 'summary'
           ->> 'totalPlays')::int, 0, 'another creator''s previous plays are invisible');
select throws_ok($$ select public.get_mashup_analytics_with_comparison('dddddddd-0000-4000-8000-00000000000a',
                                                                       '2026-03-08', '2026-03-10') $$,
  'PGRST', null, 'another creator''s mashup is not found, comparison or not');

select * from finish();
rollback;
