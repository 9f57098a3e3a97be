begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(16);

-- whole_percentages: floors plus largest remainders, always 100 --------------------------------
select results_eq($$ select key, percentage from public.whole_percentages(array['a','b','c'], array[1,1,1]::bigint[]) $$,
  $$ values ('a', 34), ('b', 33), ('c', 33) $$, 'three equal shares: 34/33/33, ties by key');
select results_eq($$ select key, percentage from public.whole_percentages(array['x','y','z'], array[2,1,7]::bigint[]) $$,
  $$ values ('z', 70), ('x', 20), ('y', 10) $$, 'exact shares stay exact, busiest first');
select is((select sum(percentage)::int from public.whole_percentages(array['a','b','c','d','e','f','g'],
          array[13,7,29,1,3,3,11]::bigint[])), 100, 'percentages of awkward counts sum to 100');
select is_empty($$ select * from public.whole_percentages(array['a'], array[0]::bigint[]) $$,
  'no counts, no percentages');
-- Equal remainders are equal whatever the counts' sizes (20261127003600): 5900 and 300 both leave 300
-- of 560; as numeric shares the small count's carried more digits and took the point.
select results_eq($$ select key, percentage from public.whole_percentages(array['a','b','c'], array[59,3,498]::bigint[]) $$,
  $$ values ('c', 89), ('a', 11), ('b', 0) $$, 'on equal remainders the larger count gets the point');
-- The rule over many splits (every split of up to 30 + 30 + 30, 3,000 of up to 1,000 each, and
-- shares under 1 % beside shares over 10 %, which carry different numbers of digits as numerics): sums to 100, each within a point of
-- its exact share, and of two equal remainders the smaller count never gets the point the larger did not.
select is_empty($$
  with splits as (
    select array[x, y, z]::bigint[] as counts from generate_series(0, 30) x, generate_series(0, 30) y, generate_series(0, 30) z
    where x + y + z > 0
    union all
    select array[(i * 7919) % 1000, (i * 104729) % 997, (i * 1299709) % 1013]::bigint[]
    from generate_series(1::bigint, 3000) i
    union all
    select array[x, y, z]::bigint[] from generate_series(1, 9) x, generate_series(10, 99) y, generate_series(400, 600, 7) z
  ), p as (
    select s.counts, w.key, w.count, w.percentage, (select sum(c) from unnest(s.counts) c)::bigint as total
    from splits s cross join lateral public.whole_percentages(array['a', 'b', 'c'], s.counts) w
  )
  select counts from p group by counts having sum(percentage) <> 100
  union all
  select counts from p where abs(percentage - count * 100.0 / total) >= 1
  union all
  select p1.counts from p p1 join p p2 on p2.counts = p1.counts and p1.count > p2.count
  where (p1.count * 100) % p1.total = (p2.count * 100) % p2.total
    and p1.percentage - (p1.count * 100) / p1.total < p2.percentage - (p2.count * 100) / p2.total
$$, 'sums to 100, within a point of the share, equal remainders go to the larger count (many splits)');

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
-- 5 plays and 2 likes in one bucket, folded into every rollup the dashboard reads.
insert into public.analytics_events (event_type, properties, "timestamp", session_id)
select t, '{"mashup_id": "cccccccc-0000-4000-8000-00000000000a"}', '2026-03-02 10:20+00', 'sess-dash-' || i
from generate_series(1, 7) as i, lateral (select case when i <= 5 then 'mashup_played' else 'mashup_liked' end as t) x;
select public.aggregate_mashup_stats('2026-03-02');

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
