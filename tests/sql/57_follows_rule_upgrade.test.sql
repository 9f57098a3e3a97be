-- The upgrade of a database with data to the follows rule: user_daily_stats computed the old way
-- (distinct listener keys of user_followed events, anonymous ones included) is made consistent with
-- public.follows by the upgrade migration, run here on such data.
begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(4);

select tests.create_supabase_user(u) from unnest(array['up_creator', 'up_fan_table', 'up_fan_event']) as u;

-- The state before the upgrade: no events trigger yet, so events wrote no follows ...
alter table raw_events.analytics_events disable trigger analytics_events_follows;
alter table public.follows disable trigger follows_recompute_day;
insert into public.follows (follower_id, creator_id, created_at)
values (tests.get_supabase_uid('up_fan_table'), tests.get_supabase_uid('up_creator'), '2026-02-10 10:00+00');
insert into public.analytics_events (event_type, user_id, anonymous_id, properties, "timestamp") values
  ('user_followed', null, 'anon-up', jsonb_build_object('creator_id', tests.get_supabase_uid('up_creator')), '2026-02-10 11:00+00'),
  ('user_followed', tests.get_supabase_uid('up_fan_event'), null,
   jsonb_build_object('creator_id', tests.get_supabase_uid('up_creator')), '2026-02-11 11:00+00');
-- ... and followers_gained counted events: one anonymous follower on the 10th, one on the 11th.
insert into public.user_daily_stats (user_id, date, followers_gained) values
  (tests.get_supabase_uid('up_creator'), '2026-02-10', 1), (tests.get_supabase_uid('up_creator'), '2026-02-11', 1);
alter table raw_events.analytics_events enable trigger analytics_events_follows;
alter table public.follows enable trigger follows_recompute_day;

\ir ../../supabase/migrations/20261126055400_follows_rule_upgrade.sql

select results_eq($$ select date, followers_gained from public.user_daily_stats
                     where user_id = tests.get_supabase_uid('up_creator') order by date $$,
  $$ values ('2026-02-10'::date, 1) $$,
  'after the upgrade: the table follow on the 10th; the anonymous and the unrecorded event follows are no follows');
select is((select sum(followers_gained)::int from public.user_daily_stats where user_id = tests.get_supabase_uid('up_creator')),
  (select count(*)::int from public.follows where creator_id = tests.get_supabase_uid('up_creator')),
  'sum(followers_gained) = followers from the upgrade on');
select is((select count(*)::int from public.follows where follower_id = tests.get_supabase_uid('up_fan_event')), 0,
  'an event stored before the upgrade is not turned into a follow (its unfollow could not be told apart)');
-- from now on the same user's follow event is a follow
insert into public.analytics_events (event_type, user_id, properties, "timestamp") values
  ('user_followed', tests.get_supabase_uid('up_fan_event'), jsonb_build_object('creator_id', tests.get_supabase_uid('up_creator')),
   '2026-02-12 09:00+00');
select is((select count(*)::int from public.follows where follower_id = tests.get_supabase_uid('up_fan_event')), 1,
  'after the upgrade a signed-in follow event is a follow');

select * from finish();
rollback;
