-- Operator-facing state of the aggregation jobs, in a schema PostgREST does not expose:
--   aggregation.runs        one row per job run: window, row counts, duration, status, error
--   aggregation.watermarks  how far (by received_at) the incremental job has folded events in
--   aggregation.backfills   progress of backfills, committed day by day while they run

create schema if not exists aggregation;
comment on schema aggregation is
  'Aggregation jobs: run log, watermarks, backfill progress and the recompute functions. Not exposed through the API.';
revoke all on schema aggregation from public;
grant usage on schema aggregation to service_role;

create table aggregation.runs (
  id bigint generated always as identity primary key,
  -- 'incremental', 'nightly', 'backfill', 'aggregate_mashup_stats', ...
  job text not null,
  status text not null check (status in ('succeeded', 'failed', 'skipped')),
  started_at timestamptz not null,
  finished_at timestamptz not null,
  duration_ms numeric not null,
  -- Incremental: the received_at window [window_start, window_end) that was read.
  -- Day jobs: [day 00:00 UTC, next day 00:00 UTC). Backfill: the whole range.
  window_start timestamptz,
  window_end timestamptz,
  -- Raw events read to find what changed (incremental) or in the day (day jobs).
  events_read bigint not null default 0,
  -- Keys recomputed from raw events.
  mashup_days integer not null default 0,
  user_days integer not null default 0,
  plays integer not null default 0,
  mashups integer not null default 0,
  -- Rollup rows inserted, updated or deleted.
  rows_written bigint not null default 0,
  error text
);
comment on table aggregation.runs is
  'One row per aggregation run. A failed run keeps its error here and leaves the watermark where '
  'it was, so the next run reads the same window again.';
create index runs_job_started_idx on aggregation.runs (job, started_at desc);

create table aggregation.watermarks (
  job text primary key,
  -- Every event with received_at < received_through has been folded in (see run_incremental).
  received_through timestamptz not null,
  updated_at timestamptz not null
);
comment on table aggregation.watermarks is
  'Incremental progress by received_at. Each run re-reads an overlap before the watermark, so a '
  'transaction that committed late is still seen.';

create table aggregation.backfills (
  id bigint generated always as identity primary key,
  from_date date not null,
  to_date date not null,
  status text not null check (status in ('running', 'succeeded', 'failed')),
  days_total integer not null,
  days_done integer not null default 0,
  -- The last day finished (committed).
  last_day date,
  started_at timestamptz not null,
  updated_at timestamptz not null,
  finished_at timestamptz,
  error text
);
comment on table aggregation.backfills is
  'Backfill progress, committed after every day, so another session sees it while it runs.';

revoke all on all tables in schema aggregation from public, anon, authenticated;
grant select, insert, update on all tables in schema aggregation to service_role;
