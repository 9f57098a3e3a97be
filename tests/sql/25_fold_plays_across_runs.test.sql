-- A play's events across runs, in any order: heartbeats before their played event, an earlier played
-- event arriving later (another mashup's), two played events at the same instant (the smaller id
-- wins), a play of a mashup created later, a play moved by a late earlier played event to a mashup
-- that does not exist (it loses its summary), and a heartbeat that changes nothing. After each run every
-- summary and retention row of the fixture equals an independent recount from the raw events, and
-- aggregation.play_folds holds exactly the plays without a summary (20261126140100: the summary holds
-- the fold of its play).
begin;
\ir _helpers.psql
\ir _play_recount.psql
set search_path = public, extensions, tests;
select plan(13);
update raw_events.settings set retention_months = 1200;
select raw_events.create_month('2026-03-01');

select tests.create_supabase_user('plays-owner');
insert into public.mashups (id, creator_id, title, duration_seconds) values
  ('eeeeeeee-0000-4000-8000-0000000000e1', tests.get_supabase_uid('plays-owner'), 'Plays A', 200),
  ('eeeeeeee-0000-4000-8000-0000000000e2', tests.get_supabase_uid('plays-owner'), 'Plays B', 120);

create function pg_temp.event(p_id uuid, p_type text, p_mashup uuid, p_play uuid, p_at timestamptz,
                              p_position numeric, p_received timestamptz)
returns void language sql as $$
  insert into public.analytics_events (id, event_type, properties, "timestamp", anonymous_id, received_at)
  values (p_id, p_type,
          jsonb_strip_nulls(jsonb_build_object('mashup_id', p_mashup, 'play_id', p_play, 'position_seconds', p_position)),
          p_at, 'fan-' || left(p_play::text, 4), p_received)
$$;
create function pg_temp.run(p_until timestamptz)
returns void language sql as $$
  select aggregation.run_incremental(p_lag => '0', p_until => p_until, p_max_window => '100 days',
                                     p_job => 'pgtap-plays', p_wait => true)
$$;
-- Run 1 ---------------------------------------------------------------------------------------------
-- p1: two heartbeats, no played event yet.
select pg_temp.event(gen_random_uuid(), 'mashup_play_progress', 'eeeeeeee-0000-4000-8000-0000000000e1',
                     '11111111-0000-4000-8000-000000000001', '2026-03-10 10:00:30+00', 30, '2026-03-10 10:05+00');
select pg_temp.event(gen_random_uuid(), 'mashup_play_progress', 'eeeeeeee-0000-4000-8000-0000000000e1',
                     '11111111-0000-4000-8000-000000000001', '2026-03-10 10:01:00+00', 60, '2026-03-10 10:05+00');
-- p2: played on A at 10:00 with a heartbeat at 150 s.
select pg_temp.event(gen_random_uuid(), 'mashup_played', 'eeeeeeee-0000-4000-8000-0000000000e1',
                     '11111111-0000-4000-8000-000000000002', '2026-03-10 10:00+00', null, '2026-03-10 10:05+00');
select pg_temp.event(gen_random_uuid(), 'mashup_play_progress', 'eeeeeeee-0000-4000-8000-0000000000e1',
                     '11111111-0000-4000-8000-000000000002', '2026-03-10 10:02:30+00', 150, '2026-03-10 10:05+00');
-- p3: played on A at 10:00 with a large id.
select pg_temp.event('ffffffff-0000-4000-8000-000000000003', 'mashup_played', 'eeeeeeee-0000-4000-8000-0000000000e1',
                     '11111111-0000-4000-8000-000000000003', '2026-03-10 10:00+00', null, '2026-03-10 10:05+00');
-- p4: played on a mashup that does not exist yet, with a heartbeat.
select pg_temp.event(gen_random_uuid(), 'mashup_played', 'eeeeeeee-0000-4000-8000-0000000000e3',
                     '11111111-0000-4000-8000-000000000004', '2026-03-10 10:00+00', null, '2026-03-10 10:05+00');
select pg_temp.event(gen_random_uuid(), 'mashup_play_progress', 'eeeeeeee-0000-4000-8000-0000000000e3',
                     '11111111-0000-4000-8000-000000000004', '2026-03-10 10:00:40+00', 40, '2026-03-10 10:05+00');
-- p5: played on B and ended at 120 s (complete).
select pg_temp.event(gen_random_uuid(), 'mashup_played', 'eeeeeeee-0000-4000-8000-0000000000e2',
                     '11111111-0000-4000-8000-000000000005', '2026-03-10 10:01+00', null, '2026-03-10 10:05+00');
select pg_temp.event(gen_random_uuid(), 'mashup_play_ended', 'eeeeeeee-0000-4000-8000-0000000000e2',
                     '11111111-0000-4000-8000-000000000005', '2026-03-10 10:03+00', 120, '2026-03-10 10:05+00');
-- p6: played on A at 10:05, with a heartbeat at 100 s.
select pg_temp.event(gen_random_uuid(), 'mashup_played', 'eeeeeeee-0000-4000-8000-0000000000e1',
                     '11111111-0000-4000-8000-000000000006', '2026-03-10 10:05+00', null, '2026-03-10 10:05:30+00');
select pg_temp.event(gen_random_uuid(), 'mashup_play_progress', 'eeeeeeee-0000-4000-8000-0000000000e1',
                     '11111111-0000-4000-8000-000000000006', '2026-03-10 10:05:40+00', 100, '2026-03-10 10:05:50+00');
select pg_temp.run('2026-03-10 10:06+00');

select is_empty($$ select * from tests.play_mismatches('fan-') where mismatched <> 0 $$,
  'run 1: every summary and retention row equals the recount');
select results_eq($$ select play_id from aggregation.play_folds
                    where play_id in (select ('11111111-0000-4000-8000-00000000000' || i)::uuid from generate_series(1, 5) i)
                    order by 1 $$,
  $$ values ('11111111-0000-4000-8000-000000000001'::uuid), ('11111111-0000-4000-8000-000000000004') $$,
  'run 1: play_folds holds the play without a played event and the play of a missing mashup, nothing else');
create temporary table p5_before as
select ctid::text as v from public.mashup_play_summaries where play_id = '11111111-0000-4000-8000-000000000005';

-- Run 2 ---------------------------------------------------------------------------------------------
-- p1's played event arrives; p2 gets an earlier played event on B (late); p3 gets a played event at
-- the same instant with a smaller id, on B; mashup e3 is created and p4 gets a heartbeat; p5 gets a
-- heartbeat behind its ending (changes nothing).
select pg_temp.event(gen_random_uuid(), 'mashup_played', 'eeeeeeee-0000-4000-8000-0000000000e1',
                     '11111111-0000-4000-8000-000000000001', '2026-03-10 10:00+00', null, '2026-03-10 11:05+00');
select pg_temp.event(gen_random_uuid(), 'mashup_played', 'eeeeeeee-0000-4000-8000-0000000000e2',
                     '11111111-0000-4000-8000-000000000002', '2026-03-10 09:59+00', null, '2026-03-10 11:05+00');
select pg_temp.event('00000000-0000-4000-8000-000000000003', 'mashup_played', 'eeeeeeee-0000-4000-8000-0000000000e2',
                     '11111111-0000-4000-8000-000000000003', '2026-03-10 10:00+00', null, '2026-03-10 11:05+00');
insert into public.mashups (id, creator_id, title, duration_seconds) values
  ('eeeeeeee-0000-4000-8000-0000000000e3', tests.get_supabase_uid('plays-owner'), 'Plays C', 100);
select pg_temp.event(gen_random_uuid(), 'mashup_play_progress', 'eeeeeeee-0000-4000-8000-0000000000e3',
                     '11111111-0000-4000-8000-000000000004', '2026-03-10 10:01:30+00', 90, '2026-03-10 11:05+00');
select pg_temp.event(gen_random_uuid(), 'mashup_play_progress', 'eeeeeeee-0000-4000-8000-0000000000e2',
                     '11111111-0000-4000-8000-000000000005', '2026-03-10 10:02+00', 60, '2026-03-10 11:05+00');
-- p6 gets an earlier played event naming a mashup that does not exist.
select pg_temp.event(gen_random_uuid(), 'mashup_played', 'eeeeeeee-0000-4000-8000-0000000000e9',
                     '11111111-0000-4000-8000-000000000006', '2026-03-10 10:04+00', null, '2026-03-10 11:05+00');
select pg_temp.run('2026-03-10 11:06+00');

select is_empty($$ select * from tests.play_mismatches('fan-') where mismatched <> 0 $$,
  'run 2: every summary and retention row equals the recount');
select results_eq($$ select (select count(*)::int from public.mashup_play_summaries
                             where play_id = '11111111-0000-4000-8000-000000000006'),
                            (select mashup_id from aggregation.play_folds
                             where play_id = '11111111-0000-4000-8000-000000000006') $$,
  $$ values (0, 'eeeeeeee-0000-4000-8000-0000000000e9'::uuid) $$,
  'a late earlier played event naming a missing mashup takes the play''s summary away; its fold waits');
select results_eq($$ select mashup_id, started_at, furthest_position_seconds from public.mashup_play_summaries
                    where play_id = '11111111-0000-4000-8000-000000000001' $$,
  $$ values ('eeeeeeee-0000-4000-8000-0000000000e1'::uuid, '2026-03-10 10:00+00'::timestamptz, 60::numeric) $$,
  'heartbeats folded before their played event count once it arrives (furthest 60 s)');
select results_eq($$ select mashup_id, started_at, furthest_position_seconds from public.mashup_play_summaries
                    where play_id = '11111111-0000-4000-8000-000000000002' $$,
  $$ values ('eeeeeeee-0000-4000-8000-0000000000e2'::uuid, '2026-03-10 09:59+00'::timestamptz, 120::numeric) $$,
  'an earlier played event arriving later moves the play to its mashup (capped at B''s 120 s)');
select results_eq($$ select mashup_id, started_event_id from public.mashup_play_summaries
                    where play_id = '11111111-0000-4000-8000-000000000003' $$,
  $$ values ('eeeeeeee-0000-4000-8000-0000000000e2'::uuid, '00000000-0000-4000-8000-000000000003'::uuid) $$,
  'two played events at the same instant: the smaller id wins, whatever run it came in');
select results_eq($$ select mashup_id, furthest_position_seconds from public.mashup_play_summaries
                    where play_id = '11111111-0000-4000-8000-000000000004' $$,
  $$ values ('eeeeeeee-0000-4000-8000-0000000000e3'::uuid, 90::numeric) $$,
  'a play of a mashup created later gets its summary with everything folded before (90 s)');
select is_empty($$ select play_id from aggregation.play_folds
                   where play_id in (select ('11111111-0000-4000-8000-00000000000' || i)::uuid from generate_series(1, 5) i) $$,
  'run 2: every play has its summary; none waits in play_folds');
select results_eq($$ select ctid::text = (select v from p5_before) from public.mashup_play_summaries
                    where play_id = '11111111-0000-4000-8000-000000000005' $$,
  $$ values (true) $$,
  'a heartbeat that changes nothing leaves the summary row as it was');
select results_eq($$ select plays::int, completed_plays::int from public.mashup_lifetime_stats
                    where mashup_id = 'eeeeeeee-0000-4000-8000-0000000000e2' $$,
  $$ values (3, 2) $$,
  'lifetime on B: three tracked plays moved or started there, two complete (p2 capped at 120 s, p5)');

-- Reading every event again (a day rebuild) changes nothing ------------------------------------------
create temporary table summaries_before as select to_jsonb(s) as r from public.mashup_play_summaries s
where s.mashup_id in (select id from public.mashups where title like 'Plays %');
select aggregation.mashup_day('2026-03-10');
select bag_eq($$ select to_jsonb(s) from public.mashup_play_summaries s
                 where s.mashup_id in (select id from public.mashups where title like 'Plays %') $$,
  'select r from summaries_before', 'a day rebuild over the same events leaves every summary as it was');
select is_empty($$ select * from tests.play_mismatches('fan-') where mismatched <> 0 $$,
  'after the rebuild: every summary and retention row equals the recount');

select * from finish();
rollback;
