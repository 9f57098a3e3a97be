-- The raw events' minmax-multi time indexes keep 8 values per range instead of the default 32.
--
-- Why. 20261127000500 gave the raw events' BRIN indexes the minmax-multi operator class, so a late
-- row stored in an old page no longer makes a day's read visit the month. Its cost is at ingest: a
-- row placed in an old, already summarized range adds its value to that range's summary, and with 32
-- values a range that is decoded, merged and written again for each such row. In bench/aggregate's
-- COPY into the store (50,001 events into a copy holding the other 2.3M, after VACUUM: 511 of them
-- landed in old pages), 5 alternating runs each: one min/max per range 641 ms (median), minmax-multi
-- with 32 values 720 ms (+12 %), with 8 values 630 ms (the same as one min/max, within the noise).
-- Reads lose nothing at the sizes measured: a UTC day's read visits the same pages with 8 values as
-- with 32 (10M: 7,168 / 6,080 / 6,400 pages for three November days; 1M: 608 / 800 / 992). 8 is the
-- operator class's minimum.
--
-- Cost of the migration: the same rebuild as 20261127000500 (SHARE lock on every partition: ingest's
-- inserts wait, reads go on; about 1.4 s per million stored events).

drop index raw_events.idx_analytics_events_timestamp;
create index idx_analytics_events_timestamp on raw_events.analytics_events
  using brin ("timestamp" timestamptz_minmax_multi_ops (values_per_range = 8)) with (pages_per_range = 32);

drop index raw_events.idx_analytics_events_received;
create index idx_analytics_events_received on raw_events.analytics_events
  using brin (received_at timestamptz_minmax_multi_ops (values_per_range = 8)) with (pages_per_range = 32);

drop index public.idx_analytics_bot_events_received;
create index idx_analytics_bot_events_received on public.analytics_bot_events
  using brin (received_at timestamptz_minmax_multi_ops (values_per_range = 8));
