-- Emptying a run's scratch tables costs what they hold, not a new file per table.
--
-- TRUNCATE gives a table new files, and an unlogged table's init fork is synced to disk at once: a
-- backfill day (mashup_day, then user_day) emptied seven scratch tables twice, 30-60 ms of a
-- ~600 ms day under load. fold_reset() now truncates only the tables that hold rows, in one
-- statement; user_day() only needs the batch emptied.

-- Whether one scratch table of the fold holds a row (reads at most its first row).
create function aggregation.scratch_has_rows(p_table text)
returns boolean
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v boolean;
begin
  execute format('select exists (select 1 from aggregation.%I)', p_table) into v;
  return v;
end;
$$;

create or replace function aggregation.fold_reset()
returns void
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_tables text[];
begin
  select array_agg(format('aggregation.%I', t.name))
  into v_tables
  from unnest(array['fold_batch', 'fold_count_deltas', 'fold_breakdown_deltas', 'fold_retention_deltas',
                    'fold_daily_listener_deltas', 'fold_lifetime_listener_deltas', 'fold_day_averages']) as t (name)
  where aggregation.scratch_has_rows(t.name);
  if v_tables is not null then
    execute 'truncate ' || array_to_string(v_tables, ', ');
  end if;
end;
$$;
comment on function aggregation.fold_reset() is
  'Empties the per-run scratch tables that hold rows (the caller holds aggregation.lock()).';

create function aggregation.fold_reset_batch()
returns void
language plpgsql
security invoker
set search_path = ''
as $$
begin
  if aggregation.scratch_has_rows('fold_batch') then
    truncate aggregation.fold_batch;
  end if;
end;
$$;
comment on function aggregation.fold_reset_batch() is 'Empties aggregation.fold_batch when it holds rows.';

create or replace function aggregation.user_day(target_date date)
returns jsonb
language plpgsql
security invoker
set search_path = ''
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

  select coalesce(array_agg(b.creator_id), '{}'), coalesce(array_agg(target_date), '{}'),
         coalesce(array_agg(b.listener_key), '{}')
  into v_c, v_d, v_f
  from aggregation.fold_batch b
  where b.event_type = 'user_followed' and b.creator_id is not null
    and exists (select 1 from auth.users u where u.id = b.creator_id);

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

alter function aggregation.user_day(date) set plan_cache_mode = force_custom_plan;
revoke all on function aggregation.scratch_has_rows(text), aggregation.fold_reset_batch() from public, anon, authenticated;
grant execute on function aggregation.scratch_has_rows(text), aggregation.fold_reset_batch() to service_role;
