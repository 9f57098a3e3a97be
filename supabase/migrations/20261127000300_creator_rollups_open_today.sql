-- The creator rollups' open days start today, not tomorrow.
--
-- 20261127000100 started dashboard.creator_rollup_days.open_from at the day after the migration ran,
-- so that the rows a database already held stayed valid. But until that day every run kept writing
-- the creator rows of the day the migration ran: a new database (a fresh clone's `npm start`, a
-- benchmark database made that day) paid the two creator statements in every run of its first day.
-- On a fresh 10M-event database that was 470 ms of a ~50k-event run of 3.4 s (docs/benchmarks.md).
--
-- Moving the boundary back to today deletes today's creator rows (aggregation.open_creator_days_from:
-- backward), which the dashboard then reads from the mashups' rollups, as it does for every open day:
-- responses stay the same. On a database with no rows today (a new one) it deletes nothing. It takes
-- the jobs' lock, so it waits for a run in progress. Only a boundary after today moves; a database
-- whose boundary is today or earlier (its runs close ended days) keeps it.
select aggregation.open_creator_days_from((now() at time zone 'UTC')::date)
where (select s.open_from from dashboard.creator_rollup_days s) > (now() at time zone 'UTC')::date;
