-- Operational logs keep a window (20261127001900): aggregation.purge_logs() deletes pg_cron's run
-- details after 14 days, aggregation runs and reconciliation runs (with their drift) after 90,
-- the maintenance log after 400, and never a job's latest succeeded run, which retention reads.
begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
select plan(8);

select ok(exists (select 1 from cron.job where jobname = 'purge-logs' and command like '%aggregation.purge_logs()%'),
  'the purge runs daily on pg_cron');

-- Old and recent rows of each log.
insert into cron.job_run_details (jobid, runid, database, username, command, status, start_time, end_time)
values (0, -7001, 'postgres', 'postgres', 'test-70 old', 'succeeded', now() - interval '20 days', now() - interval '20 days'),
       (0, -7002, 'postgres', 'postgres', 'test-70 recent', 'succeeded', now() - interval '2 days', now() - interval '2 days');
insert into aggregation.runs (job, status, started_at, finished_at, duration_ms)
values ('test-70', 'succeeded', now() - interval '200 days', now() - interval '200 days', 1),
       ('test-70', 'failed', now() - interval '100 days', now() - interval '100 days', 1),
       ('test-70', 'succeeded', now() - interval '95 days', now() - interval '95 days', 1),
       ('test-70-b', 'succeeded', now() - interval '120 days', now() - interval '120 days', 1),
       ('test-70-b', 'succeeded', now() - interval '1 day', now() - interval '1 day', 1);
insert into public.realtime_reconcile_runs (run_id, started_at, read_at, settle_seconds, reason)
values ('00000000-0000-4000-8000-000000007001', now() - interval '91 days', now() - interval '91 days', 0, 'test-70'),
       ('00000000-0000-4000-8000-000000007002', now() - interval '10 days', now() - interval '10 days', 0, 'test-70');
insert into public.realtime_drift (run_id, subject_kind, subject_id, counter, expected, counted, uncertain, repaired)
values ('00000000-0000-4000-8000-000000007001', 'mashup', gen_random_uuid(), 'plays', 1, 0, 0, 1);
insert into raw_events.maintenance_log (ran_at, action, detail)
values (now() - interval '401 days', 'kept', 'test-70 old'), (now() - interval '30 days', 'kept', 'test-70 recent');

create temporary table latest on commit drop as
select job, max(id) as id from aggregation.runs where status = 'succeeded' group by job;
select ok((aggregation.purge_logs() ->> 'aggregation_runs')::integer >= 2, 'the purge reports what it deleted');

select results_eq($$ select command from cron.job_run_details where command like 'test-70%' $$,
  $$ values ('test-70 recent') $$, 'pg_cron run details: 14 days');
select results_eq(
  $$ select job, status, (now() - finished_at)::text from aggregation.runs where job like 'test-70%' order by job, finished_at $$,
  $$ values ('test-70', 'succeeded', '95 days'), ('test-70-b', 'succeeded', '1 day') $$,
  'aggregation runs: 90 days, and each job''s latest succeeded run whatever its age');
select results_eq($$ select run_id::text from public.realtime_reconcile_runs where reason = 'test-70' $$,
  $$ values ('00000000-0000-4000-8000-000000007002') $$, 'reconciliation runs: 90 days');
select is_empty($$ select 1 from public.realtime_drift where run_id = '00000000-0000-4000-8000-000000007001' $$,
  'their drift rows go with them');
select results_eq($$ select detail from raw_events.maintenance_log where detail like 'test-70%' $$,
  $$ values ('test-70 recent') $$, 'maintenance log: 400 days');
select is_empty($$ select l.job from latest l where not exists (select 1 from aggregation.runs r where r.id = l.id) $$,
  'every job''s latest succeeded run is still there (retention reads the nightly''s)');

select * from finish();
rollback;
