-- A run as the service role may close days too. aggregation.run_incremental is granted to
-- service_role (as every aggregation function is), and since 20261127000100 its first run after
-- midnight UTC moves dashboard.creator_rollup_days.open_from, which takes the row FOR UPDATE: with
-- SELECT alone, that run failed ("permission denied for table creator_rollup_days") and was logged
-- as failed until a run as postgres (pg_cron's) closed the day. Readers still only read.
grant update (open_from, updated_at) on dashboard.creator_rollup_days to service_role;
