-- A day rebuild keeps the followers gained through follows written straight into public.follows.
--
-- aggregation.user_day(d) (backfill, repairs) recomputed followers_gained only for creators with a
-- user_followed event that day, and rewrote every other row of the day with followers_gained = 0.
-- A follow the app writes into public.follows (the usual way: no event) made that day was therefore
-- taken out of its creator's day by the next backfill of that day, and a day without a row was never
-- given one (the "known gap" in docs/aggregation.md). Found by tests/sql/27_fold_all_rollups_randomized.
-- Now the day asks the follows rule (aggregation.fold_follows) for every creator with a follow
-- event that day, a follow made that day in public.follows, or followers counted in a row of the day.
-- (public.follows has no index on created_at alone: the day reads it whole, one pass per rebuilt day.)
create or replace function aggregation.user_day(target_date date)
returns jsonb
language plpgsql
security invoker
set search_path = ''
set plan_cache_mode = force_custom_plan
as $$
declare
  v_t0 timestamptz := aggregation.day_start(target_date);
  v_t1 timestamptz := aggregation.day_start(target_date + 1);
  v_c uuid[];
  v_d date[];
  v_f text[];
  v_users integer;
  v_rows bigint;
begin
  perform aggregation.lock(true);
  -- Only the batch: the other scratch tables are not read here (every fold empties them first).
  perform aggregation.fold_reset_batch();

  if not exists (select 1 from public.analytics_events e where e."timestamp" >= v_t0 and e."timestamp" < v_t1)
     and exists (select 1 from public.user_daily_stats u where u.date = target_date) then
    raise notice 'aggregate_user_stats(%): no raw events left for that day; its rows are kept as they are', target_date;
    return jsonb_build_object('user_days', 0, 'rows_written', 0, 'skipped', 'no raw events');
  end if;

  with taken as (
    delete from aggregation.pending_events q
    where q."timestamp" >= v_t0 and q."timestamp" < v_t1 and q.event_type in ('mashup_created', 'user_followed')
    returning 1
  )
  insert into aggregation.fold_batch
  select r.* from aggregation.raw_events_for_fold r
  where r."timestamp" >= v_t0 and r."timestamp" < v_t1 and r.event_type in ('mashup_created', 'user_followed');

  -- followers_gained of every creator the day may concern: follow events of the day, follows made
  -- that day however they arrived (the app writes most of them straight into public.follows), and
  -- rows of the day that count followers now.
  select coalesce(array_agg(k.creator_id), '{}'), coalesce(array_agg(target_date), '{}'),
         coalesce(array_agg(k.follower_key), '{}')
  into v_c, v_d, v_f
  from (
    select b.creator_id, b.listener_key as follower_key
    from aggregation.fold_batch b
    where b.event_type = 'user_followed' and b.creator_id is not null
      and exists (select 1 from auth.users u where u.id = b.creator_id)
    union all
    select f.creator_id, null from public.follows f where f.created_at >= v_t0 and f.created_at < v_t1
    union all
    select us.user_id, null from public.user_daily_stats us where us.date = target_date and us.followers_gained <> 0
  ) k;

  -- (Union and group rather than joins between CTEs: CTEs carry no statistics for the planner.)
  with computed as (
    select x.user_id, sum(x.created)::integer as mashups_created, sum(x.received)::integer as plays_received,
           sum(x.followed)::integer as followers_gained
    from (
      select b.user_id, 1 as created, 0 as received, 0 as followed
      from aggregation.fold_batch b
      where b.event_type = 'mashup_created' and b.user_id is not null
        and exists (select 1 from auth.users u where u.id = b.user_id)
      union all
      select m.creator_id, 0, d.plays, 0
      from public.mashup_daily_stats d join public.mashups m on m.id = d.mashup_id
      where d.date = target_date
      union all
      select f.user_id, 0, 0, f.followers_gained from aggregation.fold_follows(v_c, v_d, v_f) f
      union all
      select us.user_id, 0, 0, 0 from public.user_daily_stats us where us.date = target_date
    ) x
    group by x.user_id
  ),
  up as (
    insert into public.user_daily_stats as t (user_id, date, mashups_created, plays_received, followers_gained)
    select c.user_id, target_date, c.mashups_created, c.plays_received, c.followers_gained
    from computed c
    where c.mashups_created > 0 or c.plays_received > 0 or c.followers_gained > 0
    on conflict (user_id, date) do update set
      mashups_created = excluded.mashups_created, plays_received = excluded.plays_received,
      followers_gained = excluded.followers_gained
    where (t.mashups_created, t.plays_received, t.followers_gained)
      is distinct from (excluded.mashups_created, excluded.plays_received, excluded.followers_gained)
    returning 1
  ),
  del as (
    delete from public.user_daily_stats t
    using computed c
    where t.user_id = c.user_id and t.date = target_date
      and c.mashups_created = 0 and c.plays_received = 0 and c.followers_gained = 0
    returning 1
  )
  select (select count(*) from computed), (select count(*) from up) + (select count(*) from del)
  into v_users, v_rows;
  return jsonb_build_object('user_days', v_users, 'rows_written', v_rows);
end;
$$;
