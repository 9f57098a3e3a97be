-- A follow written by anon or a signed-in user is dated by the database: one that names its own
-- created_at is refused (22023, hint created_at: PostgREST's 400 naming the field), so no client can
-- put a follower gained on a day of its choosing into another creator's user_daily_stats. The
-- service role and operators still date follows (ingest's follows from events, imports,
-- corrections). (supabase/migrations/20261127001100_follows_time_set_by_the_database.sql; before
-- it the first two checks fail: both inserts were stored and counted on their days.)
begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(8);

select tests.create_supabase_user(u) from unnest(array['creator', 'fan', 'fan2', 'fan3']) as u;

select tests.authenticate_as('fan');
select throws_ok(
  $$insert into public.follows (follower_id, creator_id, created_at)
    values (auth.uid(), tests.get_supabase_uid('creator'), '2099-01-01 00:00+00')$$,
  '22023', 'created_at of a follow is set by the database (the time it is stored)',
  'a signed-in user cannot date a follow in the future');
select throws_ok(
  $$insert into public.follows (follower_id, creator_id, created_at)
    values (auth.uid(), tests.get_supabase_uid('creator'), '1999-06-01 00:00+00')$$,
  '22023', 'created_at of a follow is set by the database (the time it is stored)',
  'nor in the past');
select lives_ok(
  $$insert into public.follows (follower_id, creator_id) values (auth.uid(), tests.get_supabase_uid('creator'))$$,
  'a follow without created_at is stored');
-- Users have no update policy: an UPDATE of their follow's time changes nothing.
update public.follows set created_at = '2099-01-01 00:00+00' where follower_id = auth.uid();
select tests.clear_authentication();

select results_eq(
  $$select created_at = now() from public.follows where follower_id = tests.get_supabase_uid('fan')$$,
  $$values (true)$$,
  'it is dated when it was stored, and stays so');
select results_eq(
  $$select date, followers_gained from public.user_daily_stats where user_id = tests.get_supabase_uid('creator')$$,
  $$values ((now() at time zone 'UTC')::date, 1)$$,
  'the creator gained one follower, today (UTC), and none on a day the client named');

select tests.authenticate_as_anon();
select throws_ok(
  $$insert into public.follows (follower_id, creator_id, created_at)
    values (tests.get_supabase_uid('fan2'), tests.get_supabase_uid('creator'), '2099-01-01 00:00+00')$$,
  '22023', null, 'anon is refused too');
select tests.clear_authentication();

-- The service role dates follows (an import, a correction) and the day follows them.
select tests.authenticate_as_service_role();
insert into public.follows (follower_id, creator_id, created_at)
values (tests.get_supabase_uid('fan3'), tests.get_supabase_uid('creator'), '2026-03-10 10:00+00');
select tests.clear_authentication();
select is((select followers_gained from public.user_daily_stats
           where user_id = tests.get_supabase_uid('creator') and date = '2026-03-10'), 1,
  'the service role still dates a follow, and it counts on that day');
select is_empty(
  $$select 1 from public.user_daily_stats where user_id = tests.get_supabase_uid('creator') and date in ('2099-01-01', '1999-06-01')$$,
  'no follower gained on the days the signed-in client named');

select * from finish();
rollback;
