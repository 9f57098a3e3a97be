-- The published events table is raw_events.analytics_events (publish_via_partition_root): an erasure's
-- delete reaches a subscriber only when the root also identifies rows by their whole old row, as
-- 20261126010400 set for the old parent (the partitions have it from raw_events.create_month).
alter table raw_events.analytics_events replica identity full;
