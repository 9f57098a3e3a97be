-- A dropped month's live counts are kept only for events received after the live-count cutoff
-- (outside audit, 2026-11-27, finding F1 of the round that added the cutoff).
--
-- raw_events.drop_expired keeps a month's counted events in removed_realtime_counts, one row per
-- counter at the month's latest received_at. Since 20261127002500 the reconciliation expects
-- realtime_counted_before (everything received before the cutoff) + what was received in
-- [cutoff, fence), removed counts included, so a month whose events were received on both sides of
-- the cutoff was counted twice: the audit's 3 likes of October 2025 received three days ago and 1
-- received now, dropped, reconciled to 7 instead of 4. Now the drop keeps only the events received
-- at or after the cutoff (those before are already counted there), under the cutoff row's lock,
-- and the daily merge of old removed counts only merges counts from before the cutoff (a cutoff
-- that had not moved for a day could otherwise have had counts after it merged below it).
-- Body as in 20261127001700 but for the cutoff.

create or replace function raw_events.drop_expired(p_now timestamp with time zone DEFAULT now())
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO ''
AS $$
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
  v_cutoff timestamptz;
begin
  -- The live-count cutoff, locked as its move locks it: counts kept below are never read again.
  select c.received_before into v_cutoff from raw_events.realtime_count_cutoff c for update;
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
                  from raw_events.%I e
                  -- Received before the cutoff: already in realtime_counted_before.
                  where e.received_at >= %L) x
            cross join lateral (select x.counter, raw_events.realtime_subject(x.counter, x.mashup_id, x.properties) as subject_id,
                                       x.received_at) c
            where c.subject_id is not null
              and (case when c.counter = 'followers'
                        then aggregation.user_exists(c.subject_id)
                        else exists (select 1 from public.mashups m where m.id = c.subject_id) end)
            group by 1, 2, 3
            on conflict (kind, subject_id, counter, received_at) do update set events = k.events + excluded.events
          $sql$, v_part, v_cutoff);
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
    set dropped_through = greatest(s.dropped_through, (v_month + interval '1 month')::timestamp at time zone 'UTC')
    where true; -- one row
    v_dropped := v_dropped + v_parts;
  end loop;

  -- Kept counts older than a day are before any fence (a fence is at least the reconciling
  -- caller's clock): merged into one row per counter; those of deleted mashups and users go.
  with merged as (
    delete from raw_events.removed_realtime_counts k
    where k.received_at > '-infinity' and k.received_at < least(now() - interval '1 day', v_cutoff)
    returning k.kind, k.subject_id, k.counter, k.events
  )
  insert into raw_events.removed_realtime_counts as k (kind, subject_id, counter, received_at, events)
  select m.kind, m.subject_id, m.counter, '-infinity', sum(m.events)
  from merged m
  group by 1, 2, 3
  on conflict (kind, subject_id, counter, received_at) do update set events = k.events + excluded.events;
  delete from raw_events.removed_realtime_counts k
  where case when k.kind = 'creator'
             then not aggregation.user_exists(k.subject_id)
             else not exists (select 1 from public.mashups m where m.id = k.subject_id) end;
  return v_dropped;
end;
$$;
