-- The fold follows the one rule for follows (migration 20261126055000, issue 13/14):
-- followers_gained(creator, UTC day) = follows in public.follows of that creator made that day that
-- still stand (aggregation.followers_gained). Sorts after 20261126055000-055400, which defined the
-- rule on the recompute path.
--
--   aggregation.fold_follows        the fold's one followers_gained function (issue 10): now the
--                                   rule above for each (creator, day) it is given; the follower
--                                   keys are no longer needed (the follows rows are the set).
--   aggregation.recompute_user_days what a direct follow or unfollow calls (20261126055300): it now
--                                   sets followers_gained only. Recounting mashups_created from raw
--                                   events there would count events still queued for the fold
--                                   twice; plays_received and mashups_created are the fold's.

create or replace function aggregation.fold_follows(p_creators uuid[], p_days date[], p_followers text[])
returns table (user_id uuid, date date, followers_gained integer)
language sql
stable
security invoker
set search_path = ''
as $$
  select k.creator_id, k.day,
         aggregation.followers_gained(k.creator_id, aggregation.day_start(k.day), aggregation.day_start(k.day + 1))
  from (select distinct u.creator_id, u.day from unnest(p_creators, p_days) as u (creator_id, day)
        where u.creator_id is not null and u.day is not null) k
$$;
comment on function aggregation.fold_follows(uuid[], date[], text[]) is
  'followers_gained of each given (creator, UTC day): aggregation.followers_gained (public.follows). '
  'p_followers is unused since the follows rule of 20261126055000.';

create or replace function aggregation.recompute_user_days(user_ids uuid[], days date[])
returns bigint
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_rows bigint;
begin
  with f as (
    select g.user_id, g.date, g.followers_gained
    from aggregation.fold_follows(user_ids, days, null) g
    where exists (select 1 from auth.users au where au.id = g.user_id)
  ),
  up as (
    insert into public.user_daily_stats as t (user_id, date, mashups_created, plays_received, followers_gained)
    select f.user_id, f.date, 0, 0, f.followers_gained from f
    on conflict (user_id, date) do update set followers_gained = excluded.followers_gained
    where t.followers_gained is distinct from excluded.followers_gained
    returning 1
  )
  select count(*) into v_rows from up;
  delete from public.user_daily_stats t
  using unnest(user_ids, days) as k (user_id, day)
  where t.user_id = k.user_id and t.date = k.day and coalesce(t.mashups_created, 0) = 0
    and coalesce(t.plays_received, 0) = 0 and coalesce(t.followers_gained, 0) = 0;
  return v_rows;
end;
$$;
comment on function aggregation.recompute_user_days(uuid[], date[]) is
  'Sets followers_gained of these (user, UTC day) keys from public.follows (a direct follow or '
  'unfollow); the other user_daily_stats columns are kept by the fold.';
alter function aggregation.recompute_user_days(uuid[], date[]) set plan_cache_mode = force_custom_plan;
alter function aggregation.fold_follows(uuid[], date[], text[]) set plan_cache_mode = force_custom_plan;
