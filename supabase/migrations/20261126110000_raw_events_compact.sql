-- Raw events in a compact physical row (issue 11: at most 300 bytes per raw event with every index
-- and the dedup key), migrated in place with every event kept.
--
--   raw_events.analytics_events          the physical table, partitioned by month as before
--                                        (partitions raw_events.analytics_events_pYYYYMM)
--   public.analytics_events              a security_invoker view over it with the plan's columns and
--                                        meaning, properties exactly as the client sent them
--   public.analytics_event_ids           the dedup key across months, now the id only
--
-- What the physical row saves (docs/raw-storage.md has the measured bytes):
--   * properties.mashup_id and properties.play_id, when they are canonical lower-case uuid strings,
--     are uuid columns (16 bytes instead of 36 characters of JSON text and a key) and are left out
--     of the stored properties; the view puts them back with ||, so properties reads back equal
--     (jsonb equality) to what was stored. Any other spelling stays in the jsonb untouched;
--   * event_type is a one-byte code for the catalog's types (event_name holds any other type);
--   * device a one-byte code; listener_key is computed by the view instead of stored;
--   * no per-mashup, per-play or followed-creator b-trees: the fold (issue 10) reads the queue and
--     time ranges (BRIN), nothing looks raw events up by mashup or play any more.
--
-- Writers keep writing public.analytics_events (seeds, tests, imports): INSERT, UPDATE and DELETE on
-- the view are rewritten into statements on the physical table (rules, so a many-row INSERT stays
-- one statement and the fold queue's statement trigger sees all of it), and COPY into the view goes
-- through an INSTEAD OF trigger. ingest_events and bench/generate write the physical table directly.

-- The codes -----------------------------------------------------------------------------------------
-- These small immutable SQL functions have no SET search_path on purpose: PostgreSQL inlines a SQL
-- function only without one, and they run for every stored and every read row (the write path and
-- the view). They name nothing unqualified but built-in operators.
create function raw_events.event_code(p_event_type text)
returns "char"
language sql
immutable
parallel safe
as $$
  select case p_event_type
    when 'mashup_played' then 'a' when 'mashup_play_progress' then 'b' when 'mashup_play_ended' then 'c'
    when 'mashup_liked' then 'd' when 'mashup_shared' then 'e' when 'mashup_exported' then 'f'
    when 'mashup_created' then 'g' when 'ai_reaction' then 'h' when 'comment_posted' then 'i'
    when 'user_followed' then 'j' when 'subscription_upgraded' then 'k' end::"char"
$$;
comment on function raw_events.event_code(text) is
  'One-byte code of a catalog event type (types/events.ts); null for any other type.';

-- Not SET search_path: a SQL function with SET is never inlined, and the view and the partial
-- index predicate below must inline to the same expression. It names nothing outside itself.
create function raw_events.event_type(p_code "char", p_name text)
returns text
language sql
immutable
parallel safe
as $$
  select coalesce(p_name, case p_code
    when 'a' then 'mashup_played' when 'b' then 'mashup_play_progress' when 'c' then 'mashup_play_ended'
    when 'd' then 'mashup_liked' when 'e' then 'mashup_shared' when 'f' then 'mashup_exported'
    when 'g' then 'mashup_created' when 'h' then 'ai_reaction' when 'i' then 'comment_posted'
    when 'j' then 'user_followed' when 'k' then 'subscription_upgraded' end)
$$;
comment on function raw_events.event_type("char", text) is
  'The event type of a stored row: its name when stored as text, else the name of its code.';

create function raw_events.device_code(p_device text)
returns "char"
language sql
immutable
parallel safe
as $$
  -- 'x' for anything else: the physical check constraint refuses it, as the old column's check did.
  select case p_device
    when 'mobile' then 'm' when 'tablet' then 't' when 'desktop' then 'd' when 'tv' then 'v'
    when 'console' then 'c' when 'other' then 'o' else case when p_device is not null then 'x' end end::"char"
$$;

create function raw_events.device(p_code "char")
returns text
language sql
immutable
parallel safe
as $$
  select case p_code
    when 'm' then 'mobile' when 't' then 'tablet' when 'd' then 'desktop' when 'v' then 'tv'
    when 'c' then 'console' when 'o' then 'other' end
$$;

-- The properties split --------------------------------------------------------------------------------
-- A uuid is lifted out of properties only when its JSON string is exactly the uuid's canonical text
-- (lower case, hyphenated), so rebuilding it from the uuid column gives back the same string.
create function raw_events.split_uuid(p_properties jsonb, p_key text)
returns uuid
language sql
immutable
parallel safe
as $$
  select case when jsonb_typeof(p_properties) = 'object' and jsonb_typeof(p_properties -> p_key) = 'string'
                and (p_properties ->> p_key) ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
              then (p_properties ->> p_key)::uuid end
$$;
comment on function raw_events.split_uuid(jsonb, text) is
  'properties ->> key as a uuid when it is a canonical lower-case uuid string (then stored in a uuid '
  'column and left out of the stored properties); else null (the value stays in the jsonb).';

create function raw_events.stored_properties(p_properties jsonb)
returns jsonb
language sql
immutable
parallel safe
as $$
  select case when raw_events.split_uuid(p_properties, 'play_id') is null
              then case when raw_events.split_uuid(p_properties, 'mashup_id') is null then p_properties
                        else p_properties - 'mashup_id' end
              when raw_events.split_uuid(p_properties, 'mashup_id') is null then p_properties - 'play_id'
              else p_properties - array['mashup_id', 'play_id'] end
$$;
comment on function raw_events.stored_properties(jsonb) is
  'The properties as stored: the client''s, without mashup_id/play_id when they went to uuid columns.';

-- The inverse. Inlined into the view (no SET), so it only runs for queries that read properties.
-- mashup_id was lifted out exactly when the row has one and the stored jsonb has no such key
-- (mashup_id is (properties ->> 'mashup_id')::uuid: it exists only when the client sent the key).
create function raw_events.client_properties(p_stored jsonb, p_mashup_id uuid, p_play_id uuid)
returns jsonb
language sql
immutable
parallel safe
as $$
  select case when p_mashup_id is null and p_play_id is null then p_stored
              else p_stored
                   || case when p_mashup_id is not null and not (p_stored ? 'mashup_id')
                           then jsonb_build_object('mashup_id', p_mashup_id::text) else '{}'::jsonb end
                   || case when p_play_id is not null
                           then jsonb_build_object('play_id', p_play_id::text) else '{}'::jsonb end
         end
$$;
comment on function raw_events.client_properties(jsonb, uuid, uuid) is
  'The client''s properties of a stored row: the stored jsonb plus the uuids lifted out of it.';

-- The physical table --------------------------------------------------------------------------------
-- Columns ordered for alignment: 8-byte times first, then the uuids, then the one-byte codes and
-- the variable-length ones.
create table raw_events.analytics_events (
  "timestamp" timestamptz not null,
  received_at timestamptz not null,
  id uuid not null,
  user_id uuid references auth.users (id) on delete set null,
  -- (properties ->> 'mashup_id')::uuid, whatever its spelling (as the old generated column).
  mashup_id uuid,
  -- properties.play_id when a canonical uuid string (then not in properties).
  play_id uuid,
  event_code "char",
  device_code "char",
  event_name text,
  session_id text,
  anonymous_id text,
  country text,
  properties jsonb not null,
  constraint analytics_events_event_type check ((event_code is null) <> (event_name is null)),
  constraint analytics_events_country_check check (country ~ '^[A-Z]{2}$'),
  constraint analytics_events_device_check check (device_code in ('m', 't', 'd', 'v', 'c', 'o')),
  constraint analytics_events_properties_object check (jsonb_typeof(properties) = 'object')
) partition by range ("timestamp");
comment on table raw_events.analytics_events is
  'Raw events as stored (compact row), in monthly partitions raw_events.analytics_events_pYYYYMM. '
  'Read and written through the view public.analytics_events (the plan''s columns); ingest_events '
  'writes here directly. Service role only.';

alter table raw_events.analytics_events enable row level security;
revoke all on raw_events.analytics_events from public, anon, authenticated;
grant select, insert, update, delete on raw_events.analytics_events to service_role;

-- The whole row, compact, from the plan's columns: the one place that splits. A set-returning SQL
-- function without SET, so `from ..., lateral raw_events.compact(...)` is inlined into the writer.
create function raw_events.compact(
  p_id uuid, p_user_id uuid, p_event_type text, p_properties jsonb, p_timestamp timestamptz,
  p_session_id text, p_anonymous_id text, p_received_at timestamptz, p_country text, p_device text)
returns setof raw_events.analytics_events
language sql
immutable
parallel safe
as $$
  select p_timestamp, p_received_at, p_id, p_user_id,
         (p_properties ->> 'mashup_id')::uuid, raw_events.split_uuid(p_properties, 'play_id'),
         raw_events.event_code(p_event_type), raw_events.device_code(p_device),
         case when raw_events.event_code(p_event_type) is null then p_event_type end,
         p_session_id, p_anonymous_id, p_country, raw_events.stored_properties(p_properties)
$$;
comment on function raw_events.compact(uuid, uuid, text, jsonb, timestamptz, text, text, timestamptz, text, text) is
  'The stored row of an event given in the plan''s columns (the inverse of the view public.analytics_events).';

-- The dedup key: the id alone ----------------------------------------------------------------------
-- Retention deletes a month's ids by joining the month's partition just before dropping it
-- (raw_events.drop_expired), so the id's time is not needed: 8 bytes less per event.
create table public.analytics_event_ids_compact (id uuid primary key);
insert into public.analytics_event_ids_compact (id) select i.id from public.analytics_event_ids i;
drop table public.analytics_event_ids;
alter table public.analytics_event_ids_compact rename to analytics_event_ids;
alter index public.analytics_event_ids_compact_pkey rename to analytics_event_ids_pkey;
comment on table public.analytics_event_ids is
  'Every stored raw event id (analytics_events and analytics_bot_events): the idempotency key across '
  'monthly partitions. Holds no identity. Service role only.';
alter table public.analytics_event_ids enable row level security;
revoke all on public.analytics_event_ids from anon, authenticated;
grant select, insert, delete on public.analytics_event_ids to service_role;

create or replace function raw_events.claim_event_id()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  if tg_op = 'UPDATE' then
    -- An update of "timestamp" into another month moves the row: PostgreSQL deletes it from this
    -- partition, then inserts it into the other one, firing BEFORE INSERT there. That insert is the
    -- same event, not a resend: let it through.
    if new."timestamp" is distinct from old."timestamp"
       and to_char(new."timestamp" at time zone 'UTC', 'YYYYMM') <> right(tg_table_name, 6) then
      perform set_config('raw_events.moving_id', old.id::text, true);
    end if;
    return new;
  end if;
  if current_setting('raw_events.moving_id', true) = new.id::text then
    perform set_config('raw_events.moving_id', '', true);
    return new;
  end if;
  insert into public.analytics_event_ids (id) values (new.id) on conflict (id) do nothing;
  if not found then
    return null; -- already stored: skip this row, like `on conflict (id) do nothing`
  end if;
  return new;
end;
$$;

-- Months: the physical events table and the bot table ---------------------------------------------
create or replace function raw_events.create_month(p_month date)
returns integer
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_from timestamptz := date_trunc('month', p_month)::timestamp at time zone 'UTC';
  v_to timestamptz := (date_trunc('month', p_month) + interval '1 month')::timestamp at time zone 'UTC';
  v_parent text;
  v_name text;
  v_created integer := 0;
begin
  foreach v_parent in array array['raw_events.analytics_events', 'public.analytics_bot_events'] loop
    v_name := split_part(v_parent, '.', 2) || '_p' || to_char(p_month, 'YYYYMM');
    if to_regclass('raw_events.' || v_name) is null then
      execute format('create table raw_events.%I partition of %s for values from (%L) to (%L)',
                     v_name, v_parent, v_from, v_to);
      execute format('alter table raw_events.%I enable row level security', v_name);
      execute format('revoke all on raw_events.%I from public, anon, authenticated', v_name);
      -- No primary key to identify a deleted row by (erasure): a publication of deletes sends the
      -- whole old row (20261126010400_raw_events_publication.sql). Costs WAL on delete only.
      execute format('alter table raw_events.%I replica identity full', v_name);
      v_created := v_created + 1;
    end if;
  end loop;
  return v_created;
end;
$$;

-- Move the events in ----------------------------------------------------------------------------------
drop view aggregation.raw_events_for_fold;
alter table public.analytics_events rename to analytics_events_before_compact;
do $$
declare
  r record;
begin
  for r in
    select c.relname from pg_catalog.pg_inherits i join pg_catalog.pg_class c on c.oid = i.inhrelid
    where i.inhparent = 'public.analytics_events_before_compact'::regclass
  loop
    execute format('alter table raw_events.%I rename to %I', r.relname, r.relname || '_before_compact');
  end loop;
end;
$$;

select raw_events.create_month(m::date)
from generate_series(
  least(raw_events.horizon(), (select min(e."timestamp") from public.analytics_events_before_compact e))
    at time zone 'UTC',
  greatest((raw_events.ceiling() at time zone 'UTC') - interval '1 month',
           (select max(e."timestamp") from public.analytics_events_before_compact e) at time zone 'UTC'),
  interval '1 month') as m;

-- The triggers come after the copy: the ids are claimed already, the fold queue and follows hold
-- what they held.
insert into raw_events.analytics_events
select c.*
from public.analytics_events_before_compact e
cross join lateral raw_events.compact(e.id, e.user_id, e.event_type, e.properties, e."timestamp", e.session_id,
                                      e.anonymous_id, e.received_at, e.country, e.device) c
order by e."timestamp";

do $$
begin
  if (select count(*) from raw_events.analytics_events)
     <> (select count(*) from public.analytics_events_before_compact) then
    raise exception 'compacting analytics_events: row counts differ after the copy';
  end if;
end;
$$;
drop table public.analytics_events_before_compact;

-- Indexes (created on every partition). The time ranges the readers use: BRIN. mashups_created of
-- one creator and day (aggregation.recompute_user_days through the view): a tiny partial index
-- whose predicate is the view's own event_type expression, so the planner matches it.
create index idx_analytics_events_timestamp on raw_events.analytics_events using brin ("timestamp")
  with (pages_per_range = 32);
create index idx_analytics_events_received on raw_events.analytics_events using brin (received_at)
  with (pages_per_range = 32);
create index idx_analytics_events_created_by_user on raw_events.analytics_events (user_id, "timestamp")
  where raw_events.event_type(event_code, event_name) = 'mashup_created';

create trigger analytics_events_claim_id before insert on raw_events.analytics_events
  for each row execute function raw_events.claim_event_id();
create trigger analytics_events_move_id before update on raw_events.analytics_events
  for each row execute function raw_events.claim_event_id();

-- The view: the plan's columns -------------------------------------------------------------------------
create view public.analytics_events with (security_invoker = true) as
select e.id,
       e.user_id,
       raw_events.event_type(e.event_code, e.event_name) as event_type,
       raw_events.client_properties(e.properties, e.mashup_id, e.play_id) as properties,
       e."timestamp",
       e.session_id,
       e.anonymous_id,
       e.received_at,
       e.country,
       raw_events.device(e.device_code) as device,
       e.mashup_id,
       coalesce('u:' || e.user_id::text, 'a:' || e.anonymous_id, 's:' || e.session_id, 'e:' || e.id::text)
         as listener_key
from raw_events.analytics_events e;
comment on view public.analytics_events is
  'Raw events in the plan''s columns (properties exactly as the client sent them), one row per client '
  'event id (unique through analytics_event_ids), stored compact in raw_events.analytics_events. '
  'Written by the track function (service role) only.';
comment on column public.analytics_events.listener_key is
  'u:<user id>, else a:<anonymous id>, else s:<session id>: who counts as one listener.';
comment on column public.analytics_events.mashup_id is '(properties ->> ''mashup_id'')::uuid';
alter view public.analytics_events alter column id set default gen_random_uuid();
alter view public.analytics_events alter column properties set default '{}'::jsonb;
alter view public.analytics_events alter column "timestamp" set default now();
alter view public.analytics_events alter column received_at set default now();
revoke all on public.analytics_events from public, anon, authenticated;
grant select, insert, update, delete on public.analytics_events to service_role;

-- Writes through the view. Rules, not INSTEAD OF triggers: a many-row INSERT stays one INSERT on
-- the physical table (its statement triggers, the fold queue's among them, see all of its rows at
-- once), and each NEW column is named once, so a volatile value (a default id) is computed once.
create rule analytics_events_insert as on insert to public.analytics_events do instead
  insert into raw_events.analytics_events
  select c.* from raw_events.compact(new.id, new.user_id, new.event_type, new.properties, new."timestamp",
                                     new.session_id, new.anonymous_id, new.received_at, new.country, new.device) c
  returning analytics_events.id, analytics_events.user_id,
            raw_events.event_type(analytics_events.event_code, analytics_events.event_name),
            raw_events.client_properties(analytics_events.properties, analytics_events.mashup_id,
                                         analytics_events.play_id),
            analytics_events."timestamp", analytics_events.session_id, analytics_events.anonymous_id,
            analytics_events.received_at, analytics_events.country, raw_events.device(analytics_events.device_code),
            analytics_events.mashup_id,
            coalesce('u:' || analytics_events.user_id::text, 'a:' || analytics_events.anonymous_id,
                     's:' || analytics_events.session_id, 'e:' || analytics_events.id::text);

create rule analytics_events_update as on update to public.analytics_events do instead
  update raw_events.analytics_events e
  set ("timestamp", received_at, id, user_id, mashup_id, play_id, event_code, device_code, event_name, session_id,
       anonymous_id, country, properties)
    = (select c."timestamp", c.received_at, c.id, c.user_id, c.mashup_id, c.play_id, c.event_code, c.device_code,
              c.event_name, c.session_id, c.anonymous_id, c.country, c.properties
       from raw_events.compact(new.id, new.user_id, new.event_type, new.properties, new."timestamp", new.session_id,
                               new.anonymous_id, new.received_at, new.country, new.device) c)
  where e.id = old.id and e."timestamp" = old."timestamp";

create rule analytics_events_delete as on delete to public.analytics_events do instead
  delete from raw_events.analytics_events e where e.id = old.id and e."timestamp" = old."timestamp";

-- COPY into the view (COPY does not apply rules): one row at a time through the same function.
create function raw_events.copy_into_view()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  insert into raw_events.analytics_events
  select c.* from raw_events.compact(new.id, new.user_id, new.event_type, new.properties, new."timestamp",
                                     new.session_id, new.anonymous_id, new.received_at, new.country, new.device) c;
  return new;
end;
$$;
create trigger analytics_events_copy instead of insert on public.analytics_events
  for each row execute function raw_events.copy_into_view();

-- The fold queue and follows read the physical rows ---------------------------------------------------
-- aggregation.enqueue_events writes exactly what it wrote before (the same columns from the same
-- event), reading the compact row: play_id is the uuid column when it was lifted out, else the
-- properties' own value as before.
create or replace function aggregation.enqueue_events()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  insert into aggregation.pending_events
    (id, event_type, "timestamp", received_at, mashup_id, listener_key, user_id, source, country, device,
     play_id, position_seconds, creator_id)
  select f.id, f.event_type, f."timestamp", f.received_at, f.mashup_id, f.listener_key, f.user_id, f.source,
         f.country, f.device, f.play_id, f.position_seconds, f.creator_id
  from new_rows n
  cross join lateral aggregation.fold_columns(n) f
  where n.event_code in ('a', 'b', 'c', 'd', 'e', 'i', 'f', 'g', 'j');
  return null;
end;
$$;
comment on function aggregation.enqueue_events() is
  'AFTER INSERT (statement) trigger on raw_events.analytics_events: queues the new rows the rollups count.';

create function aggregation.fold_columns(e raw_events.analytics_events)
returns table (id uuid, event_type text, "timestamp" timestamptz, received_at timestamptz, mashup_id uuid,
               listener_key text, user_id uuid, source text, country text, device text, play_id uuid,
               position_seconds numeric, creator_id uuid)
language sql
immutable
as $$
  -- No SET search_path: inlined into the queue trigger and the day-rebuild view.
  select e.id, t.event_type, e."timestamp", e.received_at, e.mashup_id,
         coalesce('u:' || e.user_id::text, 'a:' || e.anonymous_id, 's:' || e.session_id, 'e:' || e.id::text),
         e.user_id,
         case when e.event_code = 'a' then coalesce(nullif(e.properties ->> 'source', ''), 'unknown') end,
         case when e.event_code = 'a' then coalesce(e.country, 'unknown') end,
         case when e.event_code = 'a' then coalesce(raw_events.device(e.device_code), 'unknown') end,
         case when e.event_code in ('a', 'b', 'c') then coalesce(e.play_id,
           case when lower(e.properties ->> 'play_id') ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                then lower(e.properties ->> 'play_id')::uuid end) end,
         case when e.event_code in ('b', 'c') and jsonb_typeof(e.properties -> 'position_seconds') = 'number'
              then (e.properties ->> 'position_seconds')::numeric end,
         case when e.event_code = 'j'
               and lower(e.properties ->> 'creator_id') ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
              then lower(e.properties ->> 'creator_id')::uuid end
  from (select raw_events.event_type(e.event_code, e.event_name) as event_type) t
$$;
comment on function aggregation.fold_columns(raw_events.analytics_events) is
  'A stored raw event in the columns of aggregation.pending_events (the queue trigger and the day rebuilds).';

create trigger analytics_events_enqueue_fold
  after insert on raw_events.analytics_events
  referencing new table as new_rows
  for each statement execute function aggregation.enqueue_events();

create view aggregation.raw_events_for_fold with (security_invoker = true) as
select f.*
from raw_events.analytics_events e
cross join lateral aggregation.fold_columns(e) f;
comment on view aggregation.raw_events_for_fold is
  'analytics_events in the columns of aggregation.pending_events (for day rebuilds).';
revoke all on aggregation.raw_events_for_fold from public, anon, authenticated;
grant select on aggregation.raw_events_for_fold to service_role;

-- Signed-in user_followed events become follows (20261126055000): the same rule, on the physical
-- rows (creator_id stays in properties: only mashup_id and play_id are lifted out).
create or replace function aggregation.follows_from_events()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  insert into public.follows (follower_id, creator_id, created_at)
  select distinct on (n.user_id, c.id) n.user_id, c.id, n."timestamp"
  from inserted n
  join auth.users c on c.id = aggregation.to_uuid(n.properties ->> 'creator_id')
  where n.event_code = 'j' and n.user_id is not null and n.user_id <> c.id
  order by n.user_id, c.id, n."timestamp"
  on conflict (follower_id, creator_id) do nothing;
  return null;
end;
$$;
create trigger analytics_events_follows
  after insert on raw_events.analytics_events
  referencing new table as inserted
  for each statement execute function aggregation.follows_from_events();

-- Retention: a month's ids go with its partition ---------------------------------------------------
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
    v_dropped := v_dropped + v_parts;
  end loop;
  return v_dropped;
end;
$$;

-- Replication: the physical table is what is published --------------------------------------------
-- (dropping the old parent took it out of the publication). publish_via_partition_root: a
-- subscriber receives one plain raw_events.analytics_events.
alter publication analytics_raw_events add table raw_events.analytics_events;

analyze raw_events.analytics_events;
analyze public.analytics_event_ids;

revoke all on function raw_events.event_code(text), raw_events.event_type("char", text), raw_events.device_code(text),
  raw_events.device("char"), raw_events.split_uuid(jsonb, text), raw_events.stored_properties(jsonb),
  raw_events.client_properties(jsonb, uuid, uuid),
  raw_events.compact(uuid, uuid, text, jsonb, timestamptz, text, text, timestamptz, text, text),
  raw_events.copy_into_view(), aggregation.fold_columns(raw_events.analytics_events)
  from public, anon, authenticated;
grant execute on function raw_events.event_code(text), raw_events.event_type("char", text), raw_events.device_code(text),
  raw_events.device("char"), raw_events.split_uuid(jsonb, text), raw_events.stored_properties(jsonb),
  raw_events.client_properties(jsonb, uuid, uuid),
  raw_events.compact(uuid, uuid, text, jsonb, timestamptz, text, text, timestamptz, text, text),
  raw_events.copy_into_view(), aggregation.fold_columns(raw_events.analytics_events)
  to service_role;
