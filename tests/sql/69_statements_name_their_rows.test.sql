-- No function of ours runs a DELETE or an UPDATE without WHERE. Hosted Supabase loads pg-safeupdate
-- into the Data API's sessions, which refuses such a statement wherever it is parsed (inside a
-- function or trigger too); the local stack cannot load it (not packaged), so the rule is checked
-- on the function bodies: each statement (split at semicolons, comments removed) that deletes
-- from or updates a table must say WHERE (or WHERE CURRENT OF). `ON CONFLICT DO UPDATE SET` is
-- not such an UPDATE.
begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(2);

create temporary table statements on commit drop as
select p.oid::regprocedure::text as fn, s.stmt
from pg_proc p
join pg_namespace n on n.oid = p.pronamespace
cross join lateral regexp_split_to_table(regexp_replace(lower(p.prosrc), '--[^\n]*', '', 'g'), ';') as s (stmt)
where n.nspname in ('public', 'aggregation', 'raw_events', 'analytics', 'dashboard')
  and p.prolang in (select oid from pg_language where lanname in ('sql', 'plpgsql'));

select is_empty($$
  select fn, left(regexp_replace(stmt, '\s+', ' ', 'g'), 120) from statements
  where stmt ~ '\mdelete\s+from\s' and stmt !~ '\mwhere\M' $$,
  'every DELETE in a function says WHERE');
select is_empty($$
  select fn, left(regexp_replace(stmt, '\s+', ' ', 'g'), 120) from statements
  where stmt ~ '\mupdate\s+(only\s+)?[a-z_."]+(\s+(as\s+)?[a-z_]+)?\s+set\M'
    and stmt !~ '\mdo\s+update\s+set\M' and stmt !~ '\mwhere\M' $$,
  'every UPDATE in a function says WHERE');

select * from finish();
rollback;
