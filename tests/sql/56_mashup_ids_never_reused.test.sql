-- A creator never sees another creator's listeners through a reused or changed mashup id, in any
-- order of create / delete / update (supabase/migrations/20261126055100_mashup_ids_never_reused.sql).
begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(16);
-- Fixed dates in March 2026: keep them inside the raw-event retention horizon, with their month's
-- partition, whatever today's date (issue 11).
update raw_events.settings set retention_months = 1200;
select raw_events.create_month('2026-03-01');

select tests.create_supabase_user('owner');
select tests.create_supabase_user('taker');
insert into public.mashups (id, creator_id, title, duration_seconds)
values ('eeeeeeee-0000-4000-8000-00000000000a', tests.get_supabase_uid('owner'), 'Owned mix', 180);
-- a listener from Japan plays the owner's mashup; the rollups are built
insert into public.analytics_events (id, event_type, properties, "timestamp", anonymous_id, country)
values (gen_random_uuid(), 'mashup_played',
        '{"mashup_id": "eeeeeeee-0000-4000-8000-00000000000a", "source": "direct"}', '2026-03-10 10:00+00', 'jp-fan', 'JP');
select aggregation.mashup_day('2026-03-10');

-- create: the taker cannot pick an id (neither an unused one nor the owner's)
select tests.authenticate_as('taker');
select throws_ok($$ insert into public.mashups (id, creator_id, title, duration_seconds)
  values ('eeeeeeee-0000-4000-8000-0000000000ff', auth.uid(), 'Chosen id', 100) $$, '42501', null,
  'a signed-in user cannot choose a new mashup''s id');
select lives_ok($$ insert into public.mashups (creator_id, title, duration_seconds) values (auth.uid(), 'Mine', 100) $$,
  'without an id the database draws one');
-- update: the taker cannot move their own mashup onto another id
select throws_ok($$ update public.mashups set id = 'eeeeeeee-0000-4000-8000-0000000000fe' where creator_id = auth.uid() $$,
  '42501', null, 'a creator cannot change a mashup''s id');
select tests.clear_authentication();

-- the owner cannot give a mashup away either, but can rename it
select tests.authenticate_as('owner');
select throws_ok($$ update public.mashups set creator_id = tests.get_supabase_uid('taker') $$, '42501', null,
  'a creator cannot change a mashup''s creator');
select lives_ok($$ update public.mashups set title = 'Renamed mix' $$, 'a creator renames their mashup');
-- delete: the id is retired, its rollups go with it
delete from public.mashups where id = 'eeeeeeee-0000-4000-8000-00000000000a';
select tests.clear_authentication();
select is((select count(*)::int from public.mashup_quarter_hour_breakdowns where mashup_id = 'eeeeeeee-0000-4000-8000-00000000000a'),
  0, 'the deleted mashup''s rollups are gone');

-- create after delete: nobody gets the id again, not even through the service role
select tests.authenticate_as_service_role();
select throws_ok($$ insert into public.mashups (id, creator_id, title, duration_seconds)
  values ('eeeeeeee-0000-4000-8000-00000000000a', tests.get_supabase_uid('taker'), 'Reused', 180) $$, '23505',
  'mashup id eeeeeeee-0000-4000-8000-00000000000a belonged to a deleted mashup and cannot be used again',
  'a deleted mashup''s id cannot be created again');
select throws_ok($$ update public.mashups set id = 'eeeeeeee-0000-4000-8000-00000000000a'
                    where creator_id = tests.get_supabase_uid('taker') $$, '23505', null,
  'nor can a mashup be moved onto it');
-- nor can the service role move a mashup onto a fresh id or to another creator: the rollups are
-- keyed by both (20261126210200)
insert into public.mashups (id, creator_id, title, duration_seconds)
values ('eeeeeeee-0000-4000-8000-00000000000b', tests.get_supabase_uid('taker'), 'Taker mix', 120);
select throws_ok($$ update public.mashups set creator_id = tests.get_supabase_uid('owner')
                    where id = 'eeeeeeee-0000-4000-8000-00000000000b' $$, '42501', 'a mashup''s id and creator never change (mashup eeeeeeee-0000-4000-8000-00000000000b)',
  'the service role cannot give a mashup to another creator');
select throws_ok($$ update public.mashups set id = 'eeeeeeee-0000-4000-8000-0000000000fd'
                    where id = 'eeeeeeee-0000-4000-8000-00000000000b' $$, '42501', 'a mashup''s id and creator never change (mashup eeeeeeee-0000-4000-8000-00000000000b)',
  'nor move it onto a fresh id');
select lives_ok($$ update public.mashups set creator_id = creator_id, title = 'Taker mix (edit)', duration_seconds = 150
                   where id = 'eeeeeeee-0000-4000-8000-00000000000b' $$,
  'an update that keeps id and creator goes through');
select tests.clear_authentication();
select throws_ok($$ update public.mashups set creator_id = tests.get_supabase_uid('owner')
                    where id = 'eeeeeeee-0000-4000-8000-00000000000b' $$, '42501', 'a mashup''s id and creator never change (mashup eeeeeeee-0000-4000-8000-00000000000b)',
  'nor can the database owner');
select results_eq($$ select creator_id, title from public.mashups where id = 'eeeeeeee-0000-4000-8000-00000000000b' $$,
  $$ values (tests.get_supabase_uid('taker'), 'Taker mix (edit)'::text) $$, 'the mashup keeps its creator');

-- so the rollups never give the taker the Japanese listener
select aggregation.mashup_day('2026-03-10');
select tests.authenticate_as('taker');
select is((public.get_creator_dashboard('2026-03-01', '2026-04-01') -> 'summary' ->> 'totalPlays')::int, 0,
  'the taker sees none of the deleted mashup''s plays');
select is(public.get_creator_dashboard('2026-03-01', '2026-04-01') -> 'demographics' -> 'countries', '[]'::jsonb,
  'nor its listeners'' countries');
select tests.clear_authentication();
select is((select count(*)::int from aggregation.retired_mashup_ids where id = 'eeeeeeee-0000-4000-8000-00000000000a'), 1,
  'the retired id is on record');

select * from finish();
rollback;
