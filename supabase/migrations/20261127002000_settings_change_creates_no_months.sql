-- A changed retention does not create its months in the same transaction (reverts that part of
-- 20261127001600; the horizon's floor at a dropped month stays).
--
-- The trigger created every month back to the new horizon at once. "Keep everything" is a
-- retention_months of 1200, which the test suites and an operator alike may set: 2,400 empty
-- partitions in one transaction, and every later query over raw events planned over all of them
-- (a randomized pgTAP suite went from seconds to more than 40 minutes). Months are created by the
-- daily maintenance (raw_events.maintain, 03:30 UTC) as before, or at once with
-- `select raw_events.ensure_partitions();` right after the change (docs/raw-storage.md).

drop trigger partitions_for_settings on raw_events.settings;
drop function raw_events.partitions_for_settings();
