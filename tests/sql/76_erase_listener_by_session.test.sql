-- Erasure by session id (20261127003200): a listener known only by a session id (no user, no
-- anonymous id: plain HTTP clients send such events) is erased like the others: the session's raw
-- events and the events naming it go, its listener rows are anonymised, the counts stay, and the
-- other listeners are untouched. Exactly one id per call.
begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(9);

select tests.create_supabase_user('session creator');
insert into public.mashups (id, creator_id, title, duration_seconds)
values ('cccccccc-7600-4000-8000-000000000001', tests.get_supabase_uid('session creator'), 'session mashup', 200);
create temporary table t on commit drop as select now() - interval '2 hours' as at, 'sess-76-' || gen_random_uuid() as erased;
grant select on t to service_role;

-- The session-only listener plays twice and likes; another session-only listener plays once.
insert into public.analytics_events (session_id, event_type, properties, "timestamp", received_at)
select s.session, e.type, '{"mashup_id":"cccccccc-7600-4000-8000-000000000001"}'::jsonb,
       (select at from t) + e.k * interval '1 minute', (select at from t) + e.k * interval '1 minute'
from (values ((select erased from t)), ('sess-76-kept')) s (session)
cross join (values (1, 'mashup_played'), (2, 'mashup_played'), (3, 'mashup_liked')) e (k, type)
where s.session = (select erased from t) or e.k = 1;
select aggregation.run_incremental(p_lag => '0 seconds', p_max_window => '100 years') is not null as folded;
create function pg_temp.day() returns table (plays integer, unique_plays integer, likes integer) language sql as $$
  select d.plays, d.unique_plays, d.likes from public.mashup_daily_stats d
  where d.mashup_id = 'cccccccc-7600-4000-8000-000000000001' and d.date = ((select at from t) at time zone 'UTC')::date
$$;
select results_eq('select * from pg_temp.day()', $$ values (3, 2, 1) $$, 'before: 3 plays by 2 session listeners, 1 like');
select ok(exists (select 1 from public.mashup_listeners l, t where l.listener_key = 's:' || t.erased),
  'the session is a listener of the mashup');

select tests.authenticate_as_service_role();
select throws_ok($$ select public.erase_listener(p_anonymous_id => 'x', p_session_id => 'y') $$, '22023', null,
  'one id at a time');
select is((public.erase_listener(p_session_id => (select erased from t)) ->> 'events_deleted')::integer, 3,
  'the session''s three events are deleted');
select tests.clear_authentication();

select is_empty($$ select 1 from raw_events.analytics_events e, t where e.session_id = t.erased $$,
  'no raw event of the session is left');
select is_empty($$ select 1 from public.mashup_listeners l, t where l.listener_key = 's:' || t.erased $$,
  'its listener row is anonymised');
select is_empty($$ select * from tests.rows_naming((select erased from t)) $$, 'no row of any table names the session');
select results_eq('select * from pg_temp.day()', $$ values (3, 2, 1) $$, 'the counts stay');
select is((select count(*) from raw_events.analytics_events e where e.session_id = 'sess-76-kept'), 1::bigint,
  'the other listener''s event stays');

select * from finish();
rollback;
