-- One rule for followers, following and followers_gained, whichever way a follow arrives
-- (public.follows, a signed-in user_followed event, or both), unfollows included
-- (supabase/migrations/20261126055000_follows_one_rule.sql; docs/api.md).
begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(13);
-- Fixed dates in March 2026: keep them inside the raw-event retention horizon, with their month's
-- partition, whatever today's date (issue 11).
update raw_events.settings set retention_months = 1200;
select raw_events.create_month('2026-03-01');

select tests.create_supabase_user(u) from unnest(array['creator', 'peer', 'fan_table', 'fan_event', 'fan_both',
  'fan_gone', 'fan_twice']) as u;

-- by the table, as the app writes it (signed in, under RLS; the database dates it), then moved to
-- the test's days by an operator (the service role may set created_at, users may not:
-- 20261127001100; such an update recomputes the days it leaves and reaches)
select tests.authenticate_as('fan_table');
insert into public.follows (follower_id, creator_id) values (auth.uid(), tests.get_supabase_uid('creator'));
select tests.authenticate_as('fan_both');
insert into public.follows (follower_id, creator_id) values (auth.uid(), tests.get_supabase_uid('creator'));
select tests.authenticate_as('fan_gone');
insert into public.follows (follower_id, creator_id) values (auth.uid(), tests.get_supabase_uid('creator'));
select tests.authenticate_as('creator');
insert into public.follows (follower_id, creator_id) values (auth.uid(), tests.get_supabase_uid('peer'));
select tests.authenticate_as_service_role();
update public.follows f set created_at = d.at::timestamptz
from (values ('fan_table', 'creator', '2026-03-10 10:00+00'), ('fan_both', 'creator', '2026-03-11 08:00+00'),
             ('fan_gone', 'creator', '2026-03-11 09:00+00'), ('creator', 'peer', '2026-03-11 09:30+00')) as d (fan, followed, at)
where f.follower_id = tests.get_supabase_uid(d.fan) and f.creator_id = tests.get_supabase_uid(d.followed);
select tests.clear_authentication();

-- by events, as the track function stores them (service role): signed-in follows, the same pair
-- twice, the pair that also has a table row, an anonymous follow, and a follow of nobody real
select tests.authenticate_as_service_role();
select count(*) from public.ingest_events(jsonb_build_array(
  jsonb_build_object('id', gen_random_uuid(), 'type', 'user_followed', 'user_id', tests.get_supabase_uid('fan_event'),
    'timestamp', '2026-03-10 12:00+00', 'properties', jsonb_build_object('creator_id', tests.get_supabase_uid('creator'))),
  jsonb_build_object('id', gen_random_uuid(), 'type', 'user_followed', 'user_id', tests.get_supabase_uid('fan_twice'),
    'timestamp', '2026-03-10 13:00+00', 'properties', jsonb_build_object('creator_id', upper(tests.get_supabase_uid('creator')::text))),
  jsonb_build_object('id', gen_random_uuid(), 'type', 'user_followed', 'user_id', tests.get_supabase_uid('fan_twice'),
    'timestamp', '2026-03-11 13:00+00', 'properties', jsonb_build_object('creator_id', tests.get_supabase_uid('creator'))),
  jsonb_build_object('id', gen_random_uuid(), 'type', 'user_followed', 'user_id', tests.get_supabase_uid('fan_both'),
    'timestamp', '2026-03-11 08:05+00', 'properties', jsonb_build_object('creator_id', tests.get_supabase_uid('creator'))),
  jsonb_build_object('id', gen_random_uuid(), 'type', 'user_followed', 'anonymous_id', 'anon-follower',
    'timestamp', '2026-03-10 14:00+00', 'properties', jsonb_build_object('creator_id', tests.get_supabase_uid('creator'))),
  jsonb_build_object('id', gen_random_uuid(), 'type', 'user_followed', 'user_id', tests.get_supabase_uid('fan_event'),
    'timestamp', '2026-03-10 15:00+00', 'properties', jsonb_build_object('creator_id', gen_random_uuid()))
));
select tests.clear_authentication();

-- an unfollow (the row's deletion), by the follower under RLS
select tests.authenticate_as('fan_gone');
delete from public.follows where follower_id = auth.uid();
select tests.clear_authentication();

-- the jobs run over both days, as the 5-minute and nightly jobs would
select aggregation.user_day('2026-03-10');
select aggregation.user_day('2026-03-11');

select bag_eq($$ select follower_id from public.follows where creator_id = tests.get_supabase_uid('creator') $$,
  $$ select tests.get_supabase_uid(u) from unnest(array['fan_table', 'fan_event', 'fan_both', 'fan_twice']) as u $$,
  'table, event and both each make one follow; anonymous and unfollowed ones none');
select is((select created_at from public.follows where follower_id = tests.get_supabase_uid('fan_twice')),
  '2026-03-10 13:00+00'::timestamptz, 'the first arrival of a pair is its follow time');

select tests.authenticate_as('creator');
select is((public.get_creator_dashboard('2026-03-01', '2026-04-01') -> 'summary' ->> 'followers')::int, 4,
  'summary.followers counts follows from the table and from events');
select is((public.get_creator_dashboard('2026-03-01', '2026-04-01') -> 'summary' ->> 'following')::int, 1,
  'summary.following counts the creator''s own follows');
select results_eq($$ select date, followers_gained from public.user_daily_stats
                     where user_id = auth.uid() order by date $$,
  $$ values ('2026-03-10'::date, 3), ('2026-03-11'::date, 1) $$,
  'followers_gained per day: follows made that day that still stand');
select is((select sum(followers_gained)::int from public.user_daily_stats where user_id = auth.uid()),
  (public.get_creator_dashboard('2026-03-01', '2026-04-01') -> 'summary' ->> 'followers')::int,
  'the days'' followers_gained add up to followers');
select tests.clear_authentication();

-- a direct unfollow updates its day at once; a direct follow too
select tests.authenticate_as('fan_table');
delete from public.follows where follower_id = auth.uid();
select tests.clear_authentication();
select is((select followers_gained from public.user_daily_stats
           where user_id = tests.get_supabase_uid('creator') and date = '2026-03-10'), 2,
  'an unfollow takes its follow out of its day without waiting for a job');
select tests.authenticate_as('peer');
insert into public.follows (follower_id, creator_id) values (auth.uid(), tests.get_supabase_uid('creator'));
select tests.authenticate_as_service_role();
update public.follows set created_at = '2026-03-12 10:00+00'
where follower_id = tests.get_supabase_uid('peer') and creator_id = tests.get_supabase_uid('creator');
select tests.clear_authentication();
select is((select followers_gained from public.user_daily_stats
           where user_id = tests.get_supabase_uid('creator') and date = '2026-03-12'), 1,
  'a direct follow is in its day without waiting for a job');
select is((select sum(followers_gained)::int from public.user_daily_stats where user_id = tests.get_supabase_uid('creator')),
  (select count(*)::int from public.follows where creator_id = tests.get_supabase_uid('creator')),
  'still: the sum of followers_gained is followers');

-- while an aggregation job holds the lock (another session), a follow does not wait: its day is
-- queued, and the pg_cron job `follow-days` recomputes it; the queue path is exercised directly
select results_eq($$ select schedule, command from cron.job where jobname = 'follow-days' $$,
  $$ values ('* * * * *'::text, 'select aggregation.run_pending_user_days()'::text) $$,
  'pg_cron recomputes queued follow days every minute');
insert into aggregation.pending_user_days (user_id, day) values (tests.get_supabase_uid('creator'), '2026-03-13');
insert into public.follows (follower_id, creator_id, created_at)
values (tests.get_supabase_uid('fan_gone'), tests.get_supabase_uid('creator'), '2026-03-13 10:00+00');
select is((select count(*)::int from aggregation.pending_user_days), 0,
  'a follow that gets the lock also recomputes what was queued');
insert into aggregation.pending_user_days (user_id, day) values (tests.get_supabase_uid('creator'), '2026-03-13');
delete from public.user_daily_stats where user_id = tests.get_supabase_uid('creator') and date = '2026-03-13';
select is(aggregation.run_pending_user_days() > 0, true, 'the cron job recomputes a queued day');
select is((select followers_gained from public.user_daily_stats
           where user_id = tests.get_supabase_uid('creator') and date = '2026-03-13'), 1,
  'the queued day is right again');

select * from finish();
rollback;
