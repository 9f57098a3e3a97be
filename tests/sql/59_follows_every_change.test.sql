-- Every change of public.follows keeps followers_gained right: an UPDATE that moves follows to
-- another day or creator (one row or many in one statement) and a follow deleted with the
-- follower's account recompute the days they left and reached at once, and repair_followers_gained()
-- mends days such writes left wrong before (supabase/migrations/20261126200000_follows_every_change_recomputes_days.sql).
-- Before that migration every check below fails: the triggers fired on a direct INSERT or DELETE only.
begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(10);

select tests.create_supabase_user(u) from unnest(array['creator', 'creator2', 'fan1', 'fan2', 'fan3', 'fan4']) as u;

-- The rule, for these two creators: the follows made each UTC day that still stand.
create function tests.follow_days_rule()
returns table (user_id uuid, date date, followers_gained integer)
language sql
as $$
  select f.creator_id, (f.created_at at time zone 'UTC')::date, count(*)::integer from public.follows f
  where f.creator_id in (tests.get_supabase_uid('creator'), tests.get_supabase_uid('creator2')) group by 1, 2
$$;
create function tests.follow_days_stored()
returns table (user_id uuid, date date, followers_gained integer)
language sql
as $$
  select u.user_id, u.date, u.followers_gained from public.user_daily_stats u
  where u.user_id in (tests.get_supabase_uid('creator'), tests.get_supabase_uid('creator2'))
$$;

-- Direct follows, as the app writes them (the insert trigger recomputes their days).
select tests.authenticate_as_service_role();
insert into public.follows (follower_id, creator_id, created_at)
values (tests.get_supabase_uid('fan1'), tests.get_supabase_uid('creator'), '2026-03-10 10:00+00'),
       (tests.get_supabase_uid('fan2'), tests.get_supabase_uid('creator'), '2026-03-10 11:00+00'),
       (tests.get_supabase_uid('fan3'), tests.get_supabase_uid('creator'), '2026-03-10 23:59:59.999+00'),
       (tests.get_supabase_uid('fan4'), tests.get_supabase_uid('creator'), '2026-03-11 00:00+00');
select set_eq('select * from tests.follow_days_stored()', 'select * from tests.follow_days_rule()',
  'direct follows: each day counts its follows');

-- One follow moved to another day (an operator's correction; dashboard_export's fixture does this).
update public.follows set created_at = '2026-03-12 09:00+00'
where follower_id = tests.get_supabase_uid('fan1') and creator_id = tests.get_supabase_uid('creator');
select results_eq($$ select date, followers_gained from tests.follow_days_stored() order by date $$,
  $$ values ('2026-03-10'::date, 2), ('2026-03-11'::date, 1), ('2026-03-12'::date, 1) $$,
  'a follow moved to another day leaves its old day and counts in its new one');

-- Several follows moved by one statement, one of them across midnight and one within its day.
update public.follows set created_at = created_at - interval '1 day'
where creator_id = tests.get_supabase_uid('creator') and follower_id <> tests.get_supabase_uid('fan1');
update public.follows set created_at = created_at + interval '1 hour'
where follower_id = tests.get_supabase_uid('fan1');
select results_eq($$ select date, followers_gained from tests.follow_days_stored() order by date $$,
  $$ values ('2026-03-09'::date, 2), ('2026-03-10'::date, 1), ('2026-03-12'::date, 1) $$,
  'follows moved by one statement: every day they left or reached is recomputed, no row of zeros left');

-- A follow moved to another creator.
update public.follows set creator_id = tests.get_supabase_uid('creator2')
where follower_id = tests.get_supabase_uid('fan4');
select set_eq('select * from tests.follow_days_stored()', 'select * from tests.follow_days_rule()',
  'a follow moved to another creator leaves the first creator''s day and counts in the second''s');
select is((select followers_gained from public.user_daily_stats
           where user_id = tests.get_supabase_uid('creator2') and date = '2026-03-10'), 1,
  'the second creator''s day has the follow');
select tests.clear_authentication();

-- The follower's account is deleted: the follow goes with it (ON DELETE CASCADE).
delete from auth.users where id = tests.get_supabase_uid('fan2');
select results_eq($$ select date, followers_gained from tests.follow_days_stored()
                     where user_id = tests.get_supabase_uid('creator') order by date $$,
  $$ values ('2026-03-09'::date, 1), ('2026-03-12'::date, 1) $$,
  'a follower''s deleted account takes the follow out of its day');
select set_eq('select * from tests.follow_days_stored()', 'select * from tests.follow_days_rule()',
  'after all of it: the stored days are the rule');

-- Days a write left wrong while the triggers were not there (an older database, or triggers
-- disabled): repair_followers_gained() finds and recomputes exactly those.
alter table public.follows disable trigger follows_recompute_moved_days;
update public.follows set created_at = '2026-03-20 12:00+00' where follower_id = tests.get_supabase_uid('fan3');
alter table public.follows enable trigger follows_recompute_moved_days;
select isnt_empty($$ (select * from tests.follow_days_stored() except select * from tests.follow_days_rule())
                     union all (select * from tests.follow_days_rule() except select * from tests.follow_days_stored()) $$,
  'a move the trigger did not see leaves the days wrong');
select cmp_ok(aggregation.repair_followers_gained(), '>=', 2::bigint, 'the repair recomputes the days it finds wrong');
select set_eq('select * from tests.follow_days_stored()', 'select * from tests.follow_days_rule()',
  'after the repair the stored days are the rule');

select * from finish();
rollback;
