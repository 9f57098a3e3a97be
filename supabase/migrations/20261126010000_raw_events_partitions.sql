-- Raw events in monthly range partitions on "timestamp" (issue 11), migrated in place.
--
--   public.analytics_events, public.analytics_bot_events   partitioned parents (same columns as before)
--   raw_events.analytics_events_pYYYYMM, ..._bot_events_pYYYYMM   one partition per UTC month
--   public.analytics_event_ids   one row per stored event id: the dedup key across partitions
--   raw_events.settings          retention_months (default 13), months_ahead (default 3)
--   raw_events.horizon()         THE one place that says how old a raw event may be
--   raw_events.ensure_partitions()   creates every month from the horizon to months_ahead ahead
--
-- Why native partitions kept by our own SQL and not pg_partman: hosted Supabase ships pg_partman
-- 5.x and Debian 4.7, whose APIs differ; creating a month ahead and dropping an old one are three
-- statements each (decisions.md).
--
-- Partitions live in the schema raw_events, which PostgREST does not expose: clients never see
-- them (and reads through the parent go through the parent's RLS and grants only).
--
-- Dedup across partitions: a primary key on a partitioned table must contain the partition key,
-- so (id) alone cannot be unique there, and the same client id resent with a timestamp in another
-- month would be stored twice. Every insert into either raw table first claims its id in
-- public.analytics_event_ids (a BEFORE INSERT trigger, so every writer is covered: ingest_events,
-- seeds, benchmarks, COPY); a row whose id is already claimed is skipped, exactly as the old
-- `on conflict (id) do nothing`. The claim and the row commit together; a concurrent claim of the
-- same id waits on the primary key and then skips.

create schema if not exists raw_events;
comment on schema raw_events is
  'Raw-event storage: monthly partitions, retention settings and maintenance. Not exposed through the API.';
revoke all on schema raw_events from public;
grant usage on schema raw_events to service_role;

-- Settings ----------------------------------------------------------------------------------------
create table raw_events.settings (
  singleton boolean primary key default true check (singleton),
  -- Raw events are kept for the current UTC month plus this many whole months before it.
  retention_months integer not null default 13 check (retention_months >= 1),
  -- Partitions exist this many months after the current one.
  months_ahead integer not null default 3 check (months_ahead >= 1)
);
comment on table raw_events.settings is
  'One row: how many whole months of raw events are kept before the current month, and how many '
  'monthly partitions are created ahead.';
insert into raw_events.settings default values;
revoke all on raw_events.settings from public, anon, authenticated;
grant select, update on raw_events.settings to service_role;

-- The horizon: the one SQL place that says which raw events are kept --------------------------------
create function raw_events.horizon(p_now timestamptz default now())
returns timestamptz
language sql
stable
set search_path = ''
as $$
  select (date_trunc('month', p_now at time zone 'UTC') - make_interval(months => s.retention_months))
         at time zone 'UTC'
  from raw_events.settings s
$$;
comment on function raw_events.horizon(timestamptz) is
  'The oldest event time raw storage keeps: 00:00 UTC on the first day of the month retention_months '
  'before the current one. Raw events with "timestamp" before it are refused (ingest_events) and their '
  'partitions dropped once final (raw_events.drop_expired). Importers keep a client timestamp only '
  'when it is >= this.';

-- The first instant no partition covers yet (months_ahead after the current month).
create function raw_events.ceiling(p_now timestamptz default now())
returns timestamptz
language sql
stable
set search_path = ''
as $$
  select (date_trunc('month', p_now at time zone 'UTC') + make_interval(months => s.months_ahead + 1))
         at time zone 'UTC'
  from raw_events.settings s
$$;
comment on function raw_events.ceiling(timestamptz) is
  'End of the last monthly partition created ahead: events at or after it are refused.';

-- Creating one month ---------------------------------------------------------------------------------
create function raw_events.create_month(p_month date)
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
  foreach v_parent in array array['analytics_events', 'analytics_bot_events'] loop
    v_name := v_parent || '_p' || to_char(p_month, 'YYYYMM');
    if to_regclass('raw_events.' || v_name) is null then
      execute format('create table raw_events.%I partition of public.%I for values from (%L) to (%L)',
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
comment on function raw_events.create_month(date) is
  'Creates the month''s partition of analytics_events and analytics_bot_events (in schema raw_events) '
  'when missing; returns how many it created.';

create function raw_events.ensure_partitions(p_now timestamptz default now())
returns integer
language sql
security invoker
set search_path = ''
as $$
  select coalesce(sum(raw_events.create_month(m::date)), 0)::integer
  from generate_series(raw_events.horizon(p_now) at time zone 'UTC',
                       (raw_events.ceiling(p_now) at time zone 'UTC') - interval '1 month',
                       interval '1 month') as m
$$;
comment on function raw_events.ensure_partitions(timestamptz) is
  'Creates every missing monthly partition from the horizon''s month to months_ahead after the '
  'current month, so an event of any kept month (a late one too) lands in its own month.';

-- The dedup key ------------------------------------------------------------------------------------
create table public.analytics_event_ids (
  id uuid primary key,
  -- The stored event's time: retention deletes the ids of dropped months by it.
  "timestamp" timestamptz not null
);
comment on table public.analytics_event_ids is
  'Every stored raw event id (analytics_events and analytics_bot_events): the idempotency key across '
  'monthly partitions. Holds no identity. Service role only.';
alter table public.analytics_event_ids enable row level security;
revoke all on public.analytics_event_ids from anon, authenticated;
grant select, insert, delete on public.analytics_event_ids to service_role;
-- Retention deletes the ids of a dropped month by time; ids arrive about in time order: BRIN.
create index idx_analytics_event_ids_timestamp on public.analytics_event_ids using brin ("timestamp");

create function raw_events.claim_event_id()
returns trigger
language plpgsql
security invoker
set search_path = ''
as $$
begin
  if tg_op = 'UPDATE' then
    -- An update of "timestamp" into another month moves the row: PostgreSQL deletes it from this
    -- partition, then inserts it into the other one, firing BEFORE INSERT there. That insert is the
    -- same event, not a resend: let it through (and keep the id's time current for retention).
    if new."timestamp" is distinct from old."timestamp" then
      update public.analytics_event_ids set "timestamp" = new."timestamp" where id = old.id;
      if to_char(new."timestamp" at time zone 'UTC', 'YYYYMM') <> right(tg_table_name, 6) then
        perform set_config('raw_events.moving_id', old.id::text, true);
      end if;
    end if;
    return new;
  end if;
  if current_setting('raw_events.moving_id', true) = new.id::text then
    perform set_config('raw_events.moving_id', '', true);
    return new;
  end if;
  insert into public.analytics_event_ids (id, "timestamp") values (new.id, new."timestamp")
  on conflict (id) do nothing;
  if not found then
    return null; -- already stored: skip this row, like `on conflict (id) do nothing`
  end if;
  return new;
end;
$$;
comment on function raw_events.claim_event_id() is
  'BEFORE INSERT on the raw tables: claims the event id in analytics_event_ids; skips the row when '
  'the id is already stored (in any month, or earlier in the same statement). BEFORE UPDATE: lets a '
  'row moved to another month by an update of "timestamp" be inserted there.';

-- analytics_events, partitioned -----------------------------------------------------------------------
alter table public.analytics_events rename to analytics_events_unpartitioned;
alter table public.analytics_events_unpartitioned rename constraint analytics_events_pkey to analytics_events_unpartitioned_pkey;
drop index public.idx_analytics_events_user, public.idx_analytics_events_type, public.idx_analytics_events_mashup,
  public.idx_analytics_events_received, public.idx_analytics_events_play, public.idx_analytics_events_followed_creator;

create table public.analytics_events (
  id uuid not null default gen_random_uuid(),
  user_id uuid references auth.users (id) on delete set null,
  event_type text not null,
  properties jsonb not null default '{}'::jsonb,
  "timestamp" timestamptz not null default now(),
  session_id text,
  anonymous_id text,
  received_at timestamptz not null default now(),
  country text check (country ~ '^[A-Z]{2}$'),
  device text check (device in ('mobile', 'tablet', 'desktop', 'tv', 'console', 'other')),
  mashup_id uuid generated always as ((properties ->> 'mashup_id')::uuid) stored,
  listener_key text generated always as (
    coalesce('u:' || user_id::text, 'a:' || anonymous_id, 's:' || session_id, 'e:' || id::text)
  ) stored,
  constraint analytics_events_properties_object check (jsonb_typeof(properties) = 'object')
) partition by range ("timestamp");
comment on table public.analytics_events is
  'Raw events, one row per client event id (unique through analytics_event_ids), in monthly partitions '
  'raw_events.analytics_events_pYYYYMM. Written by the track function (service role) only.';
comment on column public.analytics_events.listener_key is
  'u:<user id>, else a:<anonymous id>, else s:<session id>: who counts as one listener.';

create trigger analytics_events_claim_id before insert on public.analytics_events
  for each row execute function raw_events.claim_event_id();
create trigger analytics_events_move_id before update on public.analytics_events
  for each row execute function raw_events.claim_event_id();

-- Indexes (every one is created on each partition). The plan's (user_id, timestamp) and
-- (event_type, timestamp) b-trees are gone: the only reader by user counts mashup_created events
-- (a partial index below), every reader of a type also bounds the time (a partition, then BRIN),
-- and together they cost 120 bytes an event. Erasure, the other reader by user, scans
-- (docs/raw-storage.md).
-- Time ranges (one UTC day for the day jobs, what arrived since for the incremental job): BRIN,
-- a few pages per partition; events arrive roughly in time order, exactly in received_at order.
create index idx_analytics_events_timestamp on public.analytics_events using brin ("timestamp")
  with (pages_per_range = 32);
create index idx_analytics_events_received on public.analytics_events using brin (received_at)
  with (pages_per_range = 32);
-- What the current recompute functions look up by key (issue 10's design needs neither).
create index idx_analytics_events_mashup on public.analytics_events (mashup_id, "timestamp")
  where mashup_id is not null;
create index idx_analytics_events_play on public.analytics_events (lower(properties ->> 'play_id'))
  where event_type in ('mashup_played', 'mashup_play_progress', 'mashup_play_ended');
create index idx_analytics_events_followed_creator
  on public.analytics_events (lower(properties ->> 'creator_id'), "timestamp")
  where event_type = 'user_followed';
-- mashups_created of one creator and day (recompute_user_days probes it per user and day; without
-- it each probe reads the whole day). Partial: creations are rare, so it costs almost nothing.
create index idx_analytics_events_created_by_user
  on public.analytics_events (user_id, "timestamp")
  where event_type = 'mashup_created';

alter table public.analytics_events enable row level security;
revoke insert, update, delete, truncate on public.analytics_events from anon, authenticated;

-- analytics_bot_events, partitioned ------------------------------------------------------------------
alter table public.analytics_bot_events rename to analytics_bot_events_unpartitioned;
alter table public.analytics_bot_events_unpartitioned rename constraint analytics_bot_events_pkey to analytics_bot_events_unpartitioned_pkey;
drop index public.idx_analytics_bot_events_received;

create table public.analytics_bot_events (
  id uuid not null,
  event_type text not null,
  properties jsonb not null default '{}'::jsonb,
  "timestamp" timestamptz not null default now(),
  received_at timestamptz not null default now(),
  user_agent text check (char_length(user_agent) <= 512),
  constraint analytics_bot_events_properties_object check (jsonb_typeof(properties) = 'object')
) partition by range ("timestamp");
comment on table public.analytics_bot_events is
  'Bot traffic the track function received: stored apart, counted nowhere, in monthly partitions '
  'raw_events.analytics_bot_events_pYYYYMM. Service role only.';
comment on column public.analytics_bot_events.user_agent is
  'The User-Agent the bot detection matched (truncated to 512 characters).';

create trigger analytics_bot_events_claim_id before insert on public.analytics_bot_events
  for each row execute function raw_events.claim_event_id();
create trigger analytics_bot_events_move_id before update on public.analytics_bot_events
  for each row execute function raw_events.claim_event_id();
create index idx_analytics_bot_events_received on public.analytics_bot_events using brin (received_at);

alter table public.analytics_bot_events enable row level security;
revoke all on public.analytics_bot_events from anon, authenticated;

-- Move the existing events in ---------------------------------------------------------------------
-- Months from the oldest stored event (older than the horizon too: retention drops those once
-- final, not this migration) to months_ahead ahead.
select raw_events.create_month(m::date)
from generate_series(
  least(raw_events.horizon(),
        (select min(e."timestamp") from public.analytics_events_unpartitioned e),
        (select min(b."timestamp") from public.analytics_bot_events_unpartitioned b)) at time zone 'UTC',
  (raw_events.ceiling() at time zone 'UTC') - interval '1 month',
  interval '1 month') as m;
-- Events after the ceiling (a service-role writer with a far-future clock) get their months too.
select raw_events.create_month(m::date)
from generate_series(
  raw_events.ceiling() at time zone 'UTC',
  greatest((select max(e."timestamp") from public.analytics_events_unpartitioned e),
           (select max(b."timestamp") from public.analytics_bot_events_unpartitioned b)) at time zone 'UTC',
  interval '1 month') as m;

insert into public.analytics_events
  (id, user_id, event_type, properties, "timestamp", session_id, anonymous_id, received_at, country, device)
select id, user_id, event_type, properties, "timestamp", session_id, anonymous_id, received_at, country, device
from public.analytics_events_unpartitioned
order by "timestamp";
-- An id stored in both old tables (possible before: two primary keys) keeps its analytics_events row.
insert into public.analytics_bot_events (id, event_type, properties, "timestamp", received_at, user_agent)
select id, event_type, properties, "timestamp", received_at, user_agent
from public.analytics_bot_events_unpartitioned
order by "timestamp";

do $$
begin
  if (select count(*) from public.analytics_events) <> (select count(*) from public.analytics_events_unpartitioned) then
    raise exception 'partitioning analytics_events: row counts differ after the copy';
  end if;
end;
$$;

drop table public.analytics_events_unpartitioned;
drop table public.analytics_bot_events_unpartitioned;
analyze public.analytics_events;
analyze public.analytics_bot_events;
analyze public.analytics_event_ids;

revoke all on function raw_events.horizon(timestamptz), raw_events.ceiling(timestamptz),
  raw_events.create_month(date), raw_events.ensure_partitions(timestamptz), raw_events.claim_event_id()
  from public, anon, authenticated;
grant execute on function raw_events.horizon(timestamptz), raw_events.ceiling(timestamptz),
  raw_events.create_month(date), raw_events.ensure_partitions(timestamptz) to service_role;
