-- Retention never takes a dropped month back, and a changed retention takes effect at once.
--
-- Found by an outside audit (raising `retention_months`, which docs/raw-storage.md documents):
--   * the horizon moved back over months retention had dropped. Their partitions came back empty,
--     so one new event made a dropped day look like a day with raw events: a recount of it
--     (backfill) rebuilt the day from that one event and lost every count the rollups still held
--     (the guard skips only days with no raw event). And the month's event ids had been released
--     with the drop, so a resent event of that month was stored and counted a second time;
--   * the months the new horizon reopened had no partition until the next daily maintain(): any
--     batch with one event in them failed whole (500), its valid events with it.
-- Now:
--   * raw_events.settings.dropped_through holds the end of the latest month ever dropped, and
--     raw_events.horizon() is never before it: ingest refuses a dropped month's events as before
--     the horizon (per event, by name), ensure_partitions never recreates it;
--   * a statement trigger on raw_events.settings creates the months the new settings keep, in the
--     same transaction as the change.

alter table raw_events.settings add column dropped_through timestamptz;
comment on column raw_events.settings.dropped_through is
  'End of the latest month retention dropped (null: none). raw_events.horizon() never goes back past it: '
  'a dropped month''s events are gone and its ids released, so it takes no new events.';

-- Databases that already dropped months: the latest one the log names.
update raw_events.settings s
set dropped_through = (select (max(l.month) + interval '1 month')::timestamp at time zone 'UTC'
                       from raw_events.maintenance_log l where l.action = 'dropped');

create or replace function raw_events.horizon(p_now timestamptz default now())
returns timestamptz
language sql
stable
set search_path = ''
as $$
  select greatest((date_trunc('month', p_now at time zone 'UTC') - make_interval(months => s.retention_months))
                  at time zone 'UTC',
                  s.dropped_through)
  from raw_events.settings s
$$;
comment on function raw_events.horizon(timestamptz) is
  'The oldest instant raw storage keeps: the first of the month retention_months before p_now''s (UTC), '
  'never before the end of a month retention dropped (settings.dropped_through).';

-- SECURITY DEFINER, with a reason: the service role may change the settings (docs/raw-storage.md)
-- but may not create tables; this creates exactly the months the new settings keep, nothing the
-- caller names.
create function raw_events.partitions_for_settings()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform raw_events.ensure_partitions();
  return null;
end;
$$;
comment on function raw_events.partitions_for_settings() is
  'Statement trigger on raw_events.settings: creates the months a changed retention or months_ahead keeps.';
revoke all on function raw_events.partitions_for_settings() from public, anon, authenticated, service_role;

create trigger partitions_for_settings
  after update of retention_months, months_ahead on raw_events.settings
  for each statement execute function raw_events.partitions_for_settings();

-- drop_expired: as in 20261127001500, and each dropped month moves settings.dropped_through.
create or replace function raw_events.drop_expired(p_now timestamptz default now())
returns integer
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_horizon timestamptz := raw_events.horizon(p_now);
  v_month date;
  v_month_end timestamptz;
  v_final date[] := '{}'::date[];
  v_part text;
  v_ids bigint;
  v_n bigint;
  v_parts integer;
  v_dropped integer := 0;
begin
  -- Decide every month first, then drop: a check must not run on a plan that saw a dropped partition.
  for v_month in
    select distinct to_date(right(c.relname, 6), 'YYYYMM')
    from pg_catalog.pg_inherits i
    join pg_catalog.pg_class c on c.oid = i.inhrelid
    where i.inhparent in ('raw_events.analytics_events'::regclass, 'public.analytics_bot_events'::regclass)
      and c.relnamespace = 'raw_events'::regnamespace and c.relname ~ '_p[0-9]{6}$'
    order by 1
  loop
    v_month_end := (v_month + interval '1 month')::timestamp at time zone 'UTC';
    continue when v_month_end > v_horizon;
    if raw_events.rollups_final(v_month_end) then
      v_final := v_final || v_month;
    else
      insert into raw_events.maintenance_log (action, month, detail)
      values ('kept', v_month, 'past the horizon, but its rollups are not final yet');
    end if;
  end loop;

  foreach v_month in array v_final loop
    v_parts := 0;
    v_ids := 0;
    foreach v_part in array array['analytics_events', 'analytics_bot_events'] loop
      v_part := v_part || '_p' || to_char(v_month, 'YYYYMM');
      if to_regclass('raw_events.' || v_part) is not null then
        -- The live totals keep counting the month's events (DROP fires no delete trigger).
        if v_part like 'analytics_events_%' then
          execute format($sql$
            insert into raw_events.removed_realtime_counts as k (kind, subject_id, counter, received_at, events)
            select case when c.counter = 'followers' then 'creator' else 'mashup' end, c.subject_id, c.counter,
                   max(c.received_at), count(*)
            from (select raw_events.realtime_counter(raw_events.event_type(e.event_code, e.event_name)) as counter,
                         e.mashup_id, e.properties, e.received_at
                  from raw_events.%I e) x
            cross join lateral (select x.counter, raw_events.realtime_subject(x.counter, x.mashup_id, x.properties) as subject_id,
                                       x.received_at) c
            where c.subject_id is not null
              and (case when c.counter = 'followers'
                        then exists (select 1 from auth.users u where u.id = c.subject_id)
                        else exists (select 1 from public.mashups m where m.id = c.subject_id) end)
            group by 1, 2, 3
            on conflict (kind, subject_id, counter, received_at) do update set events = k.events + excluded.events
          $sql$, v_part);
        end if;
        -- The month's ids first, by its own rows (no event of a dropped month can come back: the
        -- horizon refuses it).
        execute format('delete from public.analytics_event_ids i using raw_events.%I e where i.id = e.id', v_part);
        get diagnostics v_n = row_count;
        v_ids := v_ids + v_n;
        execute format('drop table raw_events.%I', v_part);
        v_parts := v_parts + 1;
      end if;
    end loop;
    insert into raw_events.maintenance_log (action, month, partitions, event_ids_deleted, detail)
    values ('dropped', v_month, v_parts, v_ids, 'past the horizon ' || v_horizon || ' and final');
    -- The horizon never goes back past a dropped month (raw_events.horizon).
    update raw_events.settings s
    set dropped_through = greatest(s.dropped_through, (v_month + interval '1 month')::timestamp at time zone 'UTC');
    v_dropped := v_dropped + v_parts;
  end loop;

  -- Kept counts older than a day are before any fence (a fence is at least the reconciling
  -- caller's clock): merged into one row per counter; those of deleted mashups and users go.
  with merged as (
    delete from raw_events.removed_realtime_counts k
    where k.received_at > '-infinity' and k.received_at < now() - interval '1 day'
    returning k.kind, k.subject_id, k.counter, k.events
  )
  insert into raw_events.removed_realtime_counts as k (kind, subject_id, counter, received_at, events)
  select m.kind, m.subject_id, m.counter, '-infinity', sum(m.events)
  from merged m
  group by 1, 2, 3
  on conflict (kind, subject_id, counter, received_at) do update set events = k.events + excluded.events;
  delete from raw_events.removed_realtime_counts k
  where case when k.kind = 'creator'
             then not exists (select 1 from auth.users u where u.id = k.subject_id)
             else not exists (select 1 from public.mashups m where m.id = k.subject_id) end;
  return v_dropped;
end;
$$;
