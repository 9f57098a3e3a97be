-- Every DELETE and UPDATE says which rows: hosted Supabase's Data API refuses one without WHERE.
--
-- Hosted Supabase loads pg-safeupdate into PostgREST's sessions (supabase/postgres:
-- `ALTER ROLE authenticator SET session_preload_libraries = ... safeupdate`), and it checks every
-- statement parsed in the session, those inside functions and triggers included. The follows
-- triggers call aggregation.recompute_pending_user_days(), which emptied its queue with a bare
-- `delete from aggregation.pending_user_days`: a signed-in user's follow or unfollow through the
-- Data API failed there with "DELETE requires a WHERE clause" (outside audit, on an emulation of a
-- hosted database). The local stack does not load safeupdate (Debian does not package it), so
-- tests/sql/69_statements_name_their_rows checks every function body for such a statement.

create or replace function aggregation.recompute_pending_user_days()
returns bigint
language plpgsql
set search_path = ''
as $$
declare
  v_u uuid[];
  v_d date[];
begin
  -- `where true`: the whole queue, said so (pg-safeupdate refuses a DELETE without WHERE).
  with taken as (delete from aggregation.pending_user_days where true returning user_id, day)
  select coalesce(array_agg(user_id), '{}'), coalesce(array_agg(day), '{}') into v_u, v_d from taken;
  if cardinality(v_u) = 0 then
    return 0;
  end if;
  return aggregation.recompute_user_days(v_u, v_d);
end;
$$;

-- Two UPDATEs of one-row tables, said the same way (reachable from the service role's RPCs:
-- backfill and run_incremental open creator days; drop_expired is the daily job's).
CREATE OR REPLACE FUNCTION aggregation.open_creator_days_from(p_day date)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO ''
 SET plan_cache_mode TO 'force_custom_plan'
AS $function$
declare
  v_from date;
  v_lo timestamptz;
  v_hi timestamptz;
begin
  if p_day is null then
    raise exception 'p_day must not be null' using errcode = '22004';
  end if;
  perform aggregation.lock(true);
  select s.open_from into v_from from dashboard.creator_rollup_days s for update;
  if p_day > v_from then
    v_lo := v_from::timestamp at time zone 'UTC';
    v_hi := p_day::timestamp at time zone 'UTC';
    -- The days' mashups, locked as a run locks its batch's (FOR KEY SHARE): a delete of one of them
    -- waits for this commit, then takes its counts out of the rows written here
    -- (aggregation.delete_mashup_rollups). The bucket bound is stated for the partial bucket indexes.
    perform 1 from public.mashups m
    where m.id in (select q.mashup_id from public.mashup_quarter_hour_stats q
                   where q.bucket_start >= v_lo and q.bucket_start < v_hi and q.bucket_start > '-infinity')
    for key share of m;
    insert into public.creator_quarter_hour_stats (creator_id, bucket_start, plays, likes, shares)
    select m.creator_id, q.bucket_start, sum(q.plays)::integer, sum(q.likes)::integer, sum(q.shares)::integer
    from public.mashup_quarter_hour_stats q join public.mashups m on m.id = q.mashup_id
    where q.bucket_start >= v_lo and q.bucket_start < v_hi and q.bucket_start > '-infinity'
    group by 1, 2
    having sum(q.plays) <> 0 or sum(q.likes) <> 0 or sum(q.shares) <> 0
    order by 1, 2;
    insert into public.creator_daily_breakdowns (creator_id, date, source, country, device, plays)
    select m.creator_id, (b.bucket_start at time zone 'UTC')::date, b.source, b.country, b.device,
           sum(b.plays)::integer
    from public.mashup_quarter_hour_breakdowns b join public.mashups m on m.id = b.mashup_id
    where b.bucket_start >= v_lo and b.bucket_start < v_hi and b.bucket_start > '-infinity'
    group by 1, 2, 3, 4, 5
    having sum(b.plays) <> 0
    order by 1, 2, 3, 4, 5;
  elsif p_day < v_from then
    delete from public.creator_quarter_hour_stats t where t.bucket_start >= (p_day::timestamp at time zone 'UTC');
    delete from public.creator_daily_breakdowns t where t.date >= p_day;
  end if;
  update dashboard.creator_rollup_days s set open_from = p_day, updated_at = now() where true; -- one row
end;
$function$;

CREATE OR REPLACE FUNCTION raw_events.drop_expired(p_now timestamp with time zone DEFAULT now())
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
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
    set dropped_through = greatest(s.dropped_through, (v_month + interval '1 month')::timestamp at time zone 'UTC')
    where true; -- one row
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
$function$;
