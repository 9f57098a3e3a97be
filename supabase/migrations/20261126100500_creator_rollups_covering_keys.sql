-- The creator dashboard reads its creator rows from the primary keys alone (index-only scans).
--
-- A top creator's 30-day dashboard read ~1,500 creator_quarter_hour_stats and ~1,450
-- creator_daily_breakdowns rows, each on its own heap page (rows of a creator are written a bucket
-- or a day at a time, among every other creator's): ~3,000 of the call's ~4,100 buffer accesses
-- at 10M events. With the counts as INCLUDE columns of the primary keys, the same rows come from
-- a few dozen consecutive index pages once the pages are all-visible (vacuum). The key columns,
-- and so every ON CONFLICT target and lookup, stay the same; the price is that an update of a
-- count writes a new index entry (no HOT update), once per touched creator row and run.

alter table public.creator_quarter_hour_stats
  drop constraint creator_quarter_hour_stats_pkey,
  add constraint creator_quarter_hour_stats_pkey primary key (creator_id, bucket_start) include (plays, likes, shares);
alter table public.creator_daily_breakdowns
  drop constraint creator_daily_breakdowns_pkey,
  add constraint creator_daily_breakdowns_pkey primary key (creator_id, date, source, country, device) include (plays);
