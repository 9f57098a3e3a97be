-- State the rollups are folded with, and the creator-level rollups the dashboard reads.
--
--   aggregation.mashup_daily_listeners   (UTC day, mashup, listener_key): exact per-day unique
--                                        listeners, kept as a set so a listener counts once however
--                                        often or late their plays arrive (identities: internal)
--   aggregation.play_folds               one row per play_id seen in any play event: the running
--                                        min/max/or a play summary is derived from, so a heartbeat
--                                        updates its play without reading the play's other events
--   aggregation.creator_daily_followers  (creator, UTC day, follower listener_key): exact
--                                        followers_gained (identities: internal)
--   aggregation.fold_*                   per-run scratch (unlogged, emptied at each run's start)
--   public.creator_quarter_hour_stats    (creator, 15-minute bucket): plays, likes, shares of all
--                                        the creator's mashups, for the dashboard's totals and trends
--   public.creator_daily_breakdowns      (creator, UTC day, source, country, device): plays, for the
--                                        dashboard's sources and demographics over whole UTC days
-- Together with mashup_listeners, the tables that hold listener identities are:
-- public.mashup_listeners, aggregation.mashup_daily_listeners, aggregation.creator_daily_followers and
-- (until folded, minutes) aggregation.pending_events.

create table aggregation.mashup_daily_listeners (
  date date not null,
  mashup_id uuid not null references public.mashups (id) on delete cascade,
  listener_key text not null,
  primary key (date, mashup_id, listener_key)
);
comment on table aggregation.mashup_daily_listeners is
  'Who played a mashup on a UTC day: mashup_daily_stats.unique_plays is the row count of (mashup, date).';

create table aggregation.play_folds (
  play_id uuid primary key,
  -- The earliest mashup_played event of the play with a mashup, by ("timestamp", id): its
  -- timestamp, id and mashup. Null until a played event arrives (heartbeats may come first).
  started_at timestamptz,
  started_event_id uuid,
  mashup_id uuid,
  -- Largest numeric position_seconds of the play's progress/ended events (uncapped; null: none).
  max_position_seconds numeric,
  ended boolean not null default false
);
comment on table aggregation.play_folds is
  'Per play, an order-free and idempotent fold (min, max, or) of its events; mashup_play_summaries '
  'is derived from it with the mashup''s duration.';

create table aggregation.creator_daily_followers (
  creator_id uuid not null,
  date date not null,
  follower_key text not null,
  primary key (creator_id, date, follower_key)
);
comment on table aggregation.creator_daily_followers is
  'Distinct followers (listener_key of user_followed events) per creator and UTC day.';

-- Per-run scratch: the events of the run and the count changes they cause.
create unlogged table aggregation.fold_batch (like aggregation.pending_events);
create unlogged table aggregation.fold_count_deltas (
  mashup_id uuid not null,
  bucket_start timestamptz not null,
  plays integer not null,
  likes integer not null,
  shares integer not null,
  comments integer not null,
  downloads integer not null
);
create unlogged table aggregation.fold_breakdown_deltas (
  mashup_id uuid not null,
  bucket_start timestamptz not null,
  source text not null,
  country text not null,
  device text not null,
  plays integer not null
);
create unlogged table aggregation.fold_retention_deltas (
  mashup_id uuid not null,
  date date not null,
  position_bucket_seconds integer not null,
  plays integer not null,
  completed_plays integer not null,
  watch_time_seconds numeric not null
);

-- Creator-level rollups ----------------------------------------------------------------------
create table public.creator_quarter_hour_stats (
  creator_id uuid not null references auth.users (id) on delete cascade,
  bucket_start timestamptz not null,
  plays integer not null default 0,
  likes integer not null default 0,
  shares integer not null default 0,
  primary key (creator_id, bucket_start),
  constraint creator_quarter_hour_stats_bucket_aligned check (extract(epoch from bucket_start)::bigint % 900 = 0)
);
comment on table public.creator_quarter_hour_stats is
  'Sums of mashup_quarter_hour_stats over each creator''s mashups: the dashboard''s totals and daily '
  'trends in any zone read one row per bucket instead of one per mashup and bucket.';

create table public.creator_daily_breakdowns (
  creator_id uuid not null references auth.users (id) on delete cascade,
  date date not null,
  source text not null,
  country text not null,
  device text not null,
  plays integer not null,
  primary key (creator_id, date, source, country, device)
);
comment on table public.creator_daily_breakdowns is
  'Sums of mashup_quarter_hour_breakdowns over each creator''s mashups and UTC day: sources and '
  'demographics of a period read whole days here and only the period''s edges from buckets.';

alter table public.creator_quarter_hour_stats enable row level security;
alter table public.creator_daily_breakdowns enable row level security;
create policy "creators read their own quarter-hour stats" on public.creator_quarter_hour_stats
  for select to authenticated using (creator_id = (select auth.uid()));
create policy "creators read their own daily breakdowns" on public.creator_daily_breakdowns
  for select to authenticated using (creator_id = (select auth.uid()));
grant select on public.creator_quarter_hour_stats, public.creator_daily_breakdowns to analyst;
create policy "analysts read all creator quarter-hour stats" on public.creator_quarter_hour_stats
  for select to analyst using (true);
create policy "analysts read all creator daily breakdowns" on public.creator_daily_breakdowns
  for select to analyst using (true);
revoke insert, update, delete, truncate on public.creator_quarter_hour_stats, public.creator_daily_breakdowns
  from anon, authenticated;

-- A day rebuild reads the existing rows of one UTC day across all mashups.
create index mashup_quarter_hour_stats_bucket_idx on public.mashup_quarter_hour_stats (bucket_start);
create index mashup_quarter_hour_breakdowns_bucket_idx on public.mashup_quarter_hour_breakdowns (bucket_start);
create index creator_daily_breakdowns_date_idx on public.creator_daily_breakdowns (date);

revoke all on aggregation.mashup_daily_listeners, aggregation.play_folds, aggregation.creator_daily_followers,
  aggregation.fold_batch, aggregation.fold_count_deltas, aggregation.fold_breakdown_deltas,
  aggregation.fold_retention_deltas from public, anon, authenticated;
grant select, insert, update, delete, truncate on aggregation.mashup_daily_listeners, aggregation.play_folds,
  aggregation.creator_daily_followers, aggregation.fold_batch, aggregation.fold_count_deltas,
  aggregation.fold_breakdown_deltas, aggregation.fold_retention_deltas to service_role;

-- Runs analyze their batch before planning joins over it; a small sample is enough for that and
-- takes a fraction of the default's time.
alter table aggregation.fold_batch alter column id set statistics 10, alter column event_type set statistics 10,
  alter column "timestamp" set statistics 10, alter column received_at set statistics 10,
  alter column mashup_id set statistics 10, alter column listener_key set statistics 10,
  alter column user_id set statistics 10, alter column source set statistics 10, alter column country set statistics 10,
  alter column device set statistics 10, alter column play_id set statistics 10,
  alter column position_seconds set statistics 10, alter column creator_id set statistics 10;
