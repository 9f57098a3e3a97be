-- A direct follow or unfollow never waits for an aggregation job (refines 20261126055000).
-- The row trigger on public.follows recomputed its (creator, day) under the aggregation lock, so a
-- user's follow could wait for a running job (seconds; a backfill day, longer). Now it only tries
-- the lock: free (almost always), the day is recomputed at once as before; held, the (creator, day)
-- is queued in aggregation.pending_user_days, which the pg_cron job `follow-days` recomputes every
-- minute (and the next free follow trigger too), so the number is right within a minute.

create table aggregation.pending_user_days (
  user_id uuid not null,
  day date not null,
  queued_at timestamptz not null default now(),
  primary key (user_id, day)
);
comment on table aggregation.pending_user_days is
  'user_daily_stats keys a follow or unfollow changed while an aggregation job held the lock.';
alter table aggregation.pending_user_days enable row level security;
revoke all on aggregation.pending_user_days from public, anon, authenticated;

-- Recomputes the queued days; the caller holds the aggregation lock.
create function aggregation.recompute_pending_user_days()
returns bigint
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_u uuid[];
  v_d date[];
begin
  with taken as (delete from aggregation.pending_user_days returning user_id, day)
  select coalesce(array_agg(user_id), '{}'), coalesce(array_agg(day), '{}') into v_u, v_d from taken;
  if cardinality(v_u) = 0 then
    return 0;
  end if;
  return aggregation.recompute_user_days(v_u, v_d);
end;
$$;
comment on function aggregation.recompute_pending_user_days() is
  'Recomputes the user days queued by follows that met a held aggregation lock; call under the lock.';

-- The cron entry point: waits for the lock like any job.
create function aggregation.run_pending_user_days()
returns bigint
language plpgsql
security invoker
set search_path = ''
as $$
begin
  perform aggregation.lock(true);
  return aggregation.recompute_pending_user_days();
end;
$$;

-- SECURITY DEFINER for the same reason as before: a creator follows under RLS, the rollups and the
-- queue are the service role's; it recomputes or queues exactly the row's (creator, day).
create or replace function aggregation.recompute_follow_day()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
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
    insert into aggregation.pending_user_days (user_id, day)
    values (f.creator_id, aggregation.utc_day(f.created_at))
    on conflict (user_id, day) do nothing;
  end if;
  return null;
end;
$$;

revoke all on function aggregation.recompute_pending_user_days(), aggregation.run_pending_user_days(),
  aggregation.recompute_follow_day() from public, anon, authenticated;
grant execute on function aggregation.run_pending_user_days() to service_role;

select cron.schedule('follow-days', '* * * * *', $$select aggregation.run_pending_user_days()$$);
