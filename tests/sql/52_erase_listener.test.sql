-- Erasure: public.erase_listener removes one listener's raw events, bot rows and listener rows, by
-- user id or anonymous id, also after their months were dropped by retention; afterwards their id
-- appears in no row of any table of ours, and the dashboard counts stay.
begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(16);

select ok(not has_function_privilege('anon', 'public.erase_listener(uuid, text, text)', 'execute'), 'anon may not erase');
select ok(not has_function_privilege('authenticated', 'public.erase_listener(uuid, text, text)', 'execute'),
  'a signed-in user may not erase');
select ok(has_function_privilege('service_role', 'public.erase_listener(uuid, text, text)', 'execute'),
  'the service role may erase');

select tests.create_supabase_user('erase creator');
select tests.create_supabase_user('erased fan');
select tests.create_supabase_user('kept fan');
insert into public.mashups (id, creator_id, title, duration_seconds)
values ('cccccccc-5200-4000-8000-000000000001', tests.get_supabase_uid('erase creator'), 'erasure mashup', 200);

-- Events of the erased user, of an erased anonymous listener and of a kept fan, in three months
-- (one of them about to be dropped by retention), a bot row quoting the user and a follow of them.
create temporary table who on commit drop as
select tests.get_supabase_uid('erased fan') as erased_user, 'anon-erase-' || gen_random_uuid() as erased_anon,
       tests.get_supabase_uid('kept fan') as kept_user,
       (date_trunc('month', now() at time zone 'UTC') - interval '3 months') at time zone 'UTC' as old_month;
grant select on who to service_role;

insert into public.analytics_events (user_id, anonymous_id, session_id, event_type, properties, "timestamp", received_at)
select l.user_id, l.anonymous_id, 'sess-' || l.n, 'mashup_played',
       jsonb_build_object('mashup_id', 'cccccccc-5200-4000-8000-000000000001', 'play_id', gen_random_uuid()),
       ts, ts + interval '1 minute'
from (values (1, (select erased_user from who), null::text), (2, null, (select erased_anon from who)),
             (3, (select kept_user from who), null)) l (n, user_id, anonymous_id)
cross join lateral (values ((select old_month from who) + interval '2 days'),
                           ((select old_month from who) + interval '1 month 2 days'),
                           (now() - interval '1 hour')) t (ts);
insert into public.analytics_events (user_id, session_id, event_type, properties, "timestamp", received_at)
values ((select kept_user from who), 'sess-follow', 'user_followed',
        jsonb_build_object('creator_id', (select erased_user from who)), now() - interval '2 hours', now() - interval '2 hours');
insert into public.analytics_bot_events (id, event_type, properties, "timestamp", user_agent)
values (gen_random_uuid(), 'mashup_liked', jsonb_build_object('mashup_id', 'cccccccc-5200-4000-8000-000000000001',
        'anonymous_id', (select erased_anon from who)), now(), 'Googlebot');

select count(*) from (select public.aggregate_mashup_stats(d) from (
  select distinct (e."timestamp" at time zone 'UTC')::date as d from public.analytics_events e
  where e.mashup_id = 'cccccccc-5200-4000-8000-000000000001') days) folded;
select is((select count(*) from public.mashup_listeners where mashup_id = 'cccccccc-5200-4000-8000-000000000001'),
  3::bigint, 'three listeners are in mashup_listeners');
create temporary table lifetime_before on commit drop as
select * from public.mashup_lifetime_stats where mashup_id = 'cccccccc-5200-4000-8000-000000000001';
create temporary table daily_before on commit drop as
select * from public.mashup_daily_stats where mashup_id = 'cccccccc-5200-4000-8000-000000000001';

-- Retention drops the old month first (shortened horizon, final rollups).
update raw_events.settings set retention_months = 2;
insert into aggregation.watermarks (job, received_through, updated_at) values ('incremental', now(), now())
on conflict (job) do update set received_through = now();
insert into aggregation.runs (job, status, started_at, finished_at, duration_ms, window_start, window_end)
values ('nightly', 'succeeded', now(), now(), 0, now() - interval '1 day', now());
select ok(raw_events.drop_expired() > 0, 'retention dropped the listener''s oldest month');

select isnt_empty($$ select * from tests.rows_naming((select erased_user from who)::text) $$,
  'before: the user id is in raw events and listener rows');

select tests.authenticate_as_service_role();
create temporary table erased_user on commit drop as
select public.erase_listener(p_user_id => (select erased_user from who)) as result;
create temporary table erased_anon on commit drop as
select public.erase_listener(p_anonymous_id => (select erased_anon from who)) as result;
select throws_ok($$ select public.erase_listener() $$, '22023', null, 'erasure needs an id');
select throws_ok($$ select public.erase_listener(gen_random_uuid(), 'x') $$, '22023', null,
  'erasure takes one id at a time');
select tests.clear_authentication();

select is((select (result ->> 'events_deleted')::int from erased_user), 3,
  'the user''s two kept events and the follow naming them are deleted');
select is((select (result ->> 'listener_rows_anonymised')::int from erased_user), 1,
  'their listener row is anonymised (it outlived the dropped month)');
select is((select (result ->> 'bot_events_deleted')::int from erased_anon), 1, 'the bot row quoting the anonymous id is deleted');
-- public.follows and public.mashups are the app's account data (who follows whom, who made what),
-- not analytics: they go with the account (auth.users, ON DELETE CASCADE), not with this erasure.
select is_empty($$ select * from tests.rows_naming((select erased_user from who)::text)
                   where relation not in ('follows', 'mashups', 'public.follows', 'public.mashups') $$,
  'afterwards the user id appears in no row of any analytics table');
select is_empty($$ select * from tests.rows_naming((select erased_anon from who)) $$,
  'nor does the anonymous id');
select isnt_empty($$ select * from tests.rows_naming((select kept_user from who)::text) $$,
  'the other listener is untouched');
select results_eq($$ select to_jsonb(l) from public.mashup_lifetime_stats l
                     where mashup_id = 'cccccccc-5200-4000-8000-000000000001' $$,
  $$ select to_jsonb(l) from lifetime_before l $$, 'lifetime counts, unique listeners included, stay');
select results_eq($$ select to_jsonb(d) from public.mashup_daily_stats d
                     where mashup_id = 'cccccccc-5200-4000-8000-000000000001' order by date $$,
  $$ select to_jsonb(d) from daily_before d order by date $$, 'daily counts stay');

select * from finish();
rollback;
