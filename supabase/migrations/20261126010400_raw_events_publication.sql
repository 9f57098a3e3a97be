-- A publication of the raw tables for logical replication (issue 11): Supabase's replication
-- pipelines (to an analytics warehouse) or any PostgreSQL subscriber read new raw events from it.
-- publish_via_partition_root: changes of every monthly partition, present and future, are
-- published as changes of the parent, so a subscriber has one analytics_events table and needs
-- no partition of its own. Only inserts and deletes are published: raw events are never updated,
-- and a delete is an erasure the warehouse must apply too. Dropping a partition (retention) is
-- DDL, not published: the warehouse keeps its history. docs/scaling.md says when to use it.
-- Publishing needs wal_level = logical on the server (scripts/stack.sh sets it; hosted Supabase has it).
-- Deletes (erasures) are identified by the whole old row: the raw tables have no primary key
-- (monthly partitions get the same in raw_events.create_month).
alter table public.analytics_events replica identity full;
alter table public.analytics_bot_events replica identity full;
create publication analytics_raw_events
  for table public.analytics_events, public.analytics_bot_events
  with (publish = 'insert, delete', publish_via_partition_root = true);
comment on publication analytics_raw_events is
  'New raw events (and erasures) for warehouse pipelines; partitions published as their parent.';
