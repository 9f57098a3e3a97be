-- Supabase's Performance Advisor (lint 0001, unindexed_foreign_keys): public.realtime_drift.run_id
-- references public.realtime_reconcile_runs with ON DELETE CASCADE and had no index, so the daily
-- purge of runs older than 90 days (20261127001900) scanned the whole drift table once per purged run.
-- npm test now fails on any unindexed foreign key (scripts/check-advisors.mjs).
create index realtime_drift_run_idx on public.realtime_drift (run_id);
