-- bench/aggregate.sql: the SQL half of bench/aggregate. The plan's original aggregate function,
-- ported to this schema only as far as it must be (its own copy of the plan's table, timestamptz),
-- a timer, and a source of "new" events for the incremental runs.
set timezone = 'UTC';
create schema if not exists bench;

-- The plan's mashup_daily_stats, without our fixes (nullable mashup_id, no FK: the plan's GROUP BY
-- puts events without a mashup into a null-mashup row).
create table if not exists bench.plan_mashup_daily_stats (
  id uuid primary key default gen_random_uuid(),
  mashup_id uuid,
  date date not null,
  plays integer default 0, unique_plays integer default 0, likes integer default 0, shares integer default 0,
  comments integer default 0, downloads integer default 0, avg_watch_time numeric,
  unique (mashup_id, date)
);

-- The plan's function, verbatim apart from the table names.
create or replace function bench.plan_aggregate_mashup_stats(target_date date)
returns void as $$
begin
  insert into bench.plan_mashup_daily_stats (
    mashup_id, date, plays, unique_plays, likes, shares
  )
  select
    (properties->>'mashup_id')::uuid as mashup_id,
    target_date,
    count(*) filter (where event_type = 'mashup_played'),
    count(distinct user_id) filter (where event_type = 'mashup_played'),
    count(*) filter (where event_type = 'mashup_liked'),
    count(*) filter (where event_type = 'mashup_shared')
  from public.analytics_events
  where date_trunc('day', timestamp) = target_date
  group by properties->>'mashup_id'
  on conflict (mashup_id, date)
  do update set
    plays = excluded.plays,
    unique_plays = excluded.unique_plays,
    likes = excluded.likes,
    shares = excluded.shares;
end;
$$ language plpgsql;

-- Milliseconds one statement takes.
create or replace function bench.ms(p_sql text)
returns numeric language plpgsql as $$
declare t timestamptz := clock_timestamp();
begin
  execute p_sql;
  return round(extract(epoch from clock_timestamp() - t) * 1000, 1);
end $$;

-- Pages a read of one UTC day of raw events visits through the time index (the bitmap heap scan's
-- blocks, from EXPLAIN ANALYZE), and the read's time in ms: "pages ms".
create or replace function bench.day_read(p_day date)
returns text language plpgsql as $$
declare
  v_plan jsonb;
begin
  -- (Through the index whatever the table's size: a small database's day may be cheaper to scan.)
  perform set_config('enable_seqscan', 'off', true);
  execute format('explain (analyze, timing off, format json) select count(*) from raw_events.analytics_events e
                  where e."timestamp" >= %L::timestamptz and e."timestamp" < %L::timestamptz',
                 p_day::text || ' 00:00:00+00', (p_day + 1)::text || ' 00:00:00+00') into v_plan;
  return (select coalesce(sum((b ->> 'Exact Heap Blocks')::bigint), 0) + coalesce(sum((b ->> 'Lossy Heap Blocks')::bigint), 0)
          from jsonb_path_query(v_plan, 'strict $.**') as b where jsonb_typeof(b) = 'object' and b ? 'Lossy Heap Blocks')
         || ' ' || round((v_plan -> 0 ->> 'Execution Time')::numeric, 1);
end $$;

-- Ids of the new events and plays. By default random (version 4), as types/client.ts mints them with
-- crypto.randomUUID(); with BENCH_IDS=v7 (bench/aggregate sets bench.ids) time-ordered UUIDv7s of the
-- event's time, as a client minting v7 ids (posthog-js does) would send them: each index on an id then
-- takes new ids at its right edge instead of on a random leaf, in the run (play summaries, play_folds)
-- and in the COPY baseline (the id index) alike. docs/benchmarks.md, thirteenth look, has both.
-- A UUIDv7 for time ts (RFC 9562: 48-bit Unix ms, version 7, random rest).
create or replace function bench.uuid_v7(ts timestamptz)
returns uuid language sql volatile as $$
  select encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
           placing substring(int8send(floor(extract(epoch from ts) * 1000)::bigint) from 3) from 1 for 6), 52, 1), 53, 1), 'hex')::uuid
$$;
create or replace function bench.new_id(ts timestamptz)
returns uuid language sql volatile as $$
  select case when current_setting('bench.ids', true) = 'v7' then bench.uuid_v7(ts) else gen_random_uuid() end
$$;

-- p_plays plays that happened in the last 5 minutes and were received now: each a played event,
-- a heartbeat and an ending, spread over mashups with the generator's power law.
create or replace function bench.new_events(p_plays int, p_mashups int, p_fans int)
returns bigint language plpgsql as $$
declare n bigint;
begin
  with p as (
    select bench.new_id(g.ts) as play_id, g.*
    from (select md5('bench-mashup-' || least(p_mashups, 1 + floor(p_mashups * power(random(), 3))::int))::uuid as mashup_id,
                 now() - random() * interval '5 minutes' as ts,
                 case when random() < 0.55 then md5('bench-fan-' || floor(random() * p_fans)::int)::uuid end as user_id,
                 'anon-new-' || floor(random() * p_fans)::int as anon
          from generate_series(1, p_plays)) g
  ), ev as (
    select user_id, 'mashup_played' as t, jsonb_build_object('mashup_id', mashup_id, 'play_id', play_id, 'source', 'direct') as props, ts, anon from p
    union all
    select user_id, 'mashup_play_progress', jsonb_build_object('mashup_id', mashup_id, 'play_id', play_id, 'position_seconds', 30), ts + interval '30 s', anon from p
    union all
    select user_id, 'mashup_play_ended', jsonb_build_object('mashup_id', mashup_id, 'play_id', play_id, 'position_seconds', 41), ts + interval '41 s', anon from p
  )
  insert into public.analytics_events (id, user_id, event_type, properties, "timestamp", session_id, anonymous_id, received_at, country, device)
  select bench.new_id(ts), user_id, t, props, ts, 'sess-new', case when user_id is null then anon end, now(), 'US', 'mobile' from ev;
  get diagnostics n = row_count;
  return n;
end $$;

-- The same window with bench/generate's mix of events (its distributions, see bench/generate.sql):
-- p_plays plays started in the last 5 minutes, each with a heartbeat every 30 s up to how far it
-- got (55% complete), an ending for 90%, and the reactions (likes 10%, shares 3%, comments 2%,
-- exports 1%, AI reactions 3%); signed-in fans skewed like the generator's, anonymous ids, sources,
-- countries and devices as there. About 7 events per play, where new_events has 3.
create or replace function bench.mix_events(p_plays int, p_mashups int, p_fans int)
returns bigint language plpgsql as $$
declare n bigint;
begin
  with p as (
    select bench.new_id(ts) as play_id, md5('bench-mashup-' || m)::uuid as mashup_id, 120 + (m * 37) % 180 as duration, ts,
           case when who < 0.55 then md5('bench-fan-' || floor(p_fans * power(random(), 2))::int)::uuid end as user_id,
           case when who >= 0.55 then 'anon-mix-' || floor(random() * p_fans * 3)::int end as anon,
           case when src < 0.50 then 'direct' when src < 0.70 then 'twitter' when src < 0.83 then 'instagram'
                when src < 0.93 then 'tiktok' else 'youtube' end as source,
           case when geo < 0.35 then 'US' when geo < 0.47 then 'GB' when geo < 0.57 then 'DE'
                when geo < 0.67 then 'BR' when geo < 0.77 then 'IN' when geo < 0.84 then 'FR'
                when geo < 0.90 then 'CA' when geo < 0.95 then 'JP' when geo < 0.98 then 'MX' end as country,
           case when dev < 0.60 then 'mobile' when dev < 0.90 then 'desktop' when dev < 0.97 then 'tablet' else 'tv' end as device,
           case when fin < 0.55 then 120 + (m * 37) % 180 else floor((120 + (m * 37) % 180) * (fin - 0.55) / 0.45)::int end as furthest,
           fin < 0.9 as ended, r
    from (
      select least(p_mashups, 1 + floor(p_mashups * power(random(), 3))::int) as m, random() as who, random() as src,
             random() as geo, random() as dev, random() as fin, random() as r,
             now() - random() * interval '5 minutes' as ts
      from generate_series(1, p_plays)
    ) g
  ), ev as (
    select user_id, 'mashup_played' as t, jsonb_build_object('mashup_id', mashup_id, 'play_id', play_id, 'source', source) as props,
           ts, anon, country, device from p
    union all
    select user_id, 'mashup_play_progress',
           jsonb_build_object('mashup_id', mashup_id, 'play_id', play_id, 'position_seconds', pos, 'duration_seconds', duration),
           ts + make_interval(secs => pos), anon, country, device
    from p cross join lateral generate_series(30, furthest, 30) as pos
    union all
    select user_id, 'mashup_play_ended',
           jsonb_build_object('mashup_id', mashup_id, 'play_id', play_id, 'position_seconds', furthest, 'duration_seconds', duration),
           ts + make_interval(secs => furthest), anon, country, device
    from p where ended
    union all
    select user_id, k.kind, jsonb_build_object('mashup_id', mashup_id), ts + interval '20 seconds', anon, country, device
    from p join (values ('mashup_liked', 0.0, 0.10), ('mashup_shared', 0.10, 0.13), ('comment_posted', 0.13, 0.15),
                        ('mashup_exported', 0.15, 0.16), ('ai_reaction', 0.16, 0.19)) as k (kind, lo, hi)
      on r >= k.lo and r < k.hi
  )
  insert into public.analytics_events (id, user_id, event_type, properties, "timestamp", session_id, anonymous_id, received_at, country, device)
  select bench.new_id(ts), user_id, t, props, ts, 'sess-mix', case when user_id is null then anon end, now(), country, device from ev;
  get diagnostics n = row_count;
  return n;
end $$;

-- The hot-key series ---------------------------------------------------------------------------
-- A mashup of creator 0 that only the series plays, so its events per day are known exactly.
-- Each run of the series takes a new hot mashup (bench.setup_hot(true)), so it starts at 0 events.
create table if not exists bench.hot (id uuid primary key, created_at timestamptz not null default clock_timestamp());

create or replace function bench.hot_mashup()
returns uuid language sql as $$ select id from bench.hot order by created_at desc limit 1 $$;

create or replace function bench.setup_hot(p_new boolean default false)
returns void language plpgsql as $$
begin
  if p_new or not exists (select 1 from bench.hot) then
    insert into bench.hot (id) values (md5('bench-hot-mashup-' || clock_timestamp())::uuid);
  end if;
  insert into public.mashups (id, creator_id, title, duration_seconds, created_at)
  values (bench.hot_mashup(), md5('bench-creator-0')::uuid, 'Bench hot mashup', 180, now() - interval '1 day')
  on conflict (id) do nothing;
end $$;

-- p_n mashup_played events (each a new play) in [p_from, now()), received now(): event i goes to
-- p_mashups[1 + i % n]; listeners drawn from 55% signed-in fans and 45% anonymous ids.
create or replace function bench.played_events(p_mashups uuid[], p_n int, p_from timestamptz, p_fans int)
returns bigint language plpgsql as $$
declare n bigint;
begin
  insert into public.analytics_events (user_id, event_type, properties, "timestamp", session_id, anonymous_id,
                                       received_at, country, device)
  select case when r < 0.55 then md5('bench-fan-' || floor(random() * p_fans)::int)::uuid end, 'mashup_played',
         jsonb_build_object('mashup_id', p_mashups[1 + i % cardinality(p_mashups)], 'play_id', gen_random_uuid(),
                            'source', (array['direct', 'twitter', 'instagram', 'tiktok', 'youtube'])[1 + floor(random() * 5)::int]),
         p_from + random() * (now() - p_from), 'sess-hot-' || floor(random() * 1e9)::bigint,
         case when r >= 0.55 then 'anon-hot-' || floor(random() * p_fans * 30)::int end, now(),
         (array['US', 'GB', 'DE', 'BR', 'IN', 'FR'])[1 + floor(random() * 6)::int],
         (array['mobile', 'desktop', 'tablet'])[1 + floor(random() * 3)::int]
  from (select i, random() as r from generate_series(1, p_n) as i) g;
  get diagnostics n = row_count;
  return n;
end $$;

-- The hot mashup's events today (from its buckets: the series folds after each insert).
create or replace function bench.hot_events_today()
returns bigint language sql as $$
  select coalesce(sum(plays), 0) from public.mashup_quarter_hour_stats
  where mashup_id = bench.hot_mashup() and bucket_start >= (current_date::timestamp at time zone 'UTC')
$$;

-- 1,000 quiet mashups: the last of the power law.
create or replace function bench.quiet_mashups(p_mashups int)
returns uuid[] language sql as $$
  select array_agg(md5('bench-mashup-' || (p_mashups - k))::uuid) from generate_series(0, 999) as k
$$;

-- Empty every rollup and the fold state (a backfill from scratch).
create or replace function bench.reset_rollups()
returns void language plpgsql as $$
begin
  truncate public.mashup_daily_stats, public.user_daily_stats, public.mashup_quarter_hour_stats,
    public.mashup_quarter_hour_breakdowns, public.mashup_play_summaries, public.mashup_daily_retention,
    public.mashup_listeners, public.mashup_lifetime_stats, public.creator_quarter_hour_stats,
    public.creator_daily_breakdowns, aggregation.mashup_daily_listeners, aggregation.play_folds,
    aggregation.creator_daily_followers, aggregation.pending_events, aggregation.backfills;
end $$;

-- The COPY baseline: a copy of the STORED raw table (raw_events.analytics_events: the compact
-- columns, its check constraints and its indexes, two BRIN and the partial mashup_created index;
-- one plain table instead of monthly partitions, no foreign key, no id-claim trigger), filled with
-- the physical rows of the same events. This is what storing the events costs; the rollups are
-- judged against it.
create table if not exists bench.copy_target_stored (like raw_events.analytics_events including all);
-- The same, with what every stored event also has (the baseline the targets are read against, since
-- 2026-11-26's third round): a unique id (the stored table keeps it in raw_events' id claims, a btree
-- on the id; the plan's table had it as its primary key) and user_id's foreign key to auth.users.
-- Still without the id-claim trigger (ingest claims a batch's ids in one statement) and without the
-- fold's queue trigger (the queue is the fold's cost, not storage's).
create table if not exists bench.copy_target_kept (
  like raw_events.analytics_events including all,
  primary key (id),
  foreign key (user_id) references auth.users (id) on delete set null
);
-- For reference only: a copy of the VIEW public.analytics_events' columns (a view has no indexes,
-- so this is a bare heap with the plan's wide columns; the baseline before the compact raw table).
create table if not exists bench.copy_target (like public.analytics_events including all);
