-- Existing databases under the follows rule (20261126055000): user_daily_stats.followers_gained was
-- computed the old way (distinct listener keys of user_followed events, anonymous ones included).
-- Every day with a follow or an old followers_gained is recomputed once, so sum(followers_gained)
-- equals followers from the upgrade on. Events stored before the upgrade are not turned into
-- follows: an unfollow (the row's deletion) after such an event cannot be told apart from a follow
-- never written, so the table stays the record of the past. A fresh database has nothing to do.
select aggregation.lock(true);
select aggregation.recompute_user_days(coalesce(array_agg(k.user_id), '{}'), coalesce(array_agg(k.day), '{}'))
from (
  select f.creator_id as user_id, aggregation.utc_day(f.created_at) as day from public.follows f
  union
  select s.user_id, s.date from public.user_daily_stats s where s.followers_gained > 0
) k;
