-- Deleting an account erases its analytics first (20261127002300). Before, the raw events' foreign
-- key set their user id to NULL: erase_listener(user id) then found nothing, the person's history
-- stayed stored under no id, and a recount keyed those events by their anonymous id, counting the
-- person a second time. Now the deletion is an erasure: the person's events and mentions go, their
-- listener rows are anonymised, the counts already made stay, and a recount does not count them again.
begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(14);

select tests.create_supabase_user('deleted creator');
select tests.create_supabase_user('deleted fan');
select tests.create_supabase_user('staying fan');
insert into public.mashups (id, creator_id, title, duration_seconds)
values ('cccccccc-7200-4000-8000-000000000001', tests.get_supabase_uid('deleted creator'), 'deleted-account mashup', 200);

create temporary table who on commit drop as
select tests.get_supabase_uid('deleted creator') as creator,
       tests.get_supabase_uid('deleted fan') as fan,
       tests.get_supabase_uid('staying fan') as stayer,
       (now() - interval '3 hours') as t0,
       (select count(*) from raw_events.erasures) as erasures_before;
grant select on who to service_role;

-- The fan plays twice, likes and follows, signed in, with a session id and no anonymous id (as the
-- audit's fan); the staying fan plays once.
insert into public.analytics_events (user_id, session_id, event_type, properties, "timestamp", received_at)
select u.id, 'sess-72-' || u.n, t.event_type,
       case when t.event_type = 'user_followed' then jsonb_build_object('creator_id', (select creator from who))
            else jsonb_build_object('mashup_id', 'cccccccc-7200-4000-8000-000000000001') end,
       (select t0 from who) + t.k * interval '1 minute', (select t0 from who) + t.k * interval '1 minute'
from (values (1, (select fan from who)), (2, (select stayer from who))) u (n, id)
cross join (values (1, 'mashup_played'), (2, 'mashup_played'), (3, 'mashup_liked'), (4, 'user_followed')) t (k, event_type)
where u.n = 1 or t.k = 1;

select aggregation.run_incremental(p_lag => '0 seconds', p_max_window => '100 years') is not null as folded;
create function pg_temp.day_counts() returns table (plays integer, unique_plays integer, likes integer)
language sql as $$
  select d.plays, d.unique_plays, d.likes from public.mashup_daily_stats d
  where d.mashup_id = 'cccccccc-7200-4000-8000-000000000001' and d.date = ((select t0 from who) at time zone 'UTC')::date
$$;
select results_eq($$ select * from pg_temp.day_counts() $$, $$ values (3, 2, 1) $$,
  'before: three plays by two listeners, one like');

-- The account is deleted as GoTrue or the dashboard would: a plain DELETE.
delete from auth.users where id = (select fan from who);

select is_empty($$ select 1 from raw_events.analytics_events e, who where e.user_id = who.fan $$,
  'no raw event keeps the deleted account''s id');
select is_empty($$ select 1 from raw_events.analytics_events e where e.session_id = 'sess-72-1' $$,
  'none of its events is left behind under no id (the foreign key''s SET NULL found nothing)');
select is_empty($$ select 1 from raw_events.analytics_events e, who
                   where strpos(e.properties::text, who.fan::text) > 0 $$,
  'no raw event mentions it');
select is((select count(*) from raw_events.analytics_events e where e.session_id = 'sess-72-2'), 1::bigint,
  'the staying fan''s event stays');
select is((select count(*) from raw_events.erasures) - (select erasures_before from who), 1::bigint,
  'the deletion is recorded as one erasure (the realtime sync rebuilds its windows on it)');
select is((select r.by_kind || ':' || r.events_deleted from raw_events.erasures r order by r.erased_at desc limit 1),
  'user_id:4', 'the erasure removed the account''s four events');
select is_empty($$ select 1 from public.mashup_listeners l, who where strpos(l.listener_key, who.fan::text) > 0 $$,
  'no listener row names the deleted account');
select results_eq($$ select * from pg_temp.day_counts() $$, $$ values (3, 2, 1) $$,
  'the counts already made stay');

-- A later recount of the day does not count the person again under another id (before, their
-- events were keyed by session once the user id was gone, and the lifetime set gained a listener).
select lives_ok($$ select aggregation.backfill_in_transaction(((select t0 from who) at time zone 'UTC')::date,
                                                            ((select t0 from who) at time zone 'UTC')::date + 1) $$,
  'the day is recounted from raw events');
select results_eq($$ select l.listener_key from public.mashup_listeners l
                     where l.mashup_id = 'cccccccc-7200-4000-8000-000000000001' and l.listener_key not like 'x:%' $$,
  $$ select 'u:' || stayer::text from who $$,
  'after the recount the only named listener is the staying fan: the deleted account is not counted again');
-- The creator's account goes too, after a reconciliation repaired its follower count (a drift row
-- names it) and with its mashup: afterwards its id is in no row of any table of ours
-- (20261127003100: the retired mashup ids and the drift rows named it before). The analysts'
-- leaderboards are materialized views refreshed by the nightly run: they drop it then.
select ok((public.reconcile_realtime_totals('{}', (extract(epoch from clock_timestamp()) * 1000000)::bigint + 1, 'pgtap')
           ->> 'run_id') is not null, 'a reconciliation runs');
select isnt_empty($$ select * from tests.rows_naming((select creator::text from who), p_materialized => false) $$,
  'before: the creator''s id is in rows of ours');
delete from auth.users where id = (select creator from who);
select is_empty($$ select * from tests.rows_naming((select creator::text from who), p_materialized => false) $$,
  'after the deletion no row of any table names the creator');

select * from finish();
rollback;
