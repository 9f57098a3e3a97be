-- ingest_events on the compact raw row (issue 11): same signature, same output rows, same rules.
-- The only change from 20261126010100_ingest_events_partitioned.sql: the events are inserted into
-- the physical table raw_events.analytics_events through raw_events.compact (the view's INSERT rule
-- cannot rewrite an INSERT inside a WITH that reads other WITH queries). listener_key is computed
-- as the view computes it.

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
begin
  if jsonb_typeof(events) is distinct from 'array' then
    raise exception 'ingest_events: events must be a JSON array, got %', coalesce(jsonb_typeof(events), 'null')
      using errcode = '22023';
  end if;

  loop
    begin
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
      first_of_each_id as (
        select distinct on (i.id) i.* from input i order by i.id, i.ordinality
      ),
      storable as (
        select f.* from first_of_each_id f
        where coalesce(f."timestamp", now()) >= kept_from and coalesce(f."timestamp", now()) < kept_until
          and (f.client_timestamp is null or f.client_timestamp >= kept_from)
      ),
      stored as (
        insert into raw_events.analytics_events as a
        select c.*
        from storable f
        cross join lateral raw_events.compact(
          f.id, case when without_users then null else f.user_id end, f.type, coalesce(f.properties, '{}'::jsonb),
          coalesce(f."timestamp", now()), f.session_id, f.anonymous_id, now(), f.country, f.device) c
        where not coalesce(f.bot, false)
        order by f.ordinality
        returning a.id, a."timestamp",
                  coalesce('u:' || a.user_id::text, 'a:' || a.anonymous_id, 's:' || a.session_id, 'e:' || a.id::text) as listener_key
      ),
      stored_bots as (
        insert into public.analytics_bot_events as b (id, event_type, properties, "timestamp", user_agent)
        select f.id, f.type, coalesce(f.properties, '{}'::jsonb), coalesce(f."timestamp", now()),
               left(f.user_agent, 512)
        from storable f
        where coalesce(f.bot, false)
        order by f.ordinality
        returning b.id, b."timestamp", null::text as listener_key
      ),
      all_stored as (select * from stored union all select * from stored_bots)
      select coalesce(array_agg(s.id), '{}'), coalesce(array_agg(s."timestamp"), '{}'),
             coalesce(array_agg(s.listener_key), '{}')
      into new_ids, new_timestamps, new_listener_keys
      from all_stored s;
      exit;
    exception when foreign_key_violation then
      if without_users then
        raise;
      end if;
      without_users := true;
    end;
  end loop;

  return query
  with input as (
    select e.id, e.ordinality, coalesce(e."timestamp", now()) as event_time, e.client_timestamp
    from rows from (jsonb_to_recordset(events) as (id uuid, "timestamp" timestamptz, client_timestamp timestamptz))
         with ordinality as e (id, "timestamp", client_timestamp, ordinality)
  ),
  new_events as (
    select n.id, n."timestamp", n.listener_key
    from unnest(new_ids, new_timestamps, new_listener_keys) as n (id, "timestamp", listener_key)
  ),
  first_ordinality as (
    select i.id, min(i.ordinality) as ordinality from input i group by i.id
  )
  select i.ordinality, i.id,
         (n.id is not null and i.ordinality = f.ordinality) as is_new,
         case when i.ordinality = f.ordinality then coalesce(n."timestamp", case
           when i.event_time < kept_from or i.event_time >= kept_until then i.event_time
           when i.client_timestamp < kept_from then i.client_timestamp end) end,
         case when i.ordinality = f.ordinality then n.listener_key end
  from input i
  join first_ordinality f on f.id = i.id
  left join new_events n on n.id = i.id
  order by i.ordinality;
end;
$$;

comment on function public.ingest_events(jsonb) is
  'Stores a validated batch of events in one call; one row per input element says whether it was new '
  '(is_new false with a "timestamp": refused, outside the kept range raw_events.horizon()..ceiling()).';
