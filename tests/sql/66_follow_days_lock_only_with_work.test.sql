-- The follow-days job takes the aggregation lock only when follow days are queued, so at the minutes
-- it shares with aggregate-incremental it no longer makes that run skip
-- (supabase/migrations/20261127001300_follow_days_lock_only_with_work.sql; before it the first
-- check fails: the lock was taken with nothing queued).
begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(4);

create function tests.holds_aggregation_lock()
returns boolean
language sql
as $$
  select exists (select 1 from pg_locks l
                 where l.locktype = 'advisory' and l.pid = pg_backend_pid() and l.granted
                   and ((l.classid::bigint << 32) | l.objid::bigint) = 7348201945)
$$;

delete from aggregation.pending_user_days;
select is(aggregation.run_pending_user_days(), 0::bigint, 'nothing queued: nothing recomputed');
select ok(not tests.holds_aggregation_lock(), 'and the aggregation lock was not taken');

select tests.create_supabase_user('creator');
insert into aggregation.pending_user_days (user_id, day) values (tests.get_supabase_uid('creator'), '2026-03-10');
select lives_ok('select aggregation.run_pending_user_days()', 'a queued day is recomputed');
select ok(tests.holds_aggregation_lock() and not exists (select 1 from aggregation.pending_user_days),
  'under the aggregation lock, and the queue is empty after');

select * from finish();
rollback;
