-- Aggregation entry points plan every statement for its actual arguments.
-- PL/pgSQL caches statement plans per session and, after five executions, may switch to a generic
-- plan that ignores the argument values. For the recompute queries (arrays of keys, one day's
-- bounds) the generic plan is far worse: a 10M-event backfill, which calls these once per day in one
-- session, ran ~15 s a day for five days and then 100+ s a day. Forcing custom plans keeps every
-- day at ~15 s (measured in bench/dashboard's backfill; see docs/benchmarks.md).
alter function aggregation.mashup_day(date) set plan_cache_mode = force_custom_plan;
alter function aggregation.user_day(date) set plan_cache_mode = force_custom_plan;
alter function aggregation.recompute_plays(uuid[]) set plan_cache_mode = force_custom_plan;
alter function aggregation.recompute_mashup_days(uuid[], date[]) set plan_cache_mode = force_custom_plan;
alter function aggregation.recompute_user_days(uuid[], date[]) set plan_cache_mode = force_custom_plan;
alter function aggregation.recompute_lifetime(uuid[]) set plan_cache_mode = force_custom_plan;
alter function public.aggregate_mashup_stats(date) set plan_cache_mode = force_custom_plan;
alter function public.aggregate_user_stats(date) set plan_cache_mode = force_custom_plan;
alter function aggregation.run_incremental(interval, interval, interval, timestamptz, text, boolean)
  set plan_cache_mode = force_custom_plan;
alter function aggregation.run_nightly(date) set plan_cache_mode = force_custom_plan;
