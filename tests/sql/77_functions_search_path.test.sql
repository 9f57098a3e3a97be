-- Every function and procedure of the project's schemas runs with `search_path = ''`, except a short
-- written list, each for a reason this test checks rather than trusts:
--   * small SQL helpers that PostgreSQL inlines into the statements calling them (a function with a
--     SET clause is never inlined: a call then costs ~3.7 µs instead of ~0.1, measured on 1M rows, and
--     ingest calls six of them per stored event). Inlined, their text becomes part of the caller,
--     which has `search_path = ''` itself, and they name only qualified objects;
--   * procedures that COMMIT between chunks (PostgreSQL refuses transaction control in a procedure
--     with a SET clause); they qualify every name.
-- Supabase's Security Advisor (lint 0011) reports exactly this list as `function_search_path_mutable`
-- (scripts/check-advisors.mjs, in npm test, allows no other warning).
begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(6);

create temporary table search_path_exceptions (fn regprocedure primary key, why text not null) on commit drop;
insert into search_path_exceptions values
  ('raw_events.event_code(text)', 'inlined'),
  ('raw_events.event_type("char", text)', 'inlined'),
  ('raw_events.device_code(text)', 'inlined'),
  ('raw_events.device("char")', 'inlined'),
  ('raw_events.split_uuid(jsonb, text)', 'inlined'),
  ('raw_events.stored_properties(jsonb)', 'inlined'),
  ('raw_events.client_properties(jsonb, uuid, uuid)', 'inlined'),
  ('raw_events.compact(uuid, uuid, text, jsonb, timestamptz, text, text, timestamptz, text, text)', 'inlined'),
  ('raw_events.compact_row(uuid, uuid, text, jsonb, timestamptz, text, text, timestamptz, text, text)', 'inlined'),
  ('raw_events.realtime_counter(text)', 'inlined'),
  ('raw_events.realtime_subject(text, uuid, jsonb)', 'inlined'),
  ('aggregation.fold_columns(raw_events.analytics_events)', 'inlined'),
  ('aggregation.backfill(date, date)', 'commits'),
  ('aggregation.rebuild_queued_days(integer)', 'commits');

-- The functions Supabase's advisor looks at: outside its system schemas, not owned by an extension.
create temporary view project_functions as
  select p.oid, p.oid::regprocedure as fn, p.prokind, p.prosecdef, p.proretset, l.lanname, p.prosrc,
         (select array_agg(c) from unnest(p.proconfig) c where c like 'search_path=%') as search_path
  from pg_catalog.pg_proc p
  join pg_catalog.pg_namespace n on n.oid = p.pronamespace
  join pg_catalog.pg_language l on l.oid = p.prolang
  where n.nspname not in ('auth', 'cron', 'extensions', 'graphql', 'graphql_public', 'information_schema',
                          'net', 'pg_catalog', 'pgbouncer', 'pgsodium', 'realtime', 'storage', 'vault',
                          'supabase_functions', 'supabase_migrations', 'tests')
    and n.nspname not like 'pg\_%'
    and not exists (select 1 from pg_catalog.pg_depend d
                    where d.classid = 'pg_catalog.pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e');

select set_eq(
  $$ select fn from project_functions where search_path is null $$,
  $$ select fn from search_path_exceptions $$,
  'exactly the listed functions run without a search_path of their own');

select is_empty(
  $$ select fn::text || ' ' || search_path::text from project_functions
     where search_path is not null and search_path <> array['search_path=""'] $$,
  'every other function sets search_path to the empty string');

-- Inlined helpers: SQL, security invoker, and actually inlined. Each is called on columns of a table
-- (constant arguments would be folded away whether inlined or not); a call that is not inlined shows
-- up in the plan by name, as an expression or as a Function Scan.
create temporary table not_inlined (fn regprocedure, plan text) on commit drop;
do $$
declare
  f record;
  args text;
  cols text;
  plan_text text;
  line text;
begin
  for f in
    select e.fn, p.proretset, p.proname, l.lanname, p.prosecdef, p.proargtypes
    from search_path_exceptions e
    join pg_catalog.pg_proc p on p.oid = e.fn
    join pg_catalog.pg_language l on l.oid = p.prolang
    where e.why = 'inlined'
  loop
    if f.lanname <> 'sql' or f.prosecdef then
      insert into not_inlined values (f.fn, 'not a security invoker SQL function');
      continue;
    end if;
    select string_agg(format('a%s %s', i, format_type(t, null)), ', ' order by i),
           string_agg(format('a.a%s', i), ', ' order by i)
      into cols, args
      from unnest(f.proargtypes::oid[]) with ordinality u(t, i);
    execute 'drop table if exists pg_temp.inline_args';
    execute format('create temporary table inline_args (%s)', cols);
    plan_text := '';
    for line in execute format(
      case when f.proretset
           then 'explain (verbose, costs off) select * from pg_temp.inline_args a cross join lateral %s(%s) r'
           else 'explain (verbose, costs off) select %s(%s) from pg_temp.inline_args a' end,
      f.fn::regproc::text, args)
    loop
      plan_text := plan_text || line || E'\n';
    end loop;
    if plan_text ~ ('\m' || f.proname || '\(') or plan_text ~ ('Function Scan on ' || f.proname) then
      insert into not_inlined values (f.fn, plan_text);
    end if;
  end loop;
end
$$;
select is_empty($$ select fn::text || E'\n' || plan from not_inlined $$,
  'every listed helper is an SQL function that PostgreSQL inlines into its caller');

select is_empty(
  $$ select e.fn::text from search_path_exceptions e join project_functions p using (fn)
     where e.why = 'commits' and not (p.prokind = 'p' and p.prosrc ~* '\mcommit\M') $$,
  'every listed procedure commits (and so cannot have a SET clause)');

-- The helpers are executable only where their callers need them, never as SECURITY DEFINER.
select is_empty(
  $$ select fn::text from project_functions where search_path is null and prosecdef $$,
  'no function without a search_path of its own runs as its owner');

-- Hosted Supabase's advisor also warns of SECURITY DEFINER functions that anon or authenticated may
-- execute (splinter lints 0028 and 0029, newer than the pinned CLI's advisor): each of ours is called
-- by a trigger, a job or the service role, and runs as its owner for a reason its migration writes.
select is_empty(
  $$ select fn::text from project_functions
     where prosecdef and (has_function_privilege('anon', oid, 'EXECUTE')
                          or has_function_privilege('authenticated', oid, 'EXECUTE')) $$,
  'no SECURITY DEFINER function is executable by anon or authenticated');

select * from finish();
rollback;
