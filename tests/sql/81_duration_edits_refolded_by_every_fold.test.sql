-- A creator's duration edit is refolded by whichever job folds next, never left half done
-- (20261128000100, 20261128000600, 20261128000800): the edit queues its mashup; the incremental run
-- and every day rebuild (aggregate_mashup_stats, run_nightly, backfill) refold the queued mashups
-- before they fold, so all of a mashup's plays are capped and completed at one duration, the one
-- the retention's checkpoints are drawn at.
begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(8);

select tests.create_supabase_user('dur-creator');
insert into public.mashups (id, creator_id, title, duration_seconds)
values ('eeeeeeee-0000-4000-8000-000000000081', tests.get_supabase_uid('dur-creator'), 'Edited', 100);

-- Two plays today and one yesterday, each heard to 100 s: completed at 100 s.
select count(*) from public.ingest_events((
  select jsonb_agg(e) from (
    select jsonb_build_object('id', md5('dur-play-' || i)::uuid, 'type', 'mashup_played', 'timestamp', t,
                              'anonymous_id', 'dur-fan-' || i,
                              'properties', jsonb_build_object('mashup_id', 'eeeeeeee-0000-4000-8000-000000000081',
                                                               'play_id', md5('dur-p-' || i)::uuid)) as e
    from (values (1, now() - interval '10 minutes'), (2, now() - interval '9 minutes'),
                 (3, now() - interval '1 day')) as p (i, t)
    union all
    select jsonb_build_object('id', md5('dur-progress-' || i)::uuid, 'type', 'mashup_play_progress', 'timestamp', t + interval '100 seconds',
                              'anonymous_id', 'dur-fan-' || i,
                              'properties', jsonb_build_object('mashup_id', 'eeeeeeee-0000-4000-8000-000000000081',
                                                               'play_id', md5('dur-p-' || i)::uuid, 'position_seconds', 100))
    from (values (1, now() - interval '10 minutes'), (2, now() - interval '9 minutes'),
                 (3, now() - interval '1 day')) as p (i, t)) x));
select aggregation.run_incremental(p_lag => '-1 second', p_max_window => '100 years', p_job => 'dur-test', p_wait => true);
select results_eq($$ select count(*)::int, count(*) filter (where completed)::int, min(duration_seconds), max(duration_seconds)
                     from public.mashup_play_summaries where mashup_id = 'eeeeeeee-0000-4000-8000-000000000081' $$,
  $$ values (3, 3, 100, 100) $$, 'three plays, completed at 100 s');

-- The creator doubles the duration; a day rebuild of yesterday runs before any incremental run.
select tests.authenticate_as('dur-creator');
update public.mashups set duration_seconds = 200 where id = 'eeeeeeee-0000-4000-8000-000000000081';
select tests.clear_authentication();
select is((select count(*)::int from aggregation.pending_duration_refolds
           where mashup_id = 'eeeeeeee-0000-4000-8000-000000000081'), 1, 'the edit queued its mashup');
-- A late heartbeat of yesterday's play arrives: the plan's day function folds it (at 200 s).
select count(*) from public.ingest_events(jsonb_build_array(jsonb_build_object(
  'id', md5('dur-late')::uuid, 'type', 'mashup_play_progress', 'timestamp', now() - interval '1 day' + interval '101 seconds',
  'anonymous_id', 'dur-fan-3', 'properties', jsonb_build_object('mashup_id', 'eeeeeeee-0000-4000-8000-000000000081',
                                                                  'play_id', md5('dur-p-3')::uuid, 'position_seconds', 100))));
select public.aggregate_mashup_stats(((now() at time zone 'UTC') - interval '1 day')::date);
select results_eq($$ select count(*)::int, count(*) filter (where completed)::int, min(duration_seconds), max(duration_seconds)
                     from public.mashup_play_summaries where mashup_id = 'eeeeeeee-0000-4000-8000-000000000081' $$,
  $$ values (3, 0, 200, 200) $$,
  'after a rebuild of yesterday every play, today''s too, is at 200 s: none completed');
select is_empty($$ select 1 from aggregation.pending_duration_refolds
                   where mashup_id = 'eeeeeeee-0000-4000-8000-000000000081' $$, 'the rebuild took the queue');

-- Two edits in a row queue two rows; the next run refolds the mashup once, at the last duration.
select tests.authenticate_as('dur-creator');
update public.mashups set duration_seconds = 50 where id = 'eeeeeeee-0000-4000-8000-000000000081';
update public.mashups set duration_seconds = 104 where id = 'eeeeeeee-0000-4000-8000-000000000081';
select tests.clear_authentication();
select is(aggregation.run_pending_duration_refolds(), 1, 'two queued edits, one mashup refolded');
select results_eq($$ select count(*) filter (where completed)::int, min(furthest_position_seconds)::int, max(duration_seconds)
                     from public.mashup_play_summaries where mashup_id = 'eeeeeeee-0000-4000-8000-000000000081' $$,
  $$ values (3, 100, 104) $$, 'at 104 s: 100 s is 96 %, completed');

-- A backfill's day rebuild of yesterday after another edit: today's plays follow too.
select tests.authenticate_as('dur-creator');
update public.mashups set duration_seconds = 100 where id = 'eeeeeeee-0000-4000-8000-000000000081';
select tests.clear_authentication();
select aggregation.mashup_day(((now() at time zone 'UTC') - interval '1 day')::date);
select results_eq($$ select count(*)::int, count(*) filter (where completed)::int, min(duration_seconds), max(duration_seconds)
                     from public.mashup_play_summaries where mashup_id = 'eeeeeeee-0000-4000-8000-000000000081' $$,
  $$ values (3, 3, 100, 100) $$, 'after a day rebuild every play is at 100 s again: completed');
select is_empty($$ select 1 from aggregation.pending_duration_refolds
                   where mashup_id = 'eeeeeeee-0000-4000-8000-000000000081' $$, 'the day rebuild took the queue');

select * from finish();
rollback;
