-- Retention of raw events (issue 11): a month's partitions are dropped once the whole month is
-- before raw_events.horizon() AND its rollups are final. Dashboards read rollups only, and
-- lifetime numbers (incl. unique listeners: public.mashup_listeners) never re-read raw rows, so a
-- drop changes no dashboard or mashup response (tests/sql/50_raw_retention.test.sql).
--
--   raw_events.rollups_final(p_before)   every raw event with "timestamp" < p_before is folded in
--   raw_events.drop_expired(p_now)       drops what is past the horizon and final; logs each month
--   raw_events.maintain(p_now)           ensure_partitions + drop_expired (pg_cron, daily)
--   raw_events.maintenance_log           what each run created, dropped or kept, and why

-- Final: the incremental job's watermark (by received_at) is past every event of those months.
-- One small function so the merge with issue 10 can swap its body for aggregation.is_final().
create function raw_events.rollups_final(p_before timestamptz)
returns boolean
language sql
stable
security invoker
set search_path = ''
as $$
  select w.received_through is not null
     and not exists (
       select 1 from public.analytics_events e
       where e."timestamp" < p_before and e.received_at >= w.received_through)
     -- The nightly run of the last day before p_before finished after that day ended.
     and (p_before <= (select min(e."timestamp") from public.analytics_events e)
          or exists (select 1 from aggregation.runs r
                     where r.job in ('nightly', 'backfill') and r.status = 'succeeded'
                       and r.window_end >= p_before))
  from (select max(received_through) as received_through
        from aggregation.watermarks where job = 'incremental') w
$$;
comment on function raw_events.rollups_final(timestamptz) is
  'True when every raw event with "timestamp" < p_before is in the rollups: the incremental watermark '
  'is past all of them and a nightly or backfill run covered the day before p_before.';

create table raw_events.maintenance_log (
  id bigint generated always as identity primary key,
  ran_at timestamptz not null default now(),
  action text not null check (action in ('created', 'dropped', 'kept')),
  month date,
  partitions integer not null default 0,
  event_ids_deleted bigint not null default 0,
  detail text
);
comment on table raw_events.maintenance_log is
  'Partition maintenance: months created ahead, months dropped after the horizon, months kept past it '
  'because their rollups were not final yet (detail says why).';
revoke all on raw_events.maintenance_log from public, anon, authenticated;
grant select, insert on raw_events.maintenance_log to service_role;

create function raw_events.drop_expired(p_now timestamptz default now())
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
  v_parts integer;
  v_dropped integer := 0;
begin
  -- Decide every month first, then drop: a check must not run on a plan that saw a dropped partition.
  for v_month in
    select distinct to_date(right(c.relname, 6), 'YYYYMM')
    from pg_catalog.pg_inherits i
    join pg_catalog.pg_class c on c.oid = i.inhrelid
    where i.inhparent in ('public.analytics_events'::regclass, 'public.analytics_bot_events'::regclass)
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
    foreach v_part in array array['analytics_events', 'analytics_bot_events'] loop
      v_part := v_part || '_p' || to_char(v_month, 'YYYYMM');
      if to_regclass('raw_events.' || v_part) is not null then
        execute format('drop table raw_events.%I', v_part);
        v_parts := v_parts + 1;
      end if;
    end loop;
    delete from public.analytics_event_ids
    where "timestamp" >= v_month::timestamp at time zone 'UTC'
      and "timestamp" < (v_month + interval '1 month')::timestamp at time zone 'UTC';
    get diagnostics v_ids = row_count;
    insert into raw_events.maintenance_log (action, month, partitions, event_ids_deleted, detail)
    values ('dropped', v_month, v_parts, v_ids, 'past the horizon ' || v_horizon || ' and final');
    v_dropped := v_dropped + v_parts;
  end loop;
  return v_dropped;
end;
$$;
comment on function raw_events.drop_expired(timestamptz) is
  'Drops the monthly raw partitions (both tables) that end on or before the horizon and whose rollups '
  'are final, with their event ids; logs every month dropped or kept. Returns partitions dropped.';

create function raw_events.maintain(p_now timestamptz default now())
returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_created integer := raw_events.ensure_partitions(p_now);
  v_dropped integer;
begin
  if v_created > 0 then
    insert into raw_events.maintenance_log (action, partitions) values ('created', v_created);
  end if;
  v_dropped := raw_events.drop_expired(p_now);
  return jsonb_build_object('created', v_created, 'dropped', v_dropped);
end;
$$;
comment on function raw_events.maintain(timestamptz) is
  'The daily partition job: creates the months ahead, drops the expired ones that are final.';

revoke all on function raw_events.rollups_final(timestamptz), raw_events.drop_expired(timestamptz),
  raw_events.maintain(timestamptz) from public, anon, authenticated;
grant execute on function raw_events.rollups_final(timestamptz), raw_events.drop_expired(timestamptz),
  raw_events.maintain(timestamptz) to service_role;
