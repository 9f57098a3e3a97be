-- The four dashboard RPCs, called as creators, against an independent recount from raw events
-- (tests/sql/_dashboard_recount.psql), field by field, over randomized histories
-- (tests/sql/_dashboard_scenario.psql): every catalog type through ingest_events in four runs
-- with late events, duplicate ids, unknown mashups, upper-case ids, events at local and UTC
-- midnights and DST changes, two day finalisations and a day rebuild; random periods (1 day to
-- 366 days) and limits in 16 zones (DST zones, +05:30, +05:45, +09:30/+10:30, -03:30, +12:45,
-- +10:30/+11, +14, -11, and the zones whose midnight repeats or falls in a gap), plus every 2026
-- DST day of each zone alone and with its neighbours.
-- Then the creator edits durations, and the check itself is shown to catch planted faults.
-- Fails before 20261126170000_dashboard_local_midnight.sql (tests 1-4, 6-8: the Azores' and
-- Havana's repeated midnights began the local day an hour late) and before
-- 20261126170100_mashup_duration_edit_refolds_plays.sql (tests 10-12).
begin;
\ir _helpers.psql
\ir _dashboard_recount.psql
\ir _dashboard_scenario.psql
set search_path = public, extensions, tests;
select plan(17);
update raw_events.settings set retention_months = 1200;

-- A local day is [first local midnight, next local midnight): 25 hours in the Azores on 2026-10-25.
select is(public.dashboard_local_midnight('2026-10-25', 'Atlantic/Azores'), '2026-10-25 00:00+00'::timestamptz,
  'the Azores'' 2026-10-25 begins at its first midnight (00:00 UTC), not at the repeated one');
select is(public.dashboard_local_midnight('2026-11-01', 'America/Havana'), '2026-11-01 04:00+00'::timestamptz,
  'Havana''s 2026-11-01 begins at 00:00 CDT');
select is(public.dashboard_local_midnight('2026-03-08', 'America/Havana'), '2026-03-08 05:00+00'::timestamptz,
  'a midnight in a spring-forward gap: the day begins at the first instant after it');
select is_empty($$
  select z, d from unnest(tests.dashboard_zones()) z,
                   generate_series('2026-01-01'::date, '2026-12-31'::date, interval '1 day') d
  where public.dashboard_local_midnight(d::date, z) is distinct from
        (select min(t) from generate_series((d::date::timestamp - interval '1 day') at time zone 'UTC',
                                             (d::date::timestamp + interval '2 days') at time zone 'UTC',
                                             interval '15 minutes') t
         where (t at time zone z)::date >= d::date) $$,
  'every day of 2026 in every test zone begins at its first quarter hour with that local date');

select tests.dashboard_scenario(0.23, 'dz1', 1200);
select cmp_ok((select count(*) from recount_events where event_type = 'mashup_played'), '>', 400::bigint,
  'seed 0.23: hundreds of plays stored');
select is_empty($$ select * from tests.dashboard_mismatches(0.23, 'dz1', 25) $$,
  'seed 0.23: every field of every response equals the recount');

-- The creator rollups hold the UTC days before a boundary (20261127000100): with it in June, the
-- dashboard reads the later days from the mashups' rollups.
select aggregation.open_creator_days_from('2026-06-09');
select is_empty($$ select * from tests.dashboard_mismatches(0.23, 'dz1', 25) $$,
  'seed 0.23, creator rollups up to 2026-06-08: every field of every response equals the recount');

-- The next scenario's runs close those days again (summed from the mashups' rollups).
select tests.dashboard_scenario(0.61, 'dz2', 1200);
select is_empty($$ select * from tests.dashboard_mismatches(0.61, 'dz2', 25) $$,
  'seed 0.61: every field of every response equals the recount');
select tests.recount_load('dz1-sess-');
select is_empty($$ select * from tests.dashboard_mismatches(0.23, 'dz1', 25) $$,
  'seed 0.23 after its days were closed again: every field of every response equals the recount');
select tests.recount_load('dz2-sess-');
select aggregation.open_creator_days_from('2026-10-24');
select is_empty($$ select * from tests.dashboard_mismatches(0.61, 'dz2', 25) $$,
  'seed 0.61, creator rollups up to 2026-10-23 (the DST weekend open): every field of every response equals the recount');

select tests.dashboard_scenario(0.89, 'dz3', 1200);
select is_empty($$ select * from tests.dashboard_mismatches(0.89, 'dz3', 25) $$,
  'seed 0.89: every field of every response equals the recount');

select is_empty($$ select status from aggregation.runs where job = 'dashboard-scenario' and status <> 'succeeded' $$,
  'every aggregation run succeeded');

-- A creator edits durations (one shorter, one longer): retention follows the new durations, and
-- so do the rollups behind it (lifetime watch time and completions, the day's average).
select tests.authenticate_as('dz3-c1');
update public.mashups set duration_seconds = greatest(1, duration_seconds / 3)
where id = (select m.id from public.mashups m where m.title = 'dz3 Mix 1');
update public.mashups set duration_seconds = duration_seconds + 150
where id = (select m.id from public.mashups m where m.title = 'dz3 Mix 4');
update public.mashups set title = title || ' (edit)'
where id = (select m.id from public.mashups m where m.title = 'dz3 Mix 5');
select tests.clear_authentication();
-- The edits are refolded by the next run (20261128000100), as the 5-minute job would.
select aggregation.run_incremental(p_lag => '-1 second', p_max_window => '100 years', p_job => 'dashboard-scenario', p_wait => true);
select is_empty($$ select * from tests.dashboard_mismatches(0.89, 'dz3', 25) $$,
  'after duration edits every field of every response equals the recount');
select is_empty($$
  with p as (select * from tests.recount_plays() where mashup_id in
             (select m.id from public.mashups m where m.title like 'dz3 Mix 1' or m.title like 'dz3 Mix 4%')),
  expected as (select mashup_id, count(*) as tracked, count(*) filter (where completed) as completed,
                      sum(furthest) as watch, round(avg(furthest), 2) as average from p group by 1),
  actual as (select l.mashup_id, l.tracked_plays, l.completed_plays, l.watch_time_seconds, l.avg_watch_time
             from public.mashup_lifetime_stats l where l.mashup_id in (select mashup_id from p))
  (select * from expected except all select * from actual) union all (select * from actual except all select * from expected) $$,
  'lifetime watch time and completions of the edited mashups equal the recount');
select is_empty($$
  with p as (select * from tests.recount_plays() where mashup_id in
             (select m.id from public.mashups m where m.title like 'dz3 Mix 1' or m.title like 'dz3 Mix 4%')),
  expected as (select mashup_id, (started_at at time zone 'UTC')::date as date, round(avg(furthest), 2) as average
               from p group by 1, 2),
  actual as (select d.mashup_id, d.date, d.avg_watch_time from public.mashup_daily_stats d
             where d.mashup_id in (select mashup_id from p) and d.avg_watch_time is not null)
  (select * from expected except all select * from actual) union all (select * from actual except all select * from expected) $$,
  'the edited mashups'' daily average watch time equals the recount');

-- The check can fail: one bucket of one creator's rollup off by one play, and one play summary
-- completed that did not complete, are found.
update public.creator_quarter_hour_stats set plays = plays + 1
where (creator_id, bucket_start) = (select s.creator_id, s.bucket_start from public.creator_quarter_hour_stats s
                                    where s.creator_id = tests.get_supabase_uid('dz3-c1')
                                      and s.bucket_start >= '2026-10-25 12:00+00' and s.plays > 0
                                    order by s.bucket_start limit 1);
select isnt_empty($$ select * from tests.dashboard_mismatches(0.89, 'dz3', 25) where path like '.summary.%' $$,
  'a creator bucket one play off is caught');
update public.mashup_play_summaries set completed = not completed
where mashup_id in (select m.id from public.mashups m where m.creator_id = tests.get_supabase_uid('dz3-c1'));
select isnt_empty($$ select * from tests.dashboard_mismatches(0.89, 'dz3', 25) where path like '.retention.%' $$,
  'play summaries with the wrong completion are caught');

select * from finish();
rollback;
