-- The lifetime listener set (public.mashup_listeners): a listener already in the set is no longer
-- locked and rewritten by every run that sees them again.
--
-- Before, the fold wrote the set with INSERT ... ON CONFLICT DO UPDATE ... WHERE excluded.first_played_at
-- < t.first_played_at. PostgreSQL locks each conflicting row before it tests the WHERE, so every known
-- listener in a batch cost a row lock (a WAL record and a dirtied page) even when nothing changed.
-- A day rebuild (backfill, repair) sees mostly known listeners. Now new listeners are inserted with
-- ON CONFLICT DO NOTHING (the rows it returns are the new ones, counted into unique_plays as before),
-- and only a listener whose batch holds an earlier first play (a late event) is updated. Both parts of
-- the statement read its snapshot, so a row is either inserted or updated, never both; every writer
-- holds aggregation.lock().

create or replace function aggregation.fold_listeners()
returns bigint
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_rows bigint := 0;
  v_n bigint;
begin
  with l as (
    select distinct (b."timestamp" at time zone 'UTC')::date as date, b.mashup_id, b.listener_key
    from aggregation.fold_batch b
    where b.event_type = 'mashup_played' and b.listener_key is not null
      and exists (select 1 from public.mashups m where m.id = b.mashup_id)
  ),
  ins as (
    insert into aggregation.mashup_daily_listeners (date, mashup_id, listener_key)
    select l.date, l.mashup_id, l.listener_key from l
    on conflict do nothing
    returning date, mashup_id
  )
  insert into aggregation.fold_daily_listener_deltas (mashup_id, date, listeners)
  select ins.mashup_id, ins.date, count(*)::integer from ins group by 1, 2;
  get diagnostics v_n = row_count;
  v_rows := v_rows + v_n;

  -- Lifetime: keep each listener's earliest play; count the rows that are new.
  with f as materialized (
    select b.mashup_id, b.listener_key, min(b."timestamp") as first_played_at
    from aggregation.fold_batch b
    where b.event_type = 'mashup_played' and b.listener_key is not null
      and exists (select 1 from public.mashups m where m.id = b.mashup_id)
    group by 1, 2
  ),
  -- New listeners are inserted; a known listener's row is only written when the batch holds an
  -- earlier first play (a late event): no row lock, no new row version for a listener seen before.
  ins as (
    insert into public.mashup_listeners (mashup_id, listener_key, first_played_at)
    select f.mashup_id, f.listener_key, f.first_played_at from f
    on conflict (mashup_id, listener_key) do nothing
    returning mashup_id
  ),
  earlier as (
    update public.mashup_listeners t set first_played_at = f.first_played_at
    from f
    where t.mashup_id = f.mashup_id and t.listener_key = f.listener_key and f.first_played_at < t.first_played_at
    returning 1
  )
  insert into aggregation.fold_lifetime_listener_deltas (mashup_id, listeners)
  select ins.mashup_id, count(*)::integer from ins group by 1;
  get diagnostics v_n = row_count;
  return v_rows + v_n;
end;
$$;
-- create or replace resets a function's settings (20261126020300's reasons).
alter function aggregation.fold_listeners() set plan_cache_mode = force_custom_plan;
alter function aggregation.fold_listeners() set enable_hashjoin = off;
alter function aggregation.fold_listeners() set enable_mergejoin = off;
