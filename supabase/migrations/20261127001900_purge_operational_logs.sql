-- Operational logs keep a window, not everything since the first day.
--
-- Found by an outside audit: with no event arriving at all, five tables grew with time and runs
-- and nothing ever removed a row: cron.job_run_details (~1,730 rows a day, most of them the
-- every-minute follow-days job), aggregation.runs (one per run, 288 incremental runs a day),
-- public.realtime_reconcile_runs with public.realtime_drift (hourly), raw_events.maintenance_log.
-- Raw events have a horizon; their logs now have one too. aggregation.purge_logs() runs daily
-- (pg_cron 'purge-logs', 03:45 UTC, after the partition job) and deletes:
--   * cron.job_run_details older than 14 days (Supabase's pg_cron guide suggests the same purge;
--     pg_cron lets a job's owner delete its own rows);
--   * aggregation.runs older than 90 days, except each job's latest succeeded run
--     (raw_events.rollups_final reads the latest nightly or backfill);
--   * realtime_reconcile_runs older than 90 days, their realtime_drift rows with them (cascade);
--   * raw_events.maintenance_log older than 400 days (settings.dropped_through keeps what
--     retention needs of it).
-- raw_events.erasures (one row per erasure, no identity) is kept: it is the erasure record.

create function aggregation.purge_logs(p_now timestamptz default now())
returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_cron bigint;
  v_runs bigint;
  v_reconcile bigint;
  v_maintenance bigint;
begin
  delete from cron.job_run_details d where d.end_time < p_now - interval '14 days';
  get diagnostics v_cron = row_count;

  delete from aggregation.runs r
  where r.finished_at < p_now - interval '90 days'
    and r.id not in (select max(k.id) from aggregation.runs k where k.status = 'succeeded' group by k.job);
  get diagnostics v_runs = row_count;

  delete from public.realtime_reconcile_runs r where r.started_at < p_now - interval '90 days';
  get diagnostics v_reconcile = row_count;

  delete from raw_events.maintenance_log l where l.ran_at < p_now - interval '400 days';
  get diagnostics v_maintenance = row_count;

  return jsonb_build_object('cron_run_details', v_cron, 'aggregation_runs', v_runs,
                            'reconcile_runs', v_reconcile, 'maintenance_log', v_maintenance);
end;
$$;
comment on function aggregation.purge_logs(timestamptz) is
  'Daily: deletes operational log rows past their window (pg_cron run details 14 days; aggregation runs, '
  'reconciliation runs and drift 90 days, keeping each job''s latest succeeded run; maintenance log 400 days).';
revoke all on function aggregation.purge_logs(timestamptz) from public, anon, authenticated;
grant execute on function aggregation.purge_logs(timestamptz) to service_role;

select cron.schedule('purge-logs', '45 3 * * *', $$select aggregation.purge_logs()$$);
