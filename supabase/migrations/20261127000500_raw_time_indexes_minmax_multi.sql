-- The raw events' time indexes keep a day's read to that day's pages when later rows land in old pages.
--
-- Why. The BRIN indexes on raw_events.analytics_events ("timestamp", received_at) and on the bot
-- events (received_at) kept one min/max per 32-page range. A page of raw events fills until the next
-- row does not fit, so it keeps a gap of up to a row's width (48-116 bytes on bench/generate's pages).
-- The narrowest events (reactions, 108-112 bytes) fit those gaps: once the free space map knows them
-- (VACUUM, or a backend moving on from a full page), new events are placed in old pages all over the
-- month's partition. One such row widens its range's min/max to today, so every range of the month
-- then matched a query for any earlier day of it. On a fresh 10M database after the benchmark's runs
-- (333,442 events stored "today" went to 15,539 of November's 115,651 pages), reading one UTC day
-- (166k events, ~4,300 pages) read 77,501 pages; a day recount (backfill of that day) took 3.4 s.
--
-- What. The same indexes with the minmax-multi operator class (PostgreSQL 14+): a range keeps up to
-- 32 values or intervals instead of one min/max, so a few out-of-order rows stay points of their own
-- and the range still answers "not this day" for the days between. The same day read: 7,168 pages,
-- 45 ms instead of 610 ms; the day recount 2.5 s instead of 3.4 s (docs/benchmarks.md). Readers: the
-- day recounts (aggregate_mashup_stats, aggregation.mashup_day, backfill, rebuild_days), raw retention
-- and the analysts' time ranges. Inserts at the end of a partition do not touch the index (an
-- unsummarized range); a row placed in an old, summarized range adds its value there.
--
-- Cost of the migration: the indexes are rebuilt from every partition under a SHARE lock (ingest's
-- inserts wait; reads go on): 10.6 s for both on the 10M benchmark database (2.2 GB of raw events).
-- Same names, same pages_per_range; new partitions (raw_events.ensure_partitions) inherit them.

drop index raw_events.idx_analytics_events_timestamp;
create index idx_analytics_events_timestamp on raw_events.analytics_events
  using brin ("timestamp" timestamptz_minmax_multi_ops) with (pages_per_range = 32);

drop index raw_events.idx_analytics_events_received;
create index idx_analytics_events_received on raw_events.analytics_events
  using brin (received_at timestamptz_minmax_multi_ops) with (pages_per_range = 32);

drop index public.idx_analytics_bot_events_received;
create index idx_analytics_bot_events_received on public.analytics_bot_events
  using brin (received_at timestamptz_minmax_multi_ops);
