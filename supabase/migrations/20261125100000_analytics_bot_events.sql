-- Events sent by bots (crawlers, headless browsers), kept apart from analytics_events so they
-- count nowhere: no rollup, no counter and no dashboard reads this table. Kept rather than
-- dropped so an operator can see how much bot traffic arrives and audit false positives by the
-- User-Agent that flagged it. No user, anonymous or session id and no IP are kept.
-- Written by the track function through public.ingest_events (service role) only.

create table public.analytics_bot_events (
  id uuid primary key,
  event_type text not null,
  properties jsonb not null default '{}'::jsonb,
  "timestamp" timestamptz not null default now(),
  received_at timestamptz not null default now(),
  user_agent text check (char_length(user_agent) <= 512),
  constraint analytics_bot_events_properties_object check (jsonb_typeof(properties) = 'object')
);
comment on table public.analytics_bot_events is
  'Bot traffic the track function received: stored apart, counted nowhere. Service role only.';
comment on column public.analytics_bot_events.user_agent is
  'The User-Agent the bot detection matched (truncated to 512 characters).';

create index idx_analytics_bot_events_received on public.analytics_bot_events (received_at);

alter table public.analytics_bot_events enable row level security;
-- No policies: anon and authenticated see no rows, and cannot write either.
revoke all on public.analytics_bot_events from anon, authenticated;
