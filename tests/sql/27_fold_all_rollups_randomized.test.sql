-- Every rollup, after randomized histories of every counted event type (tests/sql/_fold_scenario.psql:
-- ingest through public.ingest_events with retried ids within and across batches, late events into
-- rebuilt days, UTC midnights and 23:59:59.999, the DST changes, anonymous and session-only
-- listeners, upper-case play ids, unknown mashups, a hot bucket, follows and unfollows both ways, a
-- mashup deleted midway, erasures, and the jobs in a random order between rounds), against the independent
-- recount of bench/exactness.sql after each round; then creators' dashboards and mashup analytics
-- in non-UTC zones across the DST changes against a recount from raw events; then the three faults these
-- histories found, each on its own; and the check itself against a fold broken on purpose.
begin;
\ir _helpers.psql
\ir ../../bench/exactness.sql
\ir _fold_scenario.psql
set search_path = public, extensions, tests;
select plan(21);
-- The histories' 2026 days stay storable whenever this runs (ingest refuses events past the horizon).
update raw_events.settings set retention_months = 1200;
select sum(raw_events.create_month(m::date)) from generate_series('2026-03-01'::date, '2026-11-01', '1 month') m;

create temporary table scenario_results (seed double precision, round integer, step text, rollup text, mismatched bigint);
insert into scenario_results select 0.29, r.* from tests.fold_scenario(0.29, 4, 1500) r;
-- Two of the histories run in sessions whose TimeZone is not UTC (days are UTC days whatever it is;
-- ingest reads the timestamps' offsets, +05:45 and -04:00/-05:00 here).
set local timezone = 'Asia/Kathmandu';
insert into scenario_results select 0.61, r.* from tests.fold_scenario(0.61, 4, 1500) r;
set local timezone = 'America/New_York';
insert into scenario_results select -0.83, r.* from tests.fold_scenario(-0.83, 4, 1500) r;
set local timezone = 'UTC';

select is_empty($$ select round, step, rollup, mismatched from scenario_results where seed = 0.29 and mismatched <> 0 $$,
  'seed 0.29: after each of 4 rounds every rollup row equals the recount from raw events, nothing queued');
select is_empty($$ select round, step, rollup, mismatched from scenario_results where seed = 0.61 and mismatched <> 0 $$,
  'seed 0.61: after each of 4 rounds every rollup row equals the recount from raw events, nothing queued');
select is_empty($$ select round, step, rollup, mismatched from scenario_results where seed = -0.83 and mismatched <> 0 $$,
  'seed -0.83: after each of 4 rounds every rollup row equals the recount from raw events, nothing queued');
select is((select count(*) from scenario_results), 3 * 4 * 14::bigint,
  'every round compared all 11 rollups and the queue, and checked an erasure (counts kept, key gone)');
select ok((select count(*) from raw_events.erasures e where e.erased_at = now() and e.events_deleted > 0) >= 12,
  'every round erased a listener whose events were still queued (none of them is counted: see above)');


-- The histories hold what they claim (so the comparisons above compared something).
select is_empty($$
  select t from unnest(array['mashup_played', 'mashup_play_progress', 'mashup_play_ended', 'mashup_liked', 'mashup_shared',
                             'comment_posted', 'mashup_exported', 'mashup_created', 'user_followed']) t
  where (select count(*) from public.analytics_events e
         where e.event_type = t and (e.anonymous_id like 'fs%' or e.session_id like 'fs%' or e.user_id in (
                 select id from auth.users where raw_user_meta_data ->> 'test_identifier' like 'fs%'))) < 20 $$,
  'at least 20 stored events of every counted type');
select ok((select count(*) from fs_sent) > (select count(distinct id) from fs_sent)
          and exists (select 1 from fs_sent s group by s.id having count(distinct s.sent_round) > 1),
  'ids were sent twice, within a round and in a later round');
select ok(exists (select 1 from public.analytics_events e where e.anonymous_id like 'fs%'
                    and e."timestamp" = date_trunc('day', e."timestamp" at time zone 'UTC') at time zone 'UTC')
          and exists (select 1 from public.analytics_events e where e.anonymous_id like 'fs%'
                        and extract(milliseconds from e."timestamp" at time zone 'UTC') = 59999
                        and extract(hour from e."timestamp" at time zone 'UTC') = 23
                        and extract(minute from e."timestamp" at time zone 'UTC') = 59)
          and exists (select 1 from public.analytics_events e where e.anonymous_id like 'fs%'
                        and e."timestamp" >= '2026-03-29 00:00+00' and e."timestamp" < '2026-03-29 02:00+00')
          and exists (select 1 from public.analytics_events e where e.properties ->> 'play_id' ~ '[A-F]'),
  'events at UTC midnight, at 23:59:59.999, around the European DST change, with upper-case play ids');
select ok((select max(q.plays) from public.mashup_quarter_hour_stats q
           where q.mashup_id in (select md5('fs' || t || '-mashup-1')::uuid from unnest(array['0p29', '0p61', 'm0p83']) t)) >= 4000,
  'a hot mashup bucket with thousands of plays');
select ok(exists (select 1 from aggregation.retired_mashup_ids r where r.id in (
                    select md5('fs' || t || '-mashup-6')::uuid from unnest(array['0p29', '0p61', 'm0p83']) t)),
  'a mashup was deleted midway');

-- Dashboards of the last history's creators in zones off UTC by whole and by half hours, across
-- the DST changes, against the raw events.
select is_empty($$
  select c, p.s, p.e, z.tz, d.part, d.expected, d.actual
  from generate_series(1, 3) c,
       (values ('2026-03-27'::date, '2026-03-31'::date), ('2026-10-30', '2026-11-04'), ('2026-11-01', '2026-11-02')) p (s, e),
       (values ('Asia/Kolkata'), ('America/New_York'), ('Europe/Berlin'), ('Australia/Adelaide')) z (tz),
       lateral tests.dashboard_mismatches('fsm0p83-creator-' || c, p.s, p.e, z.tz) d $$,
  'each creator''s dashboard (totals, trends, top content, growth, sources, demographics) equals the recount, in four zones across both DST changes');

select is_empty($$
  select i, p.s, p.e, p.tz, d.part, d.expected, d.actual
  from (values (1, '2026-10-30'::date, '2026-11-04'::date, 'America/New_York'), (2, '2026-03-27', '2026-03-31', 'Europe/Berlin'),
               (3, '2026-10-30', '2026-11-04', 'Asia/Kolkata'), (4, '2026-03-27', '2026-03-31', 'Australia/Adelaide'),
               (5, '2026-11-01', '2026-11-02', 'Asia/Kathmandu')) p (i, s, e, tz)
  join public.mashups m on m.id = md5('fsm0p83-mashup-' || p.i)::uuid
  join auth.users u on u.id = m.creator_id,
  lateral tests.mashup_analytics_mismatches(u.raw_user_meta_data ->> 'test_identifier', m.id, p.s, p.e, p.tz) d $$,
  'each mashup''s analytics (lifetime, unique listeners, retention, daily, peak hours) equals the recount, in five zones across the DST changes');

-- The faults, each on its own -----------------------------------------------------------------------
select tests.create_supabase_user('fix-creator');
select tests.create_supabase_user('fix-fan');
insert into public.mashups (id, creator_id, title, duration_seconds)
values ('eeeeeeee-0000-4000-8000-0000000027a1', tests.get_supabase_uid('fix-creator'), 'Fix kept', 60),
       ('eeeeeeee-0000-4000-8000-0000000027a2', tests.get_supabase_uid('fix-creator'), 'Fix deleted', 60);
select count(*) from public.ingest_events((
  select jsonb_agg(jsonb_build_object('id', md5('fix-event-' || i)::uuid, 'type', (array['mashup_played', 'mashup_liked', 'mashup_shared'])[1 + i % 3],
                                      'timestamp', '2026-11-20 10:00+00'::timestamptz + i * interval '1 minute', 'anonymous_id', 'fix-anon-' || i,
                                      'properties', jsonb_build_object('mashup_id', 'eeeeeeee-0000-4000-8000-0000000027a' || (1 + i % 2))))
  from generate_series(1, 12) i));
select aggregation.run_incremental(p_lag => '-1 second', p_max_window => '100 days', p_job => 'fold-scenario', p_wait => true);
delete from public.mashups where id = 'eeeeeeee-0000-4000-8000-0000000027a2';
select results_eq($$
  select (select sum(plays)::int from public.creator_quarter_hour_stats where creator_id = tests.get_supabase_uid('fix-creator')),
         (select sum(likes + shares)::int from public.creator_quarter_hour_stats where creator_id = tests.get_supabase_uid('fix-creator')),
         (select sum(plays)::int from public.creator_daily_breakdowns where creator_id = tests.get_supabase_uid('fix-creator')),
         (select plays_received from public.user_daily_stats where user_id = tests.get_supabase_uid('fix-creator') and date = '2026-11-20') $$,
  $$ values (2, 4, 2, 2) $$,
  'a deleted mashup''s plays, likes and shares leave its creator''s buckets, breakdowns and plays_received (the kept mashup''s stay)');

select count(*) from public.ingest_events(jsonb_build_array(
  jsonb_build_object('id', md5('fix-follow-anon')::uuid, 'type', 'user_followed', 'timestamp', '2026-11-21 10:00+00',
                     'anonymous_id', 'fix-anon', 'properties', jsonb_build_object('creator_id', tests.get_supabase_uid('fix-creator')))));
select aggregation.run_incremental(p_lag => '-1 second', p_max_window => '100 days', p_job => 'fold-scenario', p_wait => true);
select is_empty($$ select * from public.user_daily_stats where user_id = tests.get_supabase_uid('fix-creator') and date = '2026-11-21' $$,
  'an anonymous follow event (no follower gained) leaves no user_daily_stats row of zeros');

insert into public.follows (follower_id, creator_id, created_at)
values (tests.get_supabase_uid('fix-fan'), tests.get_supabase_uid('fix-creator'), '2026-11-20 18:00+00');
select aggregation.user_day('2026-11-20');
select results_eq($$ select followers_gained from public.user_daily_stats
                     where user_id = tests.get_supabase_uid('fix-creator') and date = '2026-11-20' $$,
  $$ values (1) $$, 'a day rebuild keeps a follow written straight into public.follows that day');
delete from public.user_daily_stats where user_id = tests.get_supabase_uid('fix-creator') and date = '2026-11-20';
select aggregation.user_day('2026-11-20');
select results_eq($$ select plays_received, followers_gained from public.user_daily_stats
                     where user_id = tests.get_supabase_uid('fix-creator') and date = '2026-11-20' $$,
  $$ values (2, 1) $$, 'and gives that day back its row when it had none');

select count(*) from public.ingest_events(jsonb_build_array(
  jsonb_build_object('id', md5('fix-erased-1')::uuid, 'type', 'mashup_played', 'timestamp', '2026-11-22 10:00+00',
                     'user_id', tests.get_supabase_uid('fix-fan'), 'anonymous_id', 'fix-erased',
                     'properties', jsonb_build_object('mashup_id', 'eeeeeeee-0000-4000-8000-0000000027a1', 'play_id', md5('fix-play')::uuid)),
  jsonb_build_object('id', md5('fix-erased-2')::uuid, 'type', 'mashup_liked', 'timestamp', '2026-11-22 10:00+00', 'anonymous_id', 'fix-other',
                     'properties', jsonb_build_object('mashup_id', 'eeeeeeee-0000-4000-8000-0000000027a1', 'referrer', 'fix-erased'))));
select public.erase_listener(p_anonymous_id => 'fix-erased');
select aggregation.run_incremental(p_lag => '-1 second', p_max_window => '100 days', p_job => 'fold-scenario', p_wait => true);
select is_empty($$ select * from public.mashup_quarter_hour_stats where mashup_id = 'eeeeeeee-0000-4000-8000-0000000027a1'
                     and bucket_start >= '2026-11-22' $$,
  'erasing an anonymous id drops its queued events that carry a user id too, and queued events naming it: none is counted');

insert into public.mashups (id, creator_id, title, duration_seconds)
values ('eeeeeeee-0000-4000-8000-0000000027a3', tests.get_supabase_uid('fix-creator'), 'Fix played, then deleted', 60);
select count(*) from public.ingest_events(jsonb_build_array(
  jsonb_build_object('id', md5('fix-moved-1')::uuid, 'type', 'mashup_played', 'timestamp', '2026-11-23 10:00+00', 'anonymous_id', 'fix-mover',
                     'properties', jsonb_build_object('mashup_id', 'eeeeeeee-0000-4000-8000-0000000027a3', 'play_id', md5('fix-moved')::uuid))));
select aggregation.run_incremental(p_lag => '-1 second', p_max_window => '100 days', p_job => 'fold-scenario', p_wait => true);
delete from public.mashups where id = 'eeeeeeee-0000-4000-8000-0000000027a3';
select count(*) from public.ingest_events(jsonb_build_array(
  jsonb_build_object('id', md5('fix-moved-2')::uuid, 'type', 'mashup_played', 'timestamp', '2026-11-23 10:01+00', 'anonymous_id', 'fix-mover',
                     'properties', jsonb_build_object('mashup_id', 'eeeeeeee-0000-4000-8000-0000000027a1', 'play_id', md5('fix-moved')::uuid))));
select aggregation.run_incremental(p_lag => '-1 second', p_max_window => '100 days', p_job => 'fold-scenario', p_wait => true);
select is_empty($$ select * from public.mashup_play_summaries where play_id = md5('fix-moved')::uuid $$,
  'a play whose earliest played event''s mashup was deleted gets no summary from a later played event naming another mashup');

select count(*) from public.ingest_events(jsonb_build_array(
  jsonb_build_object('id', md5('fix-duration-1')::uuid, 'type', 'mashup_played', 'timestamp', '2026-11-24 10:00+00', 'anonymous_id', 'fix-long',
                     'properties', jsonb_build_object('mashup_id', 'eeeeeeee-0000-4000-8000-0000000027a1', 'play_id', md5('fix-long')::uuid)),
  jsonb_build_object('id', md5('fix-duration-2')::uuid, 'type', 'mashup_play_progress', 'timestamp', '2026-11-24 10:01+00', 'anonymous_id', 'fix-long',
                     'properties', jsonb_build_object('mashup_id', 'eeeeeeee-0000-4000-8000-0000000027a1', 'play_id', md5('fix-long')::uuid,
                                                      'position_seconds', 50))));
select aggregation.run_incremental(p_lag => '-1 second', p_max_window => '100 days', p_job => 'fold-scenario', p_wait => true);
select tests.authenticate_as('fix-creator');
update public.mashups set duration_seconds = 40 where id = 'eeeeeeee-0000-4000-8000-0000000027a1';
select tests.clear_authentication();
-- The edit only queues the mashup (it never waits for the aggregation lock); the next run re-caps.
select results_eq($$ select mashup_id from aggregation.pending_duration_refolds
                     where mashup_id = 'eeeeeeee-0000-4000-8000-0000000027a1' $$,
  $$ values ('eeeeeeee-0000-4000-8000-0000000027a1'::uuid) $$,
  'a duration edit queues its mashup for the next run');
select aggregation.run_incremental(p_lag => '-1 second', p_max_window => '100 days', p_job => 'fold-scenario', p_wait => true);
select results_eq($$
  select (select furthest_position_seconds::int || '/' || completed from public.mashup_play_summaries where play_id = md5('fix-long')::uuid),
         (select string_agg(position_bucket_seconds || ':' || plays || ':' || completed_plays, ',')
          from public.mashup_daily_retention where mashup_id = 'eeeeeeee-0000-4000-8000-0000000027a1' and date = '2026-11-24'),
         (select completed_plays::int from public.mashup_lifetime_stats where mashup_id = 'eeeeeeee-0000-4000-8000-0000000027a1'),
         (select avg_watch_time from public.mashup_daily_stats where mashup_id = 'eeeeeeee-0000-4000-8000-0000000027a1' and date = '2026-11-24') $$,
  $$ values ('40/true', '40:1:1', 1, 40.00) $$,
  'a creator shortening a mashup re-caps its plays: summary, retention, lifetime completions, the day''s average watch time');

-- The check can fail: with a fold that drops the source/country/device breakdowns, a history is caught.
create or replace function aggregation.fold_breakdowns() returns bigint language sql as 'select 0::bigint';
select isnt_empty($$ select rollup from tests.fold_scenario(0.47, 1, 100, false)
                     where rollup in ('mashup_quarter_hour_breakdowns', 'creator_daily_breakdowns') and mismatched > 0 $$,
  'a fold that loses the breakdowns is caught by the recount');

select * from finish();
rollback;
