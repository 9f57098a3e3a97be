-- An event in a kept month that has no partition yet is stored: ingest_events creates the month
-- (outside audit, 2026-11-27, finding 4a).
--
-- Raw events are kept from raw_events.horizon() to raw_events.ceiling(); their monthly partitions
-- were created only by the daily maintenance (raw_events.ensure_partitions). After an operator
-- raised retention_months, or when the maintenance had not run, a batch with an event in a kept
-- month without a partition failed whole ("no partition of relation found for row", a 500 for
-- every event in it, the valid ones too) until the next maintenance. Creating every kept month
-- when the setting changes was tried and removed (20261127002000: retention 1200 made 2,400
-- partitions at once); now a month is created when its first event arrives, and only then.
--
-- raw_events.create_kept_months(date[]) is SECURITY DEFINER, written reason: a partition is
-- created by the owner of the partitioned tables, and the role that ingests (service_role) owns
-- nothing and must not. It creates only months inside horizon()..ceiling() (never a dropped one:
-- horizon() is never before dropped_through), waits at most 5 s for the parent's lock (a failed
-- wait fails the batch as before, and the client retries), and a month another batch created at
-- the same moment is not an error. ingest_events calls it only when a month is missing: an
-- ordinary batch costs two catalog lookups per month it names. Body of ingest_events as in
-- 20261127001200 but for the marked block and its variable.

create function raw_events.create_kept_months(p_months date[])
returns integer
language plpgsql
volatile
security definer
set search_path = ''
set lock_timeout = '5s'
as $$
declare
  v_month date;
  v_from date := (raw_events.horizon() at time zone 'UTC')::date;
  v_to date := (raw_events.ceiling() at time zone 'UTC')::date;
  v_created integer := 0;
begin
  foreach v_month in array coalesce(p_months, '{}') loop
    v_month := date_trunc('month', v_month)::date;
    continue when v_month < v_from or v_month >= v_to;
    begin
      v_created := v_created + raw_events.create_month(v_month);
    exception when duplicate_table or unique_violation then
      -- Another batch created it between our look and our create: it exists, which is all we need.
      null;
    end;
  end loop;
  return v_created;
end;
$$;
comment on function raw_events.create_kept_months(date[]) is
  'Creates the monthly partitions of these months that raw storage keeps (horizon()..ceiling()) and that do '
  'not exist yet; called by ingest_events. SECURITY DEFINER: partitions are created by the tables'' owner.';
revoke all on function raw_events.create_kept_months(date[]) from public, anon, authenticated;
grant execute on function raw_events.create_kept_months(date[]) to service_role;

create or replace function public.ingest_events(events jsonb)
returns table (ordinality bigint, id uuid, is_new boolean, "timestamp" timestamptz, listener_key text)
language plpgsql
volatile
security invoker
set search_path = ''
as $$
#variable_conflict use_column
declare
  without_users boolean := false;
  new_ids uuid[];
  new_timestamps timestamptz[];
  new_listener_keys text[];
  kept_from timestamptz := raw_events.horizon();
  kept_until timestamptz := raw_events.ceiling();
  missing_months date[];
begin
  if jsonb_typeof(events) is distinct from 'array' then
    raise exception 'ingest_events: events must be a JSON array, got %', coalesce(jsonb_typeof(events), 'null')
      using errcode = '22023';
  end if;

  -- The months this batch stores into that have no partition yet (retention_months raised, or the
  -- daily maintenance missed its run): created now, with the owner's rights, before the insert
  -- (raw_events.create_kept_months). Otherwise the whole batch failed until the maintenance ran.
  missing_months := array(
    select m.month
    from (select distinct date_trunc('month', coalesce(e."timestamp", now()) at time zone 'UTC')::date as month
          from jsonb_to_recordset(events) as e ("timestamp" timestamptz, client_timestamp timestamptz)
          where coalesce(e."timestamp", now()) >= kept_from and coalesce(e."timestamp", now()) < kept_until
            and (e.client_timestamp is null or e.client_timestamp >= kept_from)) m
    where to_regclass('raw_events.analytics_events_p' || to_char(m.month, 'YYYYMM')) is null
       or to_regclass('raw_events.analytics_bot_events_p' || to_char(m.month, 'YYYYMM')) is null);
  if cardinality(missing_months) > 0 then
    perform raw_events.create_kept_months(missing_months);
  end if;

  loop
    begin
      -- This statement claims its ids itself: the raw tables' row trigger skips the claim while
      -- raw_events.ids_claimed is on (set for this statement only; an error rolls it back with the
      -- subtransaction).
      perform set_config('raw_events.ids_claimed', 'on', true);
      -- The inserts run to completion (foreign keys checked) before anything is returned, so
      -- the retry below never returns a row twice.
      with input as (
        select e.*
        from rows from (jsonb_to_recordset(events) as (
          id uuid, type text, properties jsonb, "timestamp" timestamptz, user_id uuid, session_id text,
          anonymous_id text, country text, device text, bot boolean, user_agent text,
          client_timestamp timestamptz
        )) with ordinality as e (id, type, properties, "timestamp", user_id, session_id, anonymous_id,
                                 country, device, bot, user_agent, client_timestamp, ordinality)
      ),
      -- Each id's first copy that raw storage keeps (its time inside horizon()..ceiling()): a copy
      -- refused for its time does not take its id from a later copy that is kept.
      storable as (
        select distinct on (i.id) i.* from input i
        where coalesce(i."timestamp", now()) >= kept_from and coalesce(i."timestamp", now()) < kept_until
          and (i.client_timestamp is null or i.client_timestamp >= kept_from)
        order by i.id, i.ordinality
      ),
      -- The batch's ids claimed in one statement (sorted, so two batches claim in the same order);
      -- an id already stored, or claimed by a transaction still running (this waits for it), is
      -- not returned and its event is skipped, as the row trigger would.
      claimed as (
        insert into public.analytics_event_ids (id)
        select s.id from storable s order by s.id
        on conflict (id) do nothing
        returning analytics_event_ids.id
      ),
      stored as (
        insert into raw_events.analytics_events as a
        select c.*
        from storable f
        cross join lateral raw_events.compact(
          f.id, case when without_users then null else f.user_id end, f.type, coalesce(f.properties, '{}'::jsonb),
          coalesce(f."timestamp", now()), f.session_id, f.anonymous_id, now(), f.country, f.device) c
        -- Not a join with claimed: its row estimate (1) would make it a nested loop over the batch.
        where not coalesce(f.bot, false) and f.id = any ((select array_agg(k.id) from claimed k)::uuid[])
        order by f.ordinality
        returning a.id, a."timestamp",
                  coalesce('u:' || a.user_id::text, 'a:' || a.anonymous_id, 's:' || a.session_id, 'e:' || a.id::text) as listener_key
      ),
      stored_bots as (
        insert into public.analytics_bot_events as b (id, event_type, properties, "timestamp", user_agent)
        select f.id, f.type, coalesce(f.properties, '{}'::jsonb), coalesce(f."timestamp", now()),
               left(f.user_agent, 512)
        from storable f
        where coalesce(f.bot, false) and f.id = any ((select array_agg(k.id) from claimed k)::uuid[])
        order by f.ordinality
        returning b.id, b."timestamp", null::text as listener_key
      ),
      all_stored as (select * from stored union all select * from stored_bots)
      select coalesce(array_agg(s.id), '{}'), coalesce(array_agg(s."timestamp"), '{}'),
             coalesce(array_agg(s.listener_key), '{}')
      into new_ids, new_timestamps, new_listener_keys
      from all_stored s;
      perform set_config('raw_events.ids_claimed', '', true);
      exit;
    exception when foreign_key_violation then
      if without_users then
        raise;
      end if;
      without_users := true;
    end;
  end loop;

  -- One row per input element: the id's chosen copy (its first kept one) is new when it was stored
  -- (else a duplicate of a stored event); a copy refused for its time carries that time; every other
  -- copy is a duplicate.
  return query
  with input as (
    select e.id, e.ordinality, coalesce(e."timestamp", now()) as event_time, e.client_timestamp
    from rows from (jsonb_to_recordset(events) as (id uuid, "timestamp" timestamptz, client_timestamp timestamptz))
         with ordinality as e (id, "timestamp", client_timestamp, ordinality)
  ),
  judged as (
    select i.*, (i.event_time >= kept_from and i.event_time < kept_until
                 and (i.client_timestamp is null or i.client_timestamp >= kept_from)) as kept
    from input i
  ),
  new_events as (
    select n.id, n."timestamp", n.listener_key
    from unnest(new_ids, new_timestamps, new_listener_keys) as n (id, "timestamp", listener_key)
  ),
  chosen as (
    select j.id, min(j.ordinality) as ordinality from judged j where j.kept group by j.id
  )
  select j.ordinality, j.id,
         (n.id is not null and j.ordinality is not distinct from c.ordinality) as is_new,
         case when j.ordinality = c.ordinality then n."timestamp"
              when not j.kept then case when j.event_time < kept_from or j.event_time >= kept_until then j.event_time
                                        else j.client_timestamp end end,
         case when j.ordinality = c.ordinality then n.listener_key end
  from judged j
  left join chosen c on c.id = j.id
  left join new_events n on n.id = j.id
  order by j.ordinality;
end;
$$;

comment on function public.ingest_events(jsonb) is
  'Stores a validated batch of events in one call; one row per input element says whether it was new '
  '(is_new false with a "timestamp": refused, outside the kept range raw_events.horizon()..ceiling()).';
