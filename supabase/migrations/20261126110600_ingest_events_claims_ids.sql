-- ingest_events claims its batch's ids in one statement (issue 11: the write path must not get
-- slower with the compact row). Before, every stored row paid the raw tables' BEFORE INSERT row
-- trigger (a PL/pgSQL call and a one-row INSERT into analytics_event_ids); now ingest_events
-- inserts the batch's ids into analytics_event_ids in one INSERT ... ON CONFLICT DO NOTHING and stores
-- the events whose id it claimed, and the row trigger is skipped (WHEN) while the setting
-- raw_events.ids_claimed is on, which ingest_events sets for that statement only. Every other
-- writer (the view's rules, COPY, bench/generate, seeds) still claims through the trigger.
-- Same semantics: an id stored in any month, in either raw table, or claimed by a transaction
-- still running (the claim waits for it, then skips) is not stored again.

drop trigger analytics_events_claim_id on raw_events.analytics_events;
create trigger analytics_events_claim_id before insert on raw_events.analytics_events
  for each row when (current_setting('raw_events.ids_claimed', true) is distinct from 'on')
  execute function raw_events.claim_event_id();
drop trigger analytics_bot_events_claim_id on public.analytics_bot_events;
create trigger analytics_bot_events_claim_id before insert on public.analytics_bot_events
  for each row when (current_setting('raw_events.ids_claimed', true) is distinct from 'on')
  execute function raw_events.claim_event_id();

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
      first_of_each_id as (
        select distinct on (i.id) i.* from input i order by i.id, i.ordinality
      ),
      storable as (
        select f.* from first_of_each_id f
        where coalesce(f."timestamp", now()) >= kept_from and coalesce(f."timestamp", now()) < kept_until
          and (f.client_timestamp is null or f.client_timestamp >= kept_from)
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
