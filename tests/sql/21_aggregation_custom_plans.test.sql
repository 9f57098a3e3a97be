begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(3);

-- A long backfill calls these once a day in one session; a cached generic plan made it 7x slower.
select is_empty($$
  select p.oid::regprocedure::text
  from pg_proc p
  where p.oid in ('aggregation.mashup_day(date)'::regprocedure, 'aggregation.user_day(date)'::regprocedure,
                  'aggregation.mashup_days(date, date)'::regprocedure, 'aggregation.user_days(date, date)'::regprocedure,
                  'aggregation.recompute_plays(uuid[])'::regprocedure,
                  'aggregation.recompute_mashup_days(uuid[], date[])'::regprocedure,
                  'aggregation.recompute_user_days(uuid[], date[])'::regprocedure,
                  'aggregation.recompute_lifetime(uuid[])'::regprocedure,
                  'aggregation.run_nightly(date)'::regprocedure,
                  'aggregation.run_incremental(interval, interval, interval, timestamptz, text, boolean, interval)'::regprocedure,
                  'aggregation.fold_breakdowns()'::regprocedure,
                  'aggregation.fold_listeners()'::regprocedure, 'aggregation.fold_days_unique_plays(date, date)'::regprocedure, 'aggregation.fold_plays()'::regprocedure,
                  'aggregation.fold_users()'::regprocedure, 'aggregation.fold_new_events()'::regprocedure,
                  'aggregation.fold_follows(uuid[], date[], text[])'::regprocedure)
    and not ('plan_cache_mode=force_custom_plan' = any (coalesce(p.proconfig, '{}')))
$$, 'aggregation functions always plan for their actual arguments');

-- fold_counts() inserts the rows of the two tables with the plan's foreign keys: a forced custom plan
-- there re-planned every row's RI check (20261126160000). Its own statements have no parameters that
-- a generic plan could ignore, and every run truncates the scratch tables they read.
select is(
  (select array_agg(c order by c) from pg_proc p, unnest(p.proconfig) c
   where p.oid = 'aggregation.fold_counts()'::regprocedure and c like 'plan_cache_mode=%'),
  array['plan_cache_mode=auto'],
  'fold_counts() leaves the foreign-key checks of the rows it inserts their cached plans');

-- A day the rollups' statistics have not seen is estimated at one row: the days' unique_plays recount then
-- re-ran its recount once per row of the day (quadratic; a backfill 5.7x slower, 20261126220000).
-- Its one join is planned without nested loops, so no estimate can make it rescan.
select is(
  (select array_agg(c order by c) from pg_proc p, unnest(p.proconfig) c
   where p.oid = 'aggregation.fold_days_unique_plays(date, date)'::regprocedure and c like 'enable_nestloop=%'),
  array['enable_nestloop=off'],
  'the days'' unique_plays recount joins without nested loops');

select * from finish();
rollback;
