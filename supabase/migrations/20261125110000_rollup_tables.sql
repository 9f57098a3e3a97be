-- The finer rollups the dashboard responses are built from, next to the plan's two daily tables.
-- Every row is a pure function of the raw events (and mashups.duration_seconds): the aggregation
-- functions recompute whole keys from raw events, so re-running them gives identical rows.
--
--   table                             grain                                        read by
--   mashup_quarter_hour_stats         (mashup, 15-minute UTC bucket)               creators, analysts
--   mashup_quarter_hour_breakdowns    (mashup, 15-minute bucket, source, country,  creators, analysts
--                                      device) -> plays
--   mashup_play_summaries             one row per play (play_id)                   creators, analysts
--   mashup_daily_retention            (mashup, UTC day, 10-second position bucket) creators, analysts
--   mashup_listeners                  (mashup, listener_key): first play           service role only
--   mashup_lifetime_stats             one row per mashup                           creators, analysts
--
-- Why 15-minute buckets and not hourly: dashboards take any IANA zone, and some zones are not a
-- whole number of hours from UTC (Asia/Kolkata +05:30, Asia/Kathmandu +05:45, ...). Every zone's
-- offset is a multiple of 15 minutes, so every local day and every local hour is an exact union
-- of these buckets, across daylight-saving changes too.

-- Per mashup and 15-minute bucket: the counts a period in any time zone is summed from -----------
create table public.mashup_quarter_hour_stats (
  mashup_id uuid not null references public.mashups (id) on delete cascade,
  -- Start of the bucket; buckets start at :00, :15, :30, :45 UTC and are 15 minutes long.
  bucket_start timestamptz not null,
  plays integer not null default 0,
  likes integer not null default 0,
  shares integer not null default 0,
  comments integer not null default 0,
  downloads integer not null default 0,
  primary key (mashup_id, bucket_start),
  constraint mashup_quarter_hour_stats_bucket_aligned
    check (extract(epoch from bucket_start)::bigint % 900 = 0)
);
comment on table public.mashup_quarter_hour_stats is
  'Counts per mashup per 15-minute UTC bucket (event timestamp). Local days and local hours in any '
  'IANA zone are sums of buckets: sum(...) group by (bucket_start at time zone tz)::date.';

-- Plays per mashup, bucket and (source, country, device): sources and demographics -----------------
create table public.mashup_quarter_hour_breakdowns (
  mashup_id uuid not null references public.mashups (id) on delete cascade,
  bucket_start timestamptz not null,
  -- properties.source of the mashup_played event; 'unknown' when absent.
  source text not null,
  -- analytics_events.country (ISO 3166-1 alpha-2); 'unknown' when absent.
  country text not null,
  -- analytics_events.device; 'unknown' when absent.
  device text not null,
  plays integer not null,
  primary key (mashup_id, bucket_start, source, country, device),
  constraint mashup_quarter_hour_breakdowns_bucket_aligned
    check (extract(epoch from bucket_start)::bigint % 900 = 0)
);
comment on table public.mashup_quarter_hour_breakdowns is
  'Plays per mashup, 15-minute UTC bucket and (source, country, device) combination. Sources, '
  'countries and devices of any period are sums over it, grouped by one of the three columns.';

-- One row per play: how far it got ------------------------------------------------------------
create table public.mashup_play_summaries (
  -- properties.play_id, shared by a play's mashup_played, progress and ended events.
  play_id uuid primary key,
  mashup_id uuid not null references public.mashups (id) on delete cascade,
  -- Timestamp of the play's mashup_played event (the earliest, should a client send two).
  started_at timestamptz not null,
  -- Furthest position_seconds of the play's progress/ended events, 0 without any, capped at
  -- the mashup's duration.
  furthest_position_seconds numeric not null,
  -- mashups.duration_seconds when the play was aggregated.
  duration_seconds integer not null,
  -- furthest_position_seconds >= 95% of duration_seconds (the contract's completion).
  completed boolean not null,
  -- The play sent a mashup_play_ended event.
  ended boolean not null
);
comment on table public.mashup_play_summaries is
  'One row per play (play_id) that has a mashup_played event: furthest position reached, '
  'completion. Watch time, completion rate and drop-off for any period are computed from it.';
create index mashup_play_summaries_mashup_started_idx
  on public.mashup_play_summaries (mashup_id, started_at);

-- Per mashup, UTC day of the play's start, and furthest-position bucket ---------------------------
create table public.mashup_daily_retention (
  mashup_id uuid not null references public.mashups (id) on delete cascade,
  date date not null,
  -- floor(furthest_position_seconds / 10) * 10: plays whose furthest position is in
  -- [position_bucket_seconds, position_bucket_seconds + 10).
  position_bucket_seconds integer not null check (position_bucket_seconds >= 0 and position_bucket_seconds % 10 = 0),
  plays integer not null,
  completed_plays integer not null,
  -- Sum of furthest_position_seconds of those plays.
  watch_time_seconds numeric not null,
  primary key (mashup_id, date, position_bucket_seconds)
);
comment on table public.mashup_daily_retention is
  'Histogram of plays by furthest position (10-second buckets) per mashup and UTC day the play '
  'started. Drop-off by time t (t a multiple of 10 s): plays with position_bucket_seconds < t.';

-- Who has ever played a mashup: exact lifetime unique listeners ----------------------------------
create table public.mashup_listeners (
  mashup_id uuid not null references public.mashups (id) on delete cascade,
  listener_key text not null,
  first_played_at timestamptz not null,
  primary key (mashup_id, listener_key)
);
comment on table public.mashup_listeners is
  'One row per (mashup, listener_key) that ever played the mashup, with the first play time. '
  'Lifetime unique listeners = its row count (a sum of daily uniques would count repeat '
  'listeners once per day). Holds listener identities: service role only, never creators.';

-- One row per mashup: lifetime totals ----------------------------------------------------------
create table public.mashup_lifetime_stats (
  mashup_id uuid primary key references public.mashups (id) on delete cascade,
  plays bigint not null default 0,
  -- Exact distinct listener_keys that ever played the mashup (count of mashup_listeners).
  unique_plays bigint not null default 0,
  likes bigint not null default 0,
  shares bigint not null default 0,
  comments bigint not null default 0,
  downloads bigint not null default 0,
  -- Plays with a summary (a play_id), those that completed, and their summed furthest positions.
  tracked_plays bigint not null default 0,
  completed_plays bigint not null default 0,
  watch_time_seconds numeric not null default 0,
  -- watch_time_seconds / tracked_plays, seconds, 2 decimals; null without tracked plays.
  avg_watch_time numeric
);
comment on table public.mashup_lifetime_stats is
  'Lifetime totals per mashup: sums of mashup_daily_stats / mashup_daily_retention plus the exact '
  'unique listener count from mashup_listeners.';

-- Full-day recomputes find the existing rows of a day through these.
create index mashup_daily_stats_date_idx on public.mashup_daily_stats (date);
create index user_daily_stats_date_idx on public.user_daily_stats (date);

-- Recomputing one play reads its events by play_id (lower-cased: clients may send upper case).
create index idx_analytics_events_play on public.analytics_events (lower(properties ->> 'play_id'))
  where event_type in ('mashup_played', 'mashup_play_progress', 'mashup_play_ended');

-- Row-level security: a creator reads the rows of their own mashups; anon reads nothing ----------
alter table public.mashup_quarter_hour_stats enable row level security;
alter table public.mashup_quarter_hour_breakdowns enable row level security;
alter table public.mashup_play_summaries enable row level security;
alter table public.mashup_daily_retention enable row level security;
alter table public.mashup_listeners enable row level security;
alter table public.mashup_lifetime_stats enable row level security;

create policy "creators read their mashups' quarter-hour stats" on public.mashup_quarter_hour_stats
  for select to authenticated
  using (mashup_id in (select m.id from public.mashups m where m.creator_id = (select auth.uid())));
create policy "creators read their mashups' breakdowns" on public.mashup_quarter_hour_breakdowns
  for select to authenticated
  using (mashup_id in (select m.id from public.mashups m where m.creator_id = (select auth.uid())));
create policy "creators read their mashups' play summaries" on public.mashup_play_summaries
  for select to authenticated
  using (mashup_id in (select m.id from public.mashups m where m.creator_id = (select auth.uid())));
create policy "creators read their mashups' retention" on public.mashup_daily_retention
  for select to authenticated
  using (mashup_id in (select m.id from public.mashups m where m.creator_id = (select auth.uid())));
create policy "creators read their mashups' lifetime stats" on public.mashup_lifetime_stats
  for select to authenticated
  using (mashup_id in (select m.id from public.mashups m where m.creator_id = (select auth.uid())));
-- mashup_listeners: no policy for anon or authenticated, and no grant either: who listened is
-- not something a creator's dashboard shows, only how many.

revoke insert, update, delete, truncate on public.mashup_quarter_hour_stats,
  public.mashup_quarter_hour_breakdowns, public.mashup_play_summaries, public.mashup_daily_retention,
  public.mashup_lifetime_stats from anon, authenticated;
revoke all on public.mashup_listeners from anon, authenticated;
