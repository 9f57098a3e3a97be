-- A follow event that adds no follower leaves no user_daily_stats row of zeros.
--
-- The fold recomputes followers_gained for the (creator, UTC day) of every user_followed event it
-- reads and upserted the result even when it was 0: an anonymous follow event (no account follows),
-- a self-follow, or a second follow event of a pair that already follows since another day made a
-- row of zeros for a creator with nothing else that day. Rows exist only for keys with something to
-- count (docs/aggregation.md); aggregation.user_day() of that day deleted the row again, so the
-- table depended on whether the day had been rebuilt (found by
-- tests/sql/27_fold_all_rollups_randomized). Now a 0 is written only over an existing row, and a row
-- left with nothing to count is deleted, as recompute_user_days() does for unfollows.
create or replace function aggregation.fold_users()
returns bigint
language plpgsql
security invoker
set search_path = ''
set plan_cache_mode = force_custom_plan
set enable_hashjoin = off
set enable_mergejoin = off
as $$
declare
  v_rows bigint := 0;
  v_n bigint;
  v_c uuid[];
  v_d date[];
  v_f text[];
begin
  with d as (
    select b.user_id, (b."timestamp" at time zone 'UTC')::date as date, count(*)::integer as n
    from aggregation.fold_batch b
    where b.event_type = 'mashup_created' and b.user_id is not null
      and exists (select 1 from auth.users u where u.id = b.user_id)
    group by 1, 2
  ),
  up as (
    insert into public.user_daily_stats as t (user_id, date, mashups_created, plays_received, followers_gained)
    select d.user_id, d.date, d.n, 0, 0 from d
    on conflict (user_id, date) do update set mashups_created = coalesce(t.mashups_created, 0) + excluded.mashups_created
    returning 1
  )
  select count(*) into v_n from up;
  v_rows := v_rows + v_n;

  select coalesce(array_agg(b.creator_id), '{}'), coalesce(array_agg((b."timestamp" at time zone 'UTC')::date), '{}'),
         coalesce(array_agg(b.listener_key), '{}')
  into v_c, v_d, v_f
  from aggregation.fold_batch b
  where b.event_type = 'user_followed' and b.creator_id is not null
    and exists (select 1 from auth.users u where u.id = b.creator_id);
  if cardinality(v_c) > 0 then
    with f as (select * from aggregation.fold_follows(v_c, v_d, v_f)),
    up as (
      insert into public.user_daily_stats as t (user_id, date, mashups_created, plays_received, followers_gained)
      select f.user_id, f.date, 0, 0, f.followers_gained from f
      where f.followers_gained <> 0
         or exists (select 1 from public.user_daily_stats u where u.user_id = f.user_id and u.date = f.date)
      on conflict (user_id, date) do update set followers_gained = excluded.followers_gained
      where t.followers_gained is distinct from excluded.followers_gained
      returning 1
    )
    select count(*) into v_n from up;
    v_rows := v_rows + v_n;
    delete from public.user_daily_stats t
    using unnest(v_c, v_d) as k (user_id, day)
    where t.user_id = k.user_id and t.date = k.day and coalesce(t.mashups_created, 0) = 0
      and coalesce(t.plays_received, 0) = 0 and coalesce(t.followers_gained, 0) = 0;
  end if;
  return v_rows;
end;
$$;
