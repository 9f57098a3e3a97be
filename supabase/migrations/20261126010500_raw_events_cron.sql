-- Partition maintenance on pg_cron, daily at 03:30 UTC (after the 02:00 nightly aggregation, so the
-- month that just passed the horizon has its last nightly run): creates the months ahead, drops the
-- months past the horizon whose rollups are final. cron.schedule(name, ...) updates a job of the
-- same name, so applying this again changes nothing. Outcomes: raw_events.maintenance_log.
create extension if not exists pg_cron with schema pg_catalog;

select cron.schedule('raw-events-partitions', '30 3 * * *', $$select raw_events.maintain()$$);
