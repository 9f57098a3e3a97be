-- The 5-minute incremental job without the 30 s lag (same name and schedule: cron.schedule with a
-- job's name replaces its command, so applying this again changes nothing).
--
-- The lag kept a window's end behind transactions still writing, when runs read raw events by
-- receive time. The queue needs none: a run takes only committed events (and, since
-- 20261126190000, waits for the transactions still writing into the slot it takes). With the lag,
-- a run copied out the last 30 s of its slot, about a tenth of a 5-minute run's events, only to
-- put them back for the next run. run_incremental()'s own default stays 30 s for other callers.
select cron.schedule('aggregate-incremental', '*/5 * * * *', $$select aggregation.run_incremental(p_lag => '0 seconds')$$);
