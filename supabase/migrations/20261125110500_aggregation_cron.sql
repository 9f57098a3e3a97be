-- The aggregation schedule on pg_cron. cron.schedule(name, ...) updates a job of the same name,
-- so applying this again changes nothing.
--   aggregate-nightly      '0 2 * * *'    the plan's nightly job at 02:00 UTC: yesterday, user stats, views
--   aggregate-incremental  '*/5 * * * *'  every 5 minutes: what arrived since the last run
-- pg_cron lives in pg_catalog, as on Supabase; its jobs run as the role that scheduled them
-- (postgres). Outcomes: aggregation.runs (ours) and cron.job_run_details (pg_cron's).
create extension if not exists pg_cron with schema pg_catalog;

select cron.schedule('aggregate-nightly', '0 2 * * *', $$select aggregation.run_nightly()$$);
select cron.schedule('aggregate-incremental', '*/5 * * * *', $$select aggregation.run_incremental()$$);
