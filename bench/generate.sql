-- bench/generate.sql: SQL half of bench/generate (the bash half loops over days and prints progress).
-- Creates schema bench in the benchmark database with bench.generate_day(), which writes one day
-- of realistic raw events straight into public.analytics_events with generate_series.
create schema if not exists bench;

-- Users, creators and mashups the events refer to (deterministic ids, so days can be generated
-- independently). Popularity is a power law over mashup numbers: number 1 is the biggest hit.
create or replace function bench.setup(p_mashups int, p_creators int, p_fans int)
returns void language plpgsql set search_path = '' as $$
begin
  insert into auth.users (id, aud, role, email, created_at)
  select md5('bench-creator-' || i)::uuid, 'authenticated', 'authenticated', 'creator' || i || '@bench.local', now()
  from generate_series(0, p_creators - 1) i
  on conflict do nothing;
  insert into auth.users (id, aud, role, email, created_at)
  select md5('bench-fan-' || i)::uuid, 'authenticated', 'authenticated', 'fan' || i || '@bench.local', now()
  from generate_series(0, p_fans - 1) i
  on conflict do nothing;
  insert into public.mashups (id, creator_id, title, duration_seconds, created_at)
  select md5('bench-mashup-' || i)::uuid, md5('bench-creator-' || (i % p_creators))::uuid, 'Bench mashup ' || i,
         120 + (i * 37) % 180, now() - interval '400 days'
  from generate_series(1, p_mashups) i
  on conflict do nothing;
end $$;

-- One UTC day: p_plays plays, each with its progress heartbeats (30 s), an ending for most,
-- reactions, plus follows and creations. 1% of plays arrive late (1-72 h after they happened),
-- 0.5% of plays are sent twice (a retried batch; the primary key keeps one).
create or replace function bench.generate_day(p_day date, p_plays int, p_mashups int, p_creators int, p_fans int)
returns jsonb language plpgsql set search_path = '' as $$
declare
  v_inserted bigint;
  v_dupes bigint;
  v_t0 timestamptz := p_day::timestamp at time zone 'UTC';
begin
  create temporary table if not exists bench_plays (
    play_id uuid, mashup_id uuid, duration int, ts timestamptz, received_at timestamptz, user_id uuid,
    anonymous_id text, session_id text, source text, country text, device text, furthest int, ended boolean,
    r double precision) on commit drop;
  truncate bench_plays;
  insert into bench_plays
  select extensions.gen_random_uuid(), md5('bench-mashup-' || m)::uuid, 120 + (m * 37) % 180, ts,
         least(now(), case when random() < 0.01 then ts + make_interval(secs => 3600 + random() * 71 * 3600)
                           else ts + make_interval(secs => random() * 5) end),
         case when who < 0.55 then md5('bench-fan-' || floor(p_fans * power(random(), 2))::int)::uuid end,
         case when who >= 0.55 then 'anon-' || floor(random() * p_fans * 3)::int end,
         'sess-' || floor(random() * 1e9)::bigint,
         case when src < 0.50 then 'direct' when src < 0.70 then 'twitter' when src < 0.83 then 'instagram'
              when src < 0.93 then 'tiktok' else 'youtube' end,
         case when geo < 0.35 then 'US' when geo < 0.47 then 'GB' when geo < 0.57 then 'DE'
              when geo < 0.67 then 'BR' when geo < 0.77 then 'IN' when geo < 0.84 then 'FR'
              when geo < 0.90 then 'CA' when geo < 0.95 then 'JP' when geo < 0.98 then 'MX' end,
         case when dev < 0.60 then 'mobile' when dev < 0.90 then 'desktop' when dev < 0.97 then 'tablet' else 'tv' end,
         case when fin < 0.55 then 120 + (m * 37) % 180 else floor((120 + (m * 37) % 180) * (fin - 0.55) / 0.45)::int end,
         fin < 0.9, random()
  from (
    select least(p_mashups, 1 + floor(p_mashups * power(random(), 3))::int) as m,
           v_t0 + make_interval(hours => (((20 + (random() + random() + random() - 1.5) * 9)::int % 24) + 24) % 24,
                                secs => random() * 3599.999) as ts,
           random() as who, random() as src, random() as geo, random() as dev, random() as fin
    from generate_series(1, p_plays)
  ) g;

  with ev as (
    select user_id, 'mashup_played' as event_type,
           jsonb_build_object('mashup_id', mashup_id, 'play_id', play_id, 'source', source, 'auto_play', r < 0.2) as properties,
           ts, session_id, anonymous_id, received_at, country, device
    from bench_plays
    union all
    select user_id, 'mashup_play_progress',
           jsonb_build_object('mashup_id', mashup_id, 'play_id', play_id, 'position_seconds', pos, 'duration_seconds', duration),
           ts + make_interval(secs => pos), session_id, anonymous_id, received_at + make_interval(secs => pos), country, device
    from bench_plays cross join lateral generate_series(30, furthest, 30) as pos
    union all
    select user_id, 'mashup_play_ended',
           jsonb_build_object('mashup_id', mashup_id, 'play_id', play_id, 'position_seconds', furthest, 'duration_seconds', duration),
           ts + make_interval(secs => furthest), session_id, anonymous_id, received_at + make_interval(secs => furthest),
           country, device
    from bench_plays where ended
    union all
    select user_id, k.kind, jsonb_build_object('mashup_id', mashup_id, 'platform', 'twitter', 'format', 'mp3'),
           ts + interval '20 seconds', session_id, anonymous_id, received_at + interval '20 seconds', country, device
    from bench_plays
    join (values ('mashup_liked', 0.0, 0.10), ('mashup_shared', 0.10, 0.13), ('comment_posted', 0.13, 0.15),
                 ('mashup_exported', 0.15, 0.16), ('ai_reaction', 0.16, 0.19)) as k (kind, lo, hi)
      on r >= k.lo and r < k.hi
  )
  insert into public.analytics_events (user_id, event_type, properties, "timestamp", session_id, anonymous_id,
                                       received_at, country, device)
  select user_id, event_type, properties, ts, session_id, anonymous_id, least(received_at, now()), country, device
  from ev;
  get diagnostics v_inserted = row_count;

  -- Follows (one per ~200 plays) and a few creations.
  insert into public.analytics_events (user_id, event_type, properties, "timestamp", session_id, received_at, country, device)
  select md5('bench-fan-' || floor(random() * p_fans)::int)::uuid, 'user_followed',
         jsonb_build_object('creator_id', md5('bench-creator-' || floor(p_creators * power(random(), 2))::int)::uuid),
         t, 'sess-f', t, 'US', 'mobile'
  from (select v_t0 + make_interval(secs => random() * 86399) as t from generate_series(1, greatest(1, p_plays / 200))) f;
  insert into public.analytics_events (user_id, event_type, properties, "timestamp", session_id, received_at)
  select md5('bench-creator-' || floor(random() * p_creators)::int)::uuid, 'mashup_created',
         jsonb_build_object('mashup_id', extensions.gen_random_uuid(), 'track_count', 3), t, 'sess-c', t
  from (select v_t0 + make_interval(secs => random() * 86399) as t from generate_series(1, greatest(1, p_plays / 2000))) c;

  -- A retried batch: 0.5% of the day's play events sent again with the same ids.
  with again as (
    select e.*
    from raw_events.analytics_events e
    where e."timestamp" >= v_t0 and e."timestamp" < v_t0 + interval '1 day' and random() < 0.005
      and e.event_code = raw_events.event_code('mashup_played')
  ), ins as (
    -- The stored rows again, straight into the physical table: the id claim (analytics_event_ids)
    -- skips an id already stored, in any month.
    insert into raw_events.analytics_events select * from again returning 1
  )
  select (select count(*) from again) - (select count(*) from ins) into v_dupes;

  return jsonb_build_object('day', p_day, 'plays', p_plays, 'events', v_inserted, 'duplicates_rejected', v_dupes);
end $$;
