-- What `npm test` leaves behind, removed at the start and the end of every run (scripts/test.sh),
-- so test data never piles up and makes later runs slower: the users the tests create (every
-- fixture user's email ends in @test.local) with all that hangs off them (mashups, rollups,
-- follows, running totals: ON DELETE CASCADE), the raw events of those users and mashups, and the
-- events the track tests send for mashup ids that exist nowhere from their fixed test identities.
-- Demo data (@mashups.local) and anything else on the stack is never touched.
-- psql -v pattern='...' narrows it to some test users' emails (the hygiene test cleans its own).
\set ON_ERROR_STOP on
\if :{?pattern}
\else
\set pattern '%@test.local'
\endif
begin;
create temporary table cleanup_users on commit drop as
  select id from auth.users where email like :'pattern' and email like '%@test.local';
create temporary table cleanup_mashups on commit drop as
  select id from public.mashups where creator_id in (select id from cleanup_users);
-- The events' ids go too (public.analytics_event_ids, the dedup key), so a test may send them again.
with removed as (
  delete from public.analytics_events
   where mashup_id in (select id from cleanup_mashups)
      or user_id in (select id from cleanup_users)
      or (event_type = 'user_followed' and properties ->> 'creator_id' in (select id::text from cleanup_users))
      or (:'pattern' = '%@test.local' and mashup_id is not null and anonymous_id like 'anon-test%'
          and not exists (select from public.mashups m where m.id = mashup_id))
  returning id
)
delete from public.analytics_event_ids where id in (select id from removed);
-- The live totals' counts of those deleted events (raw_events.removed_realtime_counts) go with them.
delete from raw_events.removed_realtime_counts
 where subject_id in (select id from cleanup_mashups) or subject_id in (select id from cleanup_users);
delete from auth.users where id in (select id from cleanup_users);
-- The aggregation tests' own job names (never the stack's `incremental` job).
delete from aggregation.watermarks where :'pattern' = '%@test.local' and job like 'test-%';
delete from aggregation.runs where :'pattern' = '%@test.local' and job like 'test-%';
select count(*) as removed_users from cleanup_users \gset
commit;
\echo removed :removed_users test users and their data
