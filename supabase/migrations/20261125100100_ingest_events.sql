-- ingest_events(events): stores a whole validated batch from the track function in one round trip
-- and deduplicates on the client event id (analytics_events.id, the idempotency key).
--
-- Input: a JSON array of events, as the track function builds them after validation/enrichment:
--   {"id": uuid, "type": text, "properties": {...}, "timestamp": iso8601 | null,
--    "user_id": uuid | null, "session_id": text | null, "anonymous_id": text | null,
--    "country": "US" | null, "device": "mobile" | ... | null,
--    "bot": boolean, "user_agent": text | null}
-- A null timestamp means "use the receive time" (the database's now(), as received_at).
-- Output: one row per input element, in input order:
--   ordinality  1-based position in the input array
--   id          the event id
--   is_new      true when this element was stored now; false when the id was already stored
--               (by an earlier call, or earlier in this same array: the first occurrence wins)
--   "timestamp", listener_key   as stored, for new events only (the realtime counters need them)
-- Bot events (bot = true) go to analytics_bot_events instead, deduplicated the same way.
--
-- A verified token may name a user who has been deleted since it was issued; the foreign key
-- would then refuse the batch. The events are kept without the user instead (the batch comes from
-- one request, so from one caller): losing a listener's identity beats losing the events.

create function public.ingest_events(events jsonb)
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
          anonymous_id text, country text, device text, bot boolean, user_agent text
        )) with ordinality as e (id, type, properties, "timestamp", user_id, session_id, anonymous_id,
                                 country, device, bot, user_agent, ordinality)
      ),
      first_of_each_id as (
        select distinct on (i.id) i.* from input i order by i.id, i.ordinality
      ),
      stored as (
        insert into public.analytics_events as a
          (id, user_id, event_type, properties, "timestamp", session_id, anonymous_id, country, device)
        select f.id, case when without_users then null else f.user_id end, f.type,
               coalesce(f.properties, '{}'::jsonb), coalesce(f."timestamp", now()), f.session_id,
               f.anonymous_id, f.country, f.device
        from first_of_each_id f
        where not coalesce(f.bot, false)
        order by f.ordinality
        on conflict on constraint analytics_events_pkey do nothing
        returning a.id, a."timestamp", a.listener_key
      ),
      stored_bots as (
        insert into public.analytics_bot_events as b (id, event_type, properties, "timestamp", user_agent)
        select f.id, f.type, coalesce(f.properties, '{}'::jsonb), coalesce(f."timestamp", now()),
               left(f.user_agent, 512)
        from first_of_each_id f
        where coalesce(f.bot, false)
        order by f.ordinality
        on conflict on constraint analytics_bot_events_pkey do nothing
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
    select e.id, e.ordinality
    from rows from (jsonb_to_recordset(events) as (id uuid)) with ordinality as e (id, ordinality)
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
         case when i.ordinality = f.ordinality then n."timestamp" end,
         case when i.ordinality = f.ordinality then n.listener_key end
  from input i
  join first_ordinality f on f.id = i.id
  left join new_events n on n.id = i.id
  order by i.ordinality;
end;
$$;

comment on function public.ingest_events(jsonb) is
  'Stores a validated batch of events in one call; one row per input element says whether it was new.';

-- Only the track function (service role) ingests: a client holding the anon key must not be able
-- to bypass validation, identity and enrichment by calling this RPC directly.
revoke execute on function public.ingest_events(jsonb) from public, anon, authenticated;
grant execute on function public.ingest_events(jsonb) to service_role;
