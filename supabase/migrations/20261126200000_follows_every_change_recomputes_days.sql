-- Every change of public.follows keeps followers_gained right, not only a direct insert or delete
-- (refines 20261126055000 / 20261126055300).
--
-- followers_gained(creator, UTC day d) = follows of the creator in public.follows with created_at in
-- d. The row trigger follows_recompute_day fires on INSERT and DELETE only, and skips anything below
-- the top level (pg_trigger_depth() > 1, meant for the follows the user_followed events trigger
-- writes, whose days the incremental job recomputes). Two writes the table accepts therefore left
-- user_daily_stats wrong for good (no job recomputes those days):
--   * an UPDATE that moves a follow to another day or creator (created_at or creator_id): an
--     operator's correction, a re-anchoring of demo data, tests/integration/dashboard_export.test.ts
--     (its fixture backdates two follows): the old day kept the follow, the new day never got it;
--   * a follow deleted by ON DELETE CASCADE when the follower's account is deleted (depth 2): the
--     creator's day kept the follower.
-- Found by tests/integration/fold_under_load.test.ts, whose whole-database exactness check
-- (bench/exactness.sql) ran after dashboard_export in `npm test`.
--
-- One statement-level trigger with transition tables (a bulk UPDATE costs one recompute, not one per
-- row) recomputes the (creator, day) keys a statement moved a follow out of or into, and the keys of
-- follows deleted below the top level. Like recompute_follow_day it never waits for a job: lock free,
-- the days are recomputed at once; held, they are queued in aggregation.pending_user_days for
-- `follow-days` (every minute). SECURITY DEFINER for the same reason as recompute_follow_day: the
-- role deleting an account or updating a follow need not be able to write the rollups; it recomputes
-- exactly the changed keys and nothing the caller chooses.
create function aggregation.recompute_changed_follow_days()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_u uuid[];
  v_d date[];
begin
  if tg_op = 'UPDATE' then
    with moved as (
      select o.creator_id as old_creator, (o.created_at at time zone 'UTC')::date as old_day,
             n.creator_id as new_creator, (n.created_at at time zone 'UTC')::date as new_day
      from old_rows o
      join new_rows n on n.follower_id = o.follower_id and n.creator_id = o.creator_id
    ),
    keys as (
      -- rows whose key (follower, creator) is unchanged and that moved to another day
      select m.old_creator as user_id, m.old_day as day from moved m where m.old_day <> m.new_day
      union
      select m.new_creator, m.new_day from moved m where m.old_day <> m.new_day
      union
      -- rows whose key changed (follower or creator updated): both sides, whatever their day
      select o.creator_id, (o.created_at at time zone 'UTC')::date from old_rows o
      where not exists (select 1 from new_rows n where n.follower_id = o.follower_id and n.creator_id = o.creator_id)
      union
      select n.creator_id, (n.created_at at time zone 'UTC')::date from new_rows n
      where not exists (select 1 from old_rows o where o.follower_id = n.follower_id and o.creator_id = n.creator_id)
    )
    select coalesce(array_agg(k.user_id), '{}'), coalesce(array_agg(k.day), '{}') into v_u, v_d from keys k;
  elsif tg_op = 'DELETE' and pg_catalog.pg_trigger_depth() > 1 then
    -- Top-level deletes are follows_recompute_day's (row trigger); these are cascades.
    select coalesce(array_agg(k.creator_id), '{}'), coalesce(array_agg(k.day), '{}') into v_u, v_d
    from (select distinct o.creator_id, (o.created_at at time zone 'UTC')::date as day from old_rows o) k;
  else
    return null;
  end if;
  if cardinality(v_u) = 0 then
    return null;
  end if;
  if aggregation.lock(false) then
    perform aggregation.recompute_user_days(v_u, v_d);
    perform aggregation.recompute_pending_user_days();
  else
    insert into aggregation.pending_user_days (user_id, day)
    select distinct k.user_id, k.day from unnest(v_u, v_d) as k (user_id, day)
    on conflict (user_id, day) do nothing;
  end if;
  return null;
end;
$$;
comment on function aggregation.recompute_changed_follow_days() is
  'After an UPDATE of public.follows, or a cascaded DELETE (an account deleted): recomputes '
  'user_daily_stats of the (creator, UTC day) keys the statement moved follows out of or into, or '
  'queues them in aggregation.pending_user_days while a job holds the lock.';
revoke all on function aggregation.recompute_changed_follow_days() from public, anon, authenticated;

create trigger follows_recompute_moved_days
  after update on public.follows
  referencing old table as old_rows new table as new_rows
  for each statement execute function aggregation.recompute_changed_follow_days();

create trigger follows_recompute_cascaded_days
  after delete on public.follows
  referencing old table as old_rows
  for each statement execute function aggregation.recompute_changed_follow_days();

-- Days already left wrong by such writes (before this migration, or by a write with the triggers
-- disabled): recomputes every (creator, UTC day) whose followers_gained differs from the rule, found
-- in one grouped pass over public.follows and the stored rows; returns how many keys it recomputed.
-- For this migration and for operators; the caller's transaction holds the aggregation lock after.
create function aggregation.repair_followers_gained()
returns bigint
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_u uuid[];
  v_d date[];
begin
  perform aggregation.lock(true);
  with counted as (
    select f.creator_id as user_id, (f.created_at at time zone 'UTC')::date as day, count(*)::integer as n
    from public.follows f group by 1, 2
  ),
  stored as (
    select u.user_id, u.date as day, u.followers_gained as n from public.user_daily_stats u
    where coalesce(u.followers_gained, 0) <> 0
  ),
  wrong as ((select * from counted except select * from stored) union (select * from stored except select * from counted))
  select coalesce(array_agg(w.user_id), '{}'), coalesce(array_agg(w.day), '{}') into v_u, v_d
  from (select distinct w.user_id, w.day from wrong w) w;
  if cardinality(v_u) = 0 then
    return 0;
  end if;
  perform aggregation.recompute_user_days(v_u, v_d);
  return cardinality(v_u);
end;
$$;
comment on function aggregation.repair_followers_gained() is
  'Recomputes every user_daily_stats (creator, UTC day) whose followers_gained differs from public.follows; '
  'returns the number of keys. Takes the aggregation lock.';
revoke all on function aggregation.repair_followers_gained() from public, anon, authenticated;

select aggregation.repair_followers_gained();
