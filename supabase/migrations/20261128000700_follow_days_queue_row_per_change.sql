-- A follow's queued day is never lost to a consumer running at the same time (outside audit,
-- 2026-11-28, a race from 20261126055300 / 20261126200000 that a flood of follows reached).
--
-- A follow or unfollow that finds the aggregation lock held queues its (creator, UTC day) in
-- aggregation.pending_user_days, which had one row per key (`on conflict do nothing`). When the key
-- was already queued, the follow inserted nothing and relied on that row; if a consumer (the
-- every-minute `follow-days` job, or another follow holding the lock) took the row and recounted
-- the day before the follow committed, the recount missed the follow and nothing was left queued:
-- `followers_gained` stayed wrong for good (`check_rollups.mismatches()` after a flood: 2 counted,
-- 1 standing follow, nothing queued; reproduced deterministically by the auditor). Now every change
-- queues a row of its own (an identity key, nothing unique about the day), so a follow's row is
-- invisible to a consumer until the follow commits and is taken by the next look; a consumer
-- recomputes each key once. It also means a follow never waits for a consumer's uncommitted delete.
-- Bodies otherwise as they were (20261126200000 and 20261127001300 and before).

alter table aggregation.pending_user_days drop constraint pending_user_days_pkey;
alter table aggregation.pending_user_days add column id bigint generated always as identity primary key;

create or replace function aggregation.recompute_follow_day()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  f public.follows := case when tg_op = 'DELETE' then old else new end;
begin
  if pg_catalog.pg_trigger_depth() > 1 then
    return null;
  end if;
  if aggregation.lock(false) then
    perform aggregation.recompute_user_days(array[f.creator_id], array[aggregation.utc_day(f.created_at)]);
    perform aggregation.recompute_pending_user_days();
  else
    -- A row of its own, never a conflict: see this migration's header.
    insert into aggregation.pending_user_days (user_id, day)
    values (f.creator_id, aggregation.utc_day(f.created_at));
  end if;
  return null;
end;
$function$;

create or replace function aggregation.recompute_changed_follow_days()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
    select distinct k.user_id, k.day from unnest(v_u, v_d) as k (user_id, day);
  end if;
  return null;
end;
$function$;

create or replace function aggregation.recompute_pending_user_days()
 RETURNS bigint
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_u uuid[];
  v_d date[];
begin
  -- `where true`: the whole queue, said so (pg-safeupdate refuses a DELETE without WHERE).
  -- The rows committed so far; a follow still open is not among them and stays for the next look.
  -- Several rows may name one key (one per queued change): each key is recomputed once.
  with taken as (delete from aggregation.pending_user_days where true returning user_id, day),
  keys as (select distinct t.user_id, t.day from taken t)
  select coalesce(array_agg(k.user_id), '{}'), coalesce(array_agg(k.day), '{}') into v_u, v_d from keys k;
  if cardinality(v_u) = 0 then
    return 0;
  end if;
  return aggregation.recompute_user_days(v_u, v_d);
end;
$function$;
