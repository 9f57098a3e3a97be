-- The creator dashboard plans its reads once per connection (20261126230200): the RPC and its two
-- helpers use the generic plan from their first call, and the helpers are plpgsql (plans kept for
-- the session) instead of SQL functions planned again at every call. The plans must not change a
-- number: in one session, the helpers' whole-day + edge split is compared with a plain sum of the
-- 15-minute buckets over periods whose ends fall inside UTC days, in other zones' offsets and on
-- whole days. Tests 1-5 fail before the migration. Since 20261127000000 the helpers group by hashing
-- (`enable_sort = off`, test 6, which fails before it); the sums below are the same.
begin;
\ir _helpers.psql
\ir _dashboard_recount.psql
\ir _dashboard_scenario.psql
set search_path = public, extensions, tests;
select plan(10);
update raw_events.settings set retention_months = 1200;

select ok((select p.proconfig @> array['plan_cache_mode=force_generic_plan'] from pg_proc p
           where p.oid = 'dashboard.get_creator_dashboard(date, date, text, integer)'::regprocedure),
  'get_creator_dashboard uses its generic plans from the first call');
select ok((select p.proconfig @> array['plan_cache_mode=force_generic_plan'] from pg_proc p
           where p.oid = 'public.dashboard_mashup_totals(uuid[], timestamptz, timestamptz)'::regprocedure),
  'dashboard_mashup_totals uses its generic plans from the first call');
select ok((select p.proconfig @> array['plan_cache_mode=force_generic_plan'] from pg_proc p
           where p.oid = 'public.dashboard_breakdown_totals(uuid[], uuid[], timestamptz, timestamptz)'::regprocedure),
  'dashboard_breakdown_totals uses its generic plans from the first call');
select function_lang_is('public', 'dashboard_mashup_totals', array['uuid[]', 'timestamp with time zone', 'timestamp with time zone'],
  'plpgsql', 'dashboard_mashup_totals keeps its plans for the session (plpgsql)');
select function_lang_is('public', 'dashboard_breakdown_totals',
  array['uuid[]', 'uuid[]', 'timestamp with time zone', 'timestamp with time zone'],
  'plpgsql', 'dashboard_breakdown_totals keeps its plans for the session (plpgsql)');
select is((select array_agg(p.proname::text order by p.proname) from pg_proc p
           where p.pronamespace = 'public'::regnamespace and p.proname like 'dashboard\_%\_totals'
             and 'enable_sort=off' = any (p.proconfig)),
  array['dashboard_breakdown_totals', 'dashboard_mashup_totals'],
  'both helpers group their rows by hashing them');

select tests.dashboard_scenario(0.47, 'dp', 900);

-- Periods over the scenario's events: ends at quarter hours inside UTC days (Kolkata's +05:30,
-- Kathmandu's +05:45), at UTC midnight, shorter than a day inside one day, and across months.
create temporary table periods on commit drop as
with span as (select min(bucket_start) as lo, max(bucket_start) as hi from public.mashup_quarter_hour_stats)
select k, f, t from (
  select 1 as k, date_trunc('day', lo) + interval '18 hours 30 minutes' as f, hi as t from span
  union all select 2, date_trunc('day', lo) + interval '1 day', date_trunc('day', hi) from span
  union all select 3, date_trunc('day', lo) + interval '2 days 5 hours 45 minutes',
                      date_trunc('day', lo) + interval '2 days 19 hours 15 minutes' from span
  union all select 4, lo, hi + interval '15 minutes' from span
  union all select 5, date_trunc('day', lo) + interval '23 hours', date_trunc('day', lo) + interval '9 days 23 hours' from span
  union all select 6, date_trunc('day', hi) - interval '3 days 2 hours 15 minutes', hi + interval '1 day' from span
) p;
grant select on periods to authenticated;

select cmp_ok((select count(*) from public.mashup_quarter_hour_stats s join periods p on s.bucket_start >= p.f and s.bucket_start < p.t),
  '>', 200::bigint, 'the periods hold hundreds of buckets');

select results_eq(
  $$ select p.k, t.mashup_id, t.plays, t.likes
     from periods p, public.dashboard_mashup_totals(array(select m.id from public.mashups m), p.f, p.t) t
     order by 1, 2 $$,
  $$ select p.k, s.mashup_id, sum(s.plays)::bigint, sum(s.likes)::bigint
     from periods p join public.mashup_quarter_hour_stats s on s.bucket_start >= p.f and s.bucket_start < p.t
     group by 1, 2 order by 1, 2 $$,
  'plays and likes per mashup over every period equal the sum of its 15-minute buckets');

select results_eq(
  $$ select p.k, t.source collate "C", t.country collate "C", t.device collate "C", t.plays
     from periods p,
          public.dashboard_breakdown_totals(array(select distinct m.creator_id from public.mashups m),
                                            array(select m.id from public.mashups m), p.f, p.t) t
     order by 1, 2, 3, 4 $$,
  $$ select p.k, b.source collate "C", b.country collate "C", b.device collate "C", sum(b.plays)::bigint
     from periods p join public.mashup_quarter_hour_breakdowns b on b.bucket_start >= p.f and b.bucket_start < p.t
     group by 1, 2, 3, 4 order by 1, 2, 3, 4 $$,
  'sources, countries and devices over every period equal the sum of the 15-minute breakdowns');

-- As a creator, as PostgREST calls it: the same response on the first call of the session and the
-- seventh (the sixth was where plpgsql used to switch from custom to generic plans).
select tests.authenticate_as('dp-c1');
create temporary table responses (n int, r jsonb) on commit drop;
grant insert, select on responses to authenticated;
insert into responses
select n, public.get_creator_dashboard(to_char((select f from periods where k = 5), 'YYYY-MM-DD'),
                                       to_char((select t from periods where k = 5), 'YYYY-MM-DD'), 'Asia/Kathmandu', '5')
from generate_series(1, 7) n;
select tests.clear_authentication();
select is((select count(distinct r) from responses), 1::bigint,
  'seven calls as the creator in one session give one response');

select * from finish();
rollback;
