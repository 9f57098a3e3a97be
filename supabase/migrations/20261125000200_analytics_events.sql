-- Raw analytics events: the plan's analytics_events with the contract's fixes.
--   * timestamptz, not timestamp;
--   * id is the client's event id when it sends one: the idempotency key (the same id stored twice
--     is one event), otherwise generated;
--   * listener_key identifies a listener for unique counts, including anonymous ones
--     (user id, else anonymous id, else session id);
--   * mashup_id is lifted out of properties so per-mashup queries use an index;
--   * country and device are enrichment done at the edge; the IP address is never stored.
-- Only the service role (the track function) writes here; creators read rollups, never raw rows.

create table public.analytics_events (
  id uuid primary key default gen_random_uuid(),
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
);
comment on table public.analytics_events is
  'Raw events, one row per client event id. Written by the track function (service role) only.';
comment on column public.analytics_events.listener_key is
  'u:<user id>, else a:<anonymous id>, else s:<session id>: who counts as one listener.';

-- The plan's indexes (with timestamptz) ...
create index idx_analytics_events_user on public.analytics_events (user_id, "timestamp");
create index idx_analytics_events_type on public.analytics_events (event_type, "timestamp");
-- ... and those the queries need: per-mashup ranges, and "what arrived since" for rollups.
create index idx_analytics_events_mashup on public.analytics_events (mashup_id, "timestamp")
  where mashup_id is not null;
create index idx_analytics_events_received on public.analytics_events (received_at);

alter table public.analytics_events enable row level security;
-- No policies for anon or authenticated: with RLS on, they see no rows. Writes are revoked too,
-- so a client holding the anon key cannot bypass the track function's validation.
revoke insert, update, delete, truncate on public.analytics_events from anon, authenticated;
