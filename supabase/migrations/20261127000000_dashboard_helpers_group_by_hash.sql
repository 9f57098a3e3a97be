-- The creator dashboard's two helpers group the period's rows by hashing them, not by sorting them.
--
-- dashboard_mashup_totals() and dashboard_breakdown_totals() run their generic plans
-- (20261126230200). A generic plan cannot see how many rows `= any (p_mashups)` and the period's
-- bounds select, so it estimates a handful, and for a handful a sort followed by a group is the
-- cheapest plan. A big creator's 30 days are thousands of rows: 3,861 day and edge rows of
-- sources x countries x devices for the biggest creator at 10M events, whose sort on three text
-- keys took 3.3 of the breakdown helper's 6.4 ms. Grouping by hash gives the same groups without the
-- sort. `enable_sort = off` on the two functions only: any statement that must sort still does
-- (the setting makes a sort costly, not impossible), and it holds while a helper runs, not for the
-- RPC that calls it. Nothing the helpers return depends on the order of their rows: their callers
-- re-group or order them (top content by plays, likes, title, id; whole_percentages by count, key).
--
-- Measured at 10M events (the biggest creator, 30 days in Europe/Berlin, 60 calls in one session,
-- twice): get_creator_dashboard p50 7.2-7.3 ms before, 5.9-6.1 ms after (docs/benchmarks.md,
-- Dashboard API).

alter function public.dashboard_mashup_totals(uuid[], timestamptz, timestamptz) set enable_sort = off;
alter function public.dashboard_breakdown_totals(uuid[], uuid[], timestamptz, timestamptz) set enable_sort = off;
