-- The bucket-only indexes of the two quarter-hour rollups become partial, on a predicate every row
-- satisfies (bucket_start > '-infinity'), so that only a query that states a bucket bound can use
-- them (issue 10).
--
-- They serve the day rebuilds (aggregation.mashup_day: a UTC day's existing rows across all
-- mashups, `bucket_start >= <day start> and bucket_start < <next day start>`). Those functions plan
-- with force_custom_plan, so their bounds are constants, which imply the predicate: the partial
-- index serves them as the full one did. What it no longer serves is a probe of one key: the fold
-- writes these rollups with MERGE (20261126230000), which is planned like a join on (mashup_id,
-- bucket_start); with today's bucket beyond the statistics the planner chose the bucket-only
-- index for that join, scanning every mashup's row of the bucket for each key (3 s instead of
-- ~50 ms a run). A join clause cannot imply the predicate, so the primary key serves the MERGE.
-- Every other reader of these tables goes by mashup (the dashboard functions, the mashup delete,
-- recompute_mashup_days: the primary key) or reads them whole (analytics.source_mix,
-- check_rollups); a query with a generic plan and only parameter bounds would now scan the table.
--
-- Rebuilding the two indexes takes their table's lock for as long as the build (~0.3 s each at 1M
-- raw events, 138k and 143k rows).

drop index public.mashup_quarter_hour_stats_bucket_idx;
create index mashup_quarter_hour_stats_bucket_idx on public.mashup_quarter_hour_stats (bucket_start)
  where bucket_start > '-infinity';
drop index public.mashup_quarter_hour_breakdowns_bucket_idx;
create index mashup_quarter_hour_breakdowns_bucket_idx on public.mashup_quarter_hour_breakdowns (bucket_start)
  where bucket_start > '-infinity';
