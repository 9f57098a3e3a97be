begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(28);

-- The plan's tables with the contract's fixes ----------------------------------------------------
select has_view('public', 'analytics_events', 'analytics_events exists (a view over the compact raw_events.analytics_events)');
select has_table('public', 'mashup_daily_stats', 'mashup_daily_stats exists');
select has_table('public', 'user_daily_stats', 'user_daily_stats exists');
select has_table('public', 'mashups', 'mashups exists');
select has_table('public', 'follows', 'follows exists');
select col_type_is('public', 'analytics_events', 'timestamp', 'timestamp with time zone',
  'analytics_events.timestamp is timestamptz');
select columns_are('public', 'mashup_daily_stats',
  array['id', 'mashup_id', 'date', 'plays', 'unique_plays', 'likes', 'shares', 'comments', 'downloads',
        'avg_watch_time'], 'mashup_daily_stats has exactly the plan''s columns');
select columns_are('public', 'user_daily_stats',
  array['id', 'user_id', 'date', 'mashups_created', 'plays_received', 'followers_gained'],
  'user_daily_stats has exactly the plan''s columns');
select col_is_unique('public', 'mashup_daily_stats', array['mashup_id', 'date'], 'UNIQUE(mashup_id, date)');
select col_is_unique('public', 'user_daily_stats', array['user_id', 'date'], 'UNIQUE(user_id, date)');
-- The plan's (user_id, timestamp) / (event_type, timestamp) b-trees are replaced by monthly
-- partitions plus BRIN on time (decisions.md, issue 11).
select has_index('raw_events', 'analytics_events', 'idx_analytics_events_timestamp', 'a time index (BRIN) on raw events');
select has_index('raw_events', 'analytics_events', 'idx_analytics_events_received', 'a received_at index (BRIN) on raw events');
select has_index('public', 'follows', 'follows_created_at_idx', 'a day rebuild finds the day''s follows by created_at (user_day)');

-- Every table of every exposed schema has RLS ----------------------------------------------------
-- "Exposed" is read from the privileges, not from a list: any schema anon or authenticated may use
-- (public, and any other a migration grants) holding a table those roles have privileges on.
create function pg_temp.unprotected_tables() returns setof text language sql as $$
  select n.nspname || '.' || c.relname
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where c.relkind in ('r', 'p') and not c.relrowsecurity
    and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_(temp|toast)'
    and (has_schema_privilege('anon', n.oid, 'usage') or has_schema_privilege('authenticated', n.oid, 'usage'))
    and (has_table_privilege('anon', c.oid, 'select,insert,update,delete')
         or has_table_privilege('authenticated', c.oid, 'select,insert,update,delete'))
$$;
select is_empty('select * from pg_temp.unprotected_tables()',
  'every table the API roles can reach, in any schema they may use, has row-level security enabled');
-- The check sees beyond public: a table without RLS in another schema granted to the API is caught.
create schema rls_probe;
grant usage on schema rls_probe to authenticated;
create table rls_probe.leaky (id int);
grant select on rls_probe.leaky to authenticated;
select results_eq('select * from pg_temp.unprotected_tables()', $$ values ('rls_probe.leaky') $$,
  'a table without RLS in a non-public exposed schema is reported');
drop schema rls_probe cascade;

-- Idempotency: the same client event id stored twice is one event --------------------------------
insert into public.analytics_events (id, event_type, session_id) values
  ('aaaaaaaa-0000-4000-8000-000000000001', 'mashup_liked', 's1');
insert into public.analytics_events (id, event_type, session_id) values
  ('aaaaaaaa-0000-4000-8000-000000000001', 'mashup_liked', 's1');
select is((select count(*) from public.analytics_events where id = 'aaaaaaaa-0000-4000-8000-000000000001'),
  1::bigint, 'a second row with the same event id is not stored');

-- Listener key: user id, else anonymous id, else session id
select results_eq($$
  with r as (
    insert into public.analytics_events (event_type, user_id, anonymous_id, session_id) values
      ('x', tests.create_supabase_user('listener'), 'anon-1', 's-1'),
      ('x', null, 'anon-2', 's-2'),
      ('x', null, null, 's-3')
    returning listener_key, user_id
  ) select listener_key from r order by listener_key
$$, $$ values ('a:anon-2'), ('s:s-3'), ('u:' || tests.get_supabase_uid('listener')::text) $$,
  'listener_key prefers the user id, then the anonymous id, then the session id');

-- Fixture: two creators, one mashup each, daily stats for both ----------------------------------
select tests.create_supabase_user('creator_a');
select tests.create_supabase_user('creator_b');
insert into public.mashups (id, creator_id, title, duration_seconds) values
  ('bbbbbbbb-0000-4000-8000-00000000000a', tests.get_supabase_uid('creator_a'), 'A mix', 180),
  ('bbbbbbbb-0000-4000-8000-00000000000b', tests.get_supabase_uid('creator_b'), 'B mix', 200);
insert into public.mashup_daily_stats (mashup_id, date, plays) values
  ('bbbbbbbb-0000-4000-8000-00000000000a', '2026-01-01', 10),
  ('bbbbbbbb-0000-4000-8000-00000000000b', '2026-01-01', 20);
insert into public.user_daily_stats (user_id, date, plays_received) values
  (tests.get_supabase_uid('creator_a'), '2026-01-01', 10),
  (tests.get_supabase_uid('creator_b'), '2026-01-01', 20);
insert into public.follows (follower_id, creator_id) values
  (tests.get_supabase_uid('creator_b'), tests.get_supabase_uid('creator_a'));

-- anon reads nothing and writes no raw events ----------------------------------------------------
select tests.authenticate_as_anon();
select is_empty('select * from public.analytics_events', 'anon reads nothing from analytics_events');
select is_empty('select * from public.mashups', 'anon reads no mashups');
select is_empty('select * from public.mashup_daily_stats', 'anon reads no daily stats');
select throws_ok($$ insert into public.analytics_events (event_type, session_id) values ('mashup_liked', 'x') $$,
  '42501', null, 'anon cannot insert raw events around the track function');

-- A creator sees their own rows only -------------------------------------------------------------
select tests.authenticate_as('creator_a');
select results_eq('select title from public.mashups', $$ values ('A mix') $$,
  'creator A sees only their own mashup');
select results_eq('select plays from public.mashup_daily_stats', $$ values (10) $$,
  'creator A reads only their own mashup''s daily stats');
-- (the fixture's follow of creator A also gives A a row for today: followers_gained, migration 055000)
select results_eq($$ select user_id, plays_received from public.user_daily_stats where date = '2026-01-01' $$,
  $$ values (tests.get_supabase_uid('creator_a'), 10) $$,
  'creator A reads only their own user stats');
select is_empty('select * from public.analytics_events', 'a creator reads no raw events');
select results_eq($$ select (public.whoami() ->> 'user_id')::uuid, (public.whoami() ->> 'mashups')::int $$,
  $$ values (tests.get_supabase_uid('creator_a'), 1) $$, 'whoami() reports the caller and what RLS lets them see');

select tests.authenticate_as('creator_b');
select is_empty($$ select * from public.mashup_daily_stats where mashup_id = 'bbbbbbbb-0000-4000-8000-00000000000a' $$,
  'creator B cannot read creator A''s daily stats');
select throws_ok($$ update public.mashup_daily_stats set plays = 0 $$, '42501', null,
  'creators cannot write rollups');

select * from finish();
rollback;
