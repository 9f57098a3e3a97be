-- The Data API's own hardening (20261128000400, 20261128000500): the pre-request hook that refuses
-- planned and estimated counts to anon and signed-in users, set on the role PostgREST logs in as,
-- and the API roles without TRUNCATE, TRIGGER or REFERENCES on any table of the exposed schema.
-- (The HTTP side, every readable relation and duplicate Prefer headers, is
-- tests/integration/data_api_counts.test.ts.)
begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(9);

select is_empty($$
  select c.relname, r.rolname, p.privilege_type
  from pg_catalog.pg_class c
  join pg_catalog.pg_namespace n on n.oid = c.relnamespace
  cross join (values ('anon'), ('authenticated')) as r (rolname)
  cross join (values ('TRUNCATE'), ('TRIGGER'), ('REFERENCES')) as p (privilege_type)
  where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm', 'f')
    and has_table_privilege(r.rolname, c.oid, p.privilege_type) $$,
  'anon and authenticated hold no TRUNCATE, TRIGGER or REFERENCES on any relation of public');

-- A table created later by the migrations' role gets the same.
create table public.test_later_table (id int primary key);
select ok(not has_table_privilege('authenticated', 'public.test_later_table', 'TRUNCATE')
          and has_table_privilege('authenticated', 'public.test_later_table', 'SELECT'),
  'a table created later: SELECT by default (RLS decides), TRUNCATE not');

select ok(exists (
  select 1 from pg_catalog.pg_db_role_setting s
  join pg_catalog.pg_roles r on r.oid = s.setrole
  where r.rolname = 'authenticator' and 'pgrst.db_pre_request=data_api.check_request' = any (s.setconfig)),
  'PostgREST''s login role runs data_api.check_request before every request');

-- The hook as PostgREST calls it: after switching to the request's role, with request.headers set.
create function tests.check_as(p_role text, p_prefer text) returns void language plpgsql as $$
begin
  perform set_config('request.headers', json_build_object('prefer', p_prefer)::text, true);
  execute format('set local role %I', p_role);
  perform data_api.check_request();
  reset role;
end $$;

select throws_ok($$ select tests.check_as('authenticated', 'count=planned') $$, 'PGRST',
  '{"code" : "PGRST100", "message" : "prefer: count=planned and count=estimated are not available; use count=exact", "details" : "a planned count is estimated from statistics over every user''s rows, which row-level security does not filter", "hint" : "prefer"}',
  'a signed-in user''s planned count is refused, naming prefer');
reset role;
select throws_ok($$ select tests.check_as('anon', 'return=representation,Count=Estimated') $$, 'PGRST', null,
  'anon''s estimated count among other preferences is refused');
reset role;
select lives_ok($$ select tests.check_as('authenticated', 'count=exact, return=representation') $$,
  'count=exact passes (it counts what RLS lets through)');
reset role;
select lives_ok($$ select tests.check_as('authenticated', null) $$, 'no Prefer header passes');
reset role;
select lives_ok($$ select tests.check_as('service_role', 'count=planned') $$,
  'the service role reads every row anyway: its planned count passes');
reset role;
select lives_ok($$ select tests.check_as('authenticated', 'tx=rollback, return=minimal') $$,
  'other preferences pass');
reset role;

select * from finish();
rollback;
