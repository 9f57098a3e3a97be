-- A day rebuild finds the follows made that day through an index, not a pass over every follow.
--
-- aggregation.user_day(d) (backfill, repairs, the plan's aggregate_user_stats) asks the follows
-- rule for every creator followed that UTC day, however the follow arrived (20261126180200): it
-- selects public.follows by created_at in [d, d + 1). The table's only indexes lead with the
-- follower or the creator, so each rebuilt day read every follow ever made: a 60-day backfill read
-- the table 60 times. A follow is written once and rarely, so one more index entry per follow is
-- cheap beside that.
create index follows_created_at_idx on public.follows (created_at);
