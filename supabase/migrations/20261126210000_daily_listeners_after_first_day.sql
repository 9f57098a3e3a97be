-- The per-day listener set keeps only the days after a listener's first play of a mashup (issue 10).
--
-- Before: every (UTC day, mashup, listener) with a play had a row in
-- aggregation.mashup_daily_listeners, and public.mashup_listeners had one more row per (mashup,
-- listener) with its first play. A listener's first day was stored twice: a new listener cost two
-- rows, each an index entry in a B-tree of text keys. On the benchmark's 1M data set 99.5 % of the
-- day set's rows were first days (529,641 of 532,523): most listeners of a mashup never return on
-- another UTC day.
--
-- Now the lifetime row is the first day's row. The per-day set of (d, mashup) is
--   { listeners whose first_played_at falls on d }        (public.mashup_listeners)
--   + { rows (d, mashup, listener) of the day set }        (only d after the listener's first day)
-- and mashup_daily_stats.unique_plays is still that count, exact, kept by deltas. A run writes a
-- day-set row only for a listener who comes back on a later UTC day. Per batch listener-day:
--   - a listener the mashup has never had: +1 on the day, lifetime row inserted; a later day of the
--     same batch is a day-set row;
--   - a known listener on its first day: nothing (already counted);
--   - on a later day: a day-set row, +1 if it is new (insert ... on conflict do nothing);
--   - a late event before the first play: first_played_at moves back; the new first day counts +1,
--     days between the two are new (+1, day-set rows), and the old first day keeps its count but
--     now needs its day-set row (inserted, no count).
-- Reading an event twice, a late event or a duplicate changes no count it already contributed to.
-- The day rebuild (aggregation.mashup_day) sets unique_plays from the day's raw events themselves.
--
-- The upgrade deletes the first-day rows of databases that have them (one statement).

create or replace function aggregation.fold_listeners()
returns bigint
language plpgsql
security invoker
set search_path = ''
set plan_cache_mode = force_custom_plan
set enable_hashjoin = off
set enable_mergejoin = off
as $$
declare
  v_rows bigint;
begin
  -- One statement: every part reads the lifetime set as it was before the batch (one probe per
  -- listener-day, through the primary key), and no CTE is joined with another CTE (no statistics).
  with b as materialized (
    select (f."timestamp" at time zone 'UTC')::date as date, f.mashup_id, f.listener_key,
           min(f."timestamp") as first_in_day
    from aggregation.fold_batch f
    where f.event_type = 'mashup_played' and f.listener_key is not null
      and exists (select 1 from public.mashups m where m.id = f.mashup_id)
    group by 1, 2, 3
  ),
  k as materialized (
    select x.date, x.mashup_id, x.listener_key, x.batch_first, x.known_first,
           (least(x.batch_first, x.known_first) at time zone 'UTC')::date as first_day,
           (x.known_first at time zone 'UTC')::date as known_day,
           x.date = (x.batch_first at time zone 'UTC')::date as batch_first_day
    from (
      select b.date, b.mashup_id, b.listener_key,
             min(b.first_in_day) over (partition by b.mashup_id, b.listener_key) as batch_first,
             l.first_played_at as known_first
      from b left join public.mashup_listeners l on l.mashup_id = b.mashup_id and l.listener_key = b.listener_key
    ) x
  ),
  -- Lifetime: new listeners are inserted (one row per listener: its batch's first day); a known
  -- listener's row is only written when the batch holds an earlier first play.
  new_listeners as (
    insert into public.mashup_listeners (mashup_id, listener_key, first_played_at)
    select k.mashup_id, k.listener_key, k.batch_first from k
    where k.known_first is null and k.batch_first_day
    on conflict (mashup_id, listener_key) do nothing
    returning mashup_id
  ),
  lifetime_deltas as (
    insert into aggregation.fold_lifetime_listener_deltas (mashup_id, listeners)
    select n.mashup_id, count(*)::integer from new_listeners n group by 1
    returning 1
  ),
  earlier as (
    update public.mashup_listeners t set first_played_at = k.batch_first
    from k
    where k.known_first is not null and k.batch_first_day and k.batch_first < k.known_first
      and t.mashup_id = k.mashup_id and t.listener_key = k.listener_key
    returning 1
  ),
  -- Days after the first day: a row each; new rows are new listeners of that day. (The old first
  -- day of a listener whose first play moved back is excluded here and inserted below, uncounted.)
  later_days as (
    insert into aggregation.mashup_daily_listeners (date, mashup_id, listener_key)
    select k.date, k.mashup_id, k.listener_key from k
    where k.date > k.first_day and k.date is distinct from k.known_day
    on conflict do nothing
    returning date, mashup_id
  ),
  moved_first_days as (
    insert into aggregation.mashup_daily_listeners (date, mashup_id, listener_key)
    select k.known_day, k.mashup_id, k.listener_key from k
    where k.batch_first_day and k.known_day > k.first_day
    on conflict do nothing
    returning 1
  )
  insert into aggregation.fold_daily_listener_deltas (mashup_id, date, listeners)
  select n.mashup_id, n.date, count(*)::integer
  from (
    select d.mashup_id, d.date from later_days d
    union all
    -- The first day, when it is new: a new listener, or a first play moved back to an earlier day.
    select k.mashup_id, k.date from k
    where k.date = k.first_day and (k.known_first is null or k.date < k.known_day)
  ) n
  group by 1, 2;
  get diagnostics v_rows = row_count;
  return v_rows;
end;
$$;
comment on function aggregation.fold_listeners() is
  'Folds the batch''s plays into the listener sets (lifetime rows; day-set rows only for days after a '
  'listener''s first day) and collects the new listeners per day and per mashup as deltas.';

-- The day rebuild: unique_plays of each of the day's rows from the day's raw plays (the batch of
-- aggregation.mashup_day holds exactly that day's raw events). A recount, not a set's size.
create or replace function aggregation.fold_day_unique_plays(p_day date)
returns bigint
language plpgsql
security invoker
set search_path = ''
set plan_cache_mode = force_custom_plan
as $$
declare
  v_n bigint;
begin
  with n as (
    select f.mashup_id, count(distinct f.listener_key)::integer as listeners
    from aggregation.fold_batch f
    where f.event_type = 'mashup_played' and f.listener_key is not null
      and (f."timestamp" at time zone 'UTC')::date = p_day
      and exists (select 1 from public.mashups m where m.id = f.mashup_id)
    group by 1
  ),
  day_rows as (
    select t.mashup_id, coalesce(n.listeners, 0) as listeners
    from public.mashup_daily_stats t left join n on n.mashup_id = t.mashup_id
    where t.date = p_day
  )
  update public.mashup_daily_stats t set unique_plays = r.listeners
  from day_rows r
  where t.date = p_day and t.mashup_id = r.mashup_id and t.unique_plays is distinct from r.listeners;
  get diagnostics v_n = row_count;
  return v_n;
end;
$$;
comment on function aggregation.fold_day_unique_plays(date) is
  'Sets unique_plays of every mashup_daily_stats row of one UTC day to the distinct listeners of that '
  'day''s raw plays (the day rebuild''s batch).';

revoke all on function aggregation.fold_listeners(), aggregation.fold_day_unique_plays(date)
  from public, anon, authenticated;
grant execute on function aggregation.fold_listeners(), aggregation.fold_day_unique_plays(date) to service_role;

-- Databases folded before: drop the first-day rows (the lifetime row now stands for them).
delete from aggregation.mashup_daily_listeners d
using public.mashup_listeners l
where l.mashup_id = d.mashup_id and l.listener_key = d.listener_key
  and d.date = (l.first_played_at at time zone 'UTC')::date;

comment on table aggregation.mashup_daily_listeners is
  'Listeners of a mashup on a UTC day after their first day (public.mashup_listeners.first_played_at): '
  'unique_plays of (d, mashup) = lifetime rows first played on d + rows of d here.';
