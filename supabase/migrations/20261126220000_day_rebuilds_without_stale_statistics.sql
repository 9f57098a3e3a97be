-- Day rebuilds whose cost does not depend on the tables' statistics being current.
--
-- A day rebuild (aggregation.mashup_day and aggregation.user_day: backfill, repair) writes rows of a
-- day the rollups' statistics have never seen: a backfill of history into a project analysed
-- before, or any day past the last ANALYZE. For such a day the planner estimates one row of
-- mashup_daily_stats (the date is in no MCV list), and two statements then joined with a nested
-- loop that re-ran their other side once per row of the day: quadratic in the day's keys.
-- Measured on the 1M bench database (backfill of 7 days, ANALYZE, then the whole backfill): 100 s
-- instead of 17 s, 79 s of it in fold_day_unique_plays, up to 2 s for one day of 1,671 mashups.
--
-- fold_day_unique_plays: the batch is filtered on "timestamp", which its statistics (taken right
-- after it is filled) estimate well, where an expression's UTC date got a default 0.5 %; the day's
-- rows and the recounted listeners meet in one union and group (no self-join); and the function
-- plans without nested loops: its one join, the day's rows against the recount, is then a hash
-- join whatever the estimates. The mashup existence check is gone: only mashup_daily_stats rows
-- are updated, and they exist only for existing mashups (foreign key).
create or replace function aggregation.fold_day_unique_plays(p_day date)
returns bigint
language plpgsql
security invoker
set search_path = ''
set plan_cache_mode = force_custom_plan
set enable_nestloop = off
as $$
declare
  v_n bigint;
begin
  with want as (
    select x.mashup_id, sum(x.listeners)::integer as listeners
    from (
      select f.mashup_id, count(distinct f.listener_key) as listeners
      from aggregation.fold_batch f
      where f.event_type = 'mashup_played' and f.listener_key is not null and f.mashup_id is not null
        and f."timestamp" >= aggregation.day_start(p_day) and f."timestamp" < aggregation.day_start(p_day + 1)
      group by 1
      union all
      select t.mashup_id, 0 from public.mashup_daily_stats t where t.date = p_day
    ) x
    group by 1
  )
  update public.mashup_daily_stats t set unique_plays = w.listeners
  from want w
  where t.date = p_day and t.mashup_id = w.mashup_id and t.unique_plays is distinct from w.listeners;
  get diagnostics v_n = row_count;
  return v_n;
end;
$$;
comment on function aggregation.fold_day_unique_plays(date) is
  'Sets unique_plays of every mashup_daily_stats row of one UTC day to the distinct listeners of that '
  'day''s raw plays (the day rebuild''s batch). Plans without nested loops (20261126220000).';

-- user_day: the same restated, its delete of emptied rows by key.
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
  -- The rows left with nothing are found by key (an array taken from computed once), not by a join:
  -- with the day missing from the table's statistics the planner expected one row of the day and
  -- rescanned computed for every row.
  del as (
    delete from public.user_daily_stats t
    where t.date = target_date
      and t.user_id = any (array(select c.user_id from computed c
                                 where c.mashups_created = 0 and c.plays_received = 0 and c.followers_gained = 0))
    returning 1
  )
  select (select count(*) from computed), (select count(*) from up) + (select count(*) from del)
  into v_users, v_rows;
  return jsonb_build_object('user_days', v_users, 'rows_written', v_rows);
end;
$$;
