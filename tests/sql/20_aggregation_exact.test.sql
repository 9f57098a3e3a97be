-- Aggregation on a fixed fixture: every rollup column equals a count taken straight from the raw
-- events with an independent query; duplicates, anonymous listeners, a late event for a past day,
-- 23:59:59.999 / 00:00:00 UTC, daylight-saving days in local zones, re-runs, a failed run and its
-- catch-up, the pg_cron jobs.
begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
-- The session zone must not matter: every day the functions use is a UTC day.
set local timezone = 'America/Los_Angeles';
select plan(37);

-- Schedule ---------------------------------------------------------------------------------------
select results_eq($$ select schedule, command from cron.job where jobname = 'aggregate-nightly' $$,
  $$ values ('0 2 * * *'::text, 'select aggregation.run_nightly()'::text) $$,
  'the plan''s nightly job runs at 02:00 UTC');
select results_eq($$ select schedule, command from cron.job where jobname = 'aggregate-incremental' $$,
  $$ values ('*/5 * * * *'::text, 'select aggregation.run_incremental()'::text) $$,
  'the incremental job runs every 5 minutes');

-- Fixture ------------------------------------------------------------------------------------------
-- Fixed dates in March 2026: keep them inside the retention horizon and their month's raw partition
-- whatever today's date.
update raw_events.settings set retention_months = 1200;
select raw_events.create_month('2026-03-01');
select tests.create_supabase_user(x) from unnest(array['creator_a', 'creator_b', 'fan1', 'fan2', 'fan3']) as x;
insert into public.mashups (id, creator_id, title, duration_seconds) values
  ('cccccccc-0000-4000-8000-00000000000a', tests.get_supabase_uid('creator_a'), 'A one', 200),
  ('cccccccc-0000-4000-8000-00000000000b', tests.get_supabase_uid('creator_a'), 'A two', 100),
  ('cccccccc-0000-4000-8000-00000000000c', tests.get_supabase_uid('creator_b'), 'B one', 180);

-- 120 plays from 2026-03-07 00:00 UTC every 37m13s (to 2026-03-10), signed-in, anonymous and
-- session-only listeners, each ending differently; then two plays on either side of midnight.
create temporary table fx_plays as
select md5('fx-play-' || i)::uuid as play_id,
       (array['cccccccc-0000-4000-8000-00000000000a', 'cccccccc-0000-4000-8000-00000000000a',
              'cccccccc-0000-4000-8000-00000000000b', 'cccccccc-0000-4000-8000-00000000000c'])[1 + i % 4]::uuid
         as mashup_id,
       '2026-03-07 00:00:00+00'::timestamptz + i * interval '37 minutes 13 seconds' as ts,
       case i % 5 when 0 then tests.get_supabase_uid('fan1') when 1 then tests.get_supabase_uid('fan2') end as user_id,
       case when i % 5 in (2, 3) then 'anon-' || (i % 3) end as anonymous_id,
       'sess-' || (i % 7) as session_id,
       (array['direct', 'twitter', 'instagram', null])[1 + i % 4] as source,
       (array['US', 'DE', null, 'IN', 'US'])[1 + i % 5] as country,
       (array['mobile', 'desktop', null])[1 + i % 3] as device,
       i % 6 as ending
from generate_series(0, 119) as i
union all
select md5('fx-edge-' || n)::uuid, 'cccccccc-0000-4000-8000-00000000000a'::uuid, t, null, 'anon-edge', 'sess-edge',
       'tiktok', 'BR', 'tv', 3
from (values (1, '2026-03-07 23:59:59.999+00'::timestamptz), (2, '2026-03-08 00:00:00+00'),
             (3, '2026-03-07 23:59:50+00')) as v (n, t);

create temporary table fx_events as
-- plays
select md5('ev-played-' || p.play_id)::uuid as id, p.user_id, 'mashup_played' as event_type,
       jsonb_strip_nulls(jsonb_build_object('mashup_id', p.mashup_id, 'play_id', p.play_id,
                                            'source', p.source, 'auto_play', false)) as properties,
       p.ts, p.session_id, p.anonymous_id, p.country, p.device
from fx_plays p
union all
-- progress every 30 s up to how far the play got, then an ending for some
select md5('ev-progress-' || p.play_id || '-' || pos)::uuid, p.user_id, 'mashup_play_progress',
       jsonb_build_object('mashup_id', p.mashup_id, 'play_id', upper(p.play_id::text), 'position_seconds', pos,
                          'duration_seconds', m.duration_seconds),
       p.ts + make_interval(secs => pos), p.session_id, p.anonymous_id, p.country, p.device
from fx_plays p join public.mashups m on m.id = p.mashup_id
cross join lateral generate_series(30, case p.ending when 0 then 0 when 1 then 30 when 2 then 95
  when 3 then m.duration_seconds when 4 then floor(m.duration_seconds * 0.96)::int else 61 end, 30) as pos
union all
select md5('ev-ended-' || p.play_id)::uuid, p.user_id, 'mashup_play_ended',
       jsonb_build_object('mashup_id', p.mashup_id, 'play_id', p.play_id,
         'position_seconds', case p.ending when 2 then 95 when 3 then m.duration_seconds + 5
                                           else floor(m.duration_seconds * 0.96)::int end,
         'duration_seconds', m.duration_seconds),
       p.ts + make_interval(secs => 100), p.session_id, p.anonymous_id, p.country, p.device
from fx_plays p join public.mashups m on m.id = p.mashup_id
where p.ending in (2, 3, 4)
union all
-- reactions 20 s into some plays (an AI reaction too, which no rollup column counts)
select md5('ev-' || k.kind || '-' || p.play_id)::uuid, p.user_id, k.kind,
       jsonb_build_object('mashup_id', p.mashup_id, 'platform', 'twitter', 'format', 'mp3', 'has_media', false,
                          'reaction', 'fire'),
       p.ts + interval '20 seconds', p.session_id, p.anonymous_id, p.country, p.device
from fx_plays p
join (values ('mashup_liked', 3), ('mashup_shared', 5), ('comment_posted', 7), ('mashup_exported', 4),
             ('ai_reaction', 2)) as k (kind, every) on get_byte(decode(md5(p.play_id::text), 'hex'), 0) % k.every = 0
union all
-- creations and follows (a follower twice the same day counts once; one at 23:59:59.999)
select md5('ev-created-a2')::uuid, tests.get_supabase_uid('creator_a'), 'mashup_created',
       jsonb_build_object('mashup_id', 'cccccccc-0000-4000-8000-00000000000b', 'track_count', 3),
       '2026-03-08 10:00:00+00'::timestamptz, 'sess-c', null, 'US', 'desktop'
union all
select md5('ev-follow-' || n)::uuid, tests.get_supabase_uid(f), 'user_followed',
       jsonb_build_object('creator_id', tests.get_supabase_uid(c)), t, 'sess-f' || n, null, 'US', 'mobile'
from (values (1, 'fan1', 'creator_a', '2026-03-08 09:00:00+00'::timestamptz),
             (2, 'fan1', 'creator_a', '2026-03-08 18:00:00+00'),
             (3, 'fan2', 'creator_a', '2026-03-08 23:59:59.999+00'),
             (4, 'fan3', 'creator_b', '2026-03-09 00:00:00+00')) as f (n, f, c, t);

-- Stored the way the track function stores a batch: a retried event id is one event (the raw
-- tables' id claim skips it).
insert into public.analytics_events (id, user_id, event_type, properties, "timestamp", session_id, anonymous_id,
                                     received_at, country, device)
select id, user_id, event_type, properties, ts, session_id, anonymous_id, ts + interval '2 seconds', country, device
from fx_events;
-- The client retries the plays: the same ids again, through public.ingest_events (what the track
-- function calls), with no conflict clause of the test's own, so only the database keeps them single.
create temporary table fx_retry as
select * from public.ingest_events((
  select jsonb_agg(jsonb_build_object('id', id, 'type', event_type, 'properties', properties, 'user_id', user_id,
                                      'session_id', session_id, 'anonymous_id', anonymous_id, 'timestamp', ts,
                                      'country', country, 'device', device))
  from fx_events where event_type = 'mashup_played'));

-- Independent expectations, straight from the raw events -----------------------------------------
create temporary view fx_raw as
select e.* from public.analytics_events e
where e.mashup_id in ('cccccccc-0000-4000-8000-00000000000a', 'cccccccc-0000-4000-8000-00000000000b',
                      'cccccccc-0000-4000-8000-00000000000c');

create temporary view fx_expected_plays as
select lower(e.properties ->> 'play_id')::uuid as play_id, e.mashup_id,
       min(e."timestamp") filter (where e.event_type = 'mashup_played') as started_at,
       least(coalesce(max((e.properties ->> 'position_seconds')::numeric)
                        filter (where e.event_type <> 'mashup_played'), 0), m.duration_seconds) as furthest,
       m.duration_seconds,
       bool_or(e.event_type = 'mashup_play_ended') as ended
from fx_raw e join public.mashups m on m.id = e.mashup_id
where e.event_type in ('mashup_played', 'mashup_play_progress', 'mashup_play_ended')
group by 1, 2, m.duration_seconds;

create temporary view fx_expected_daily as
select c.*,
       (select round(avg(p.furthest), 2) from fx_expected_plays p
        where p.mashup_id = c.mashup_id and (p.started_at at time zone 'UTC')::date = c.date) as avg_watch_time
from (
  select e.mashup_id, (e."timestamp" at time zone 'UTC')::date as date,
         count(*) filter (where e.event_type = 'mashup_played')::int as plays,
         count(distinct e.listener_key) filter (where e.event_type = 'mashup_played')::int as unique_plays,
         count(*) filter (where e.event_type = 'mashup_liked')::int as likes,
         count(*) filter (where e.event_type = 'mashup_shared')::int as shares,
         count(*) filter (where e.event_type = 'comment_posted')::int as comments,
         count(*) filter (where e.event_type = 'mashup_exported')::int as downloads
  from fx_raw e
  where e.event_type in ('mashup_played', 'mashup_liked', 'mashup_shared', 'comment_posted', 'mashup_exported')
  group by 1, 2
) c;

create temporary view fx_actual_daily as
select mashup_id, date, plays, unique_plays, likes, shares, comments, downloads, avg_watch_time
from public.mashup_daily_stats
where mashup_id in (select mashup_id from fx_plays);

-- First incremental run over the fixture's receive window ---------------------------------------
insert into aggregation.watermarks (job, received_through, updated_at) values ('pgtap', '2026-03-01 00:00+00', now());
select aggregation.run_incremental(p_lag => '0', p_max_window => '100 days', p_until => '2026-03-20 00:00+00',
                                   p_job => 'pgtap', p_wait => true);
select results_eq($$ select status, window_end from aggregation.runs where job = 'pgtap' order by id desc limit 1 $$,
  $$ values ('succeeded'::text, '2026-03-20 00:00:00+00'::timestamptz) $$,
  'the incremental run succeeded and logged its window');

select bag_eq('select * from fx_actual_daily', 'select * from fx_expected_daily',
  'mashup_daily_stats: plays, unique_plays (anonymous and session listeners too), likes, shares, comments, downloads, avg_watch_time equal the raw events');

select results_eq($$
  select (select plays from public.mashup_daily_stats where mashup_id = 'cccccccc-0000-4000-8000-00000000000a' and date = '2026-03-07')
       - (select count(*)::int from fx_raw where event_type = 'mashup_played' and mashup_id = 'cccccccc-0000-4000-8000-00000000000a'
          and "timestamp" >= '2026-03-07 00:00:00+00' and "timestamp" <= '2026-03-07 23:59:59.999+00'),
         (select sum(plays)::int from public.mashup_quarter_hour_stats
          where mashup_id = 'cccccccc-0000-4000-8000-00000000000a' and bucket_start = '2026-03-07 23:45:00+00'),
         (select sum(plays)::int from public.mashup_quarter_hour_stats
          where mashup_id = 'cccccccc-0000-4000-8000-00000000000a' and bucket_start = '2026-03-08 00:00:00+00')
$$, $$ values (0,
  (select count(*)::int from fx_raw where event_type = 'mashup_played' and mashup_id = 'cccccccc-0000-4000-8000-00000000000a'
   and "timestamp" >= '2026-03-07 23:45:00+00' and "timestamp" < '2026-03-08 00:00:00+00'),
  (select count(*)::int from fx_raw where event_type = 'mashup_played' and mashup_id = 'cccccccc-0000-4000-8000-00000000000a'
   and "timestamp" >= '2026-03-08 00:00:00+00' and "timestamp" < '2026-03-08 00:15:00+00')) $$,
  '23:59:59.999 UTC belongs to its day and last bucket, 00:00:00 UTC to the next day''s first');

select results_eq($$ select count(*)::int from fx_raw where event_type = 'mashup_played' $$,
  $$ select count(*)::int from fx_plays $$, 'a retried event id is stored once (the duplicate batch added nothing)');
select results_eq($$ select count(*)::int, count(*) filter (where is_new)::int from fx_retry $$,
  $$ select count(*)::int, 0 from fx_plays $$, 'ingest_events reports every retried play as a duplicate');

select bag_eq($$
  select mashup_id, bucket_start, plays, likes, shares, comments, downloads from public.mashup_quarter_hour_stats
  where mashup_id in (select mashup_id from fx_plays) $$, $$
  select mashup_id, date_bin('15 minutes', "timestamp", '2000-01-01 00:00+00') as bucket_start,
         count(*) filter (where event_type = 'mashup_played')::int as plays,
         count(*) filter (where event_type = 'mashup_liked')::int as likes,
         count(*) filter (where event_type = 'mashup_shared')::int as shares,
         count(*) filter (where event_type = 'comment_posted')::int as comments,
         count(*) filter (where event_type = 'mashup_exported')::int as downloads
  from fx_raw where event_type in ('mashup_played', 'mashup_liked', 'mashup_shared', 'comment_posted', 'mashup_exported')
  group by 1, 2 $$, 'mashup_quarter_hour_stats equals the raw counts per 15-minute bucket');

select bag_eq($$
  select mashup_id, bucket_start, source, country, device, plays from public.mashup_quarter_hour_breakdowns
  where mashup_id in (select mashup_id from fx_plays) $$, $$
  select mashup_id, date_bin('15 minutes', "timestamp", '2000-01-01 00:00+00') as bucket_start,
         coalesce(properties ->> 'source', 'unknown') as source, coalesce(country, 'unknown') as country,
         coalesce(device, 'unknown') as device, count(*)::int as plays
  from fx_raw where event_type = 'mashup_played' group by 1, 2, 3, 4, 5 $$,
  'mashup_quarter_hour_breakdowns equals raw plays per source, country and device');

select bag_eq($$
  select play_id, mashup_id, started_at, furthest_position_seconds, duration_seconds, completed, ended
  from public.mashup_play_summaries where mashup_id in (select mashup_id from fx_plays) $$, $$
  select play_id, mashup_id, started_at, furthest, duration_seconds, furthest >= 0.95 * duration_seconds, ended
  from fx_expected_plays $$,
  'mashup_play_summaries: furthest position (upper-case play ids and a play across midnight too), completion at 95%');

select bag_eq($$
  select mashup_id, date, position_bucket_seconds, plays, completed_plays, watch_time_seconds
  from public.mashup_daily_retention where mashup_id in (select mashup_id from fx_plays) $$, $$
  select mashup_id, (started_at at time zone 'UTC')::date as date, (floor(furthest / 10) * 10)::int as bucket,
         count(*)::int as plays, count(*) filter (where furthest >= 0.95 * duration_seconds)::int as completed,
         sum(furthest) as watch
  from fx_expected_plays group by 1, 2, 3 $$,
  'mashup_daily_retention equals the histogram of furthest positions by start day');

select bag_eq($$
  select mashup_id, plays, unique_plays, likes, shares, comments, downloads, tracked_plays, completed_plays,
         watch_time_seconds, avg_watch_time
  from public.mashup_lifetime_stats where mashup_id in (select mashup_id from fx_plays) $$, $$
  select e.mashup_id, count(*) filter (where e.event_type = 'mashup_played') as plays,
         count(distinct e.listener_key) filter (where e.event_type = 'mashup_played') as unique_plays,
         count(*) filter (where e.event_type = 'mashup_liked') as likes,
         count(*) filter (where e.event_type = 'mashup_shared') as shares,
         count(*) filter (where e.event_type = 'comment_posted') as comments,
         count(*) filter (where e.event_type = 'mashup_exported') as downloads,
         p.n, p.completed, p.watch, round(p.watch / p.n, 2) as avg_watch_time
  from fx_raw e
  join (select mashup_id, count(*) as n, count(*) filter (where furthest >= 0.95 * duration_seconds) as completed,
               sum(furthest) as watch from fx_expected_plays group by 1) p on p.mashup_id = e.mashup_id
  group by e.mashup_id, p.n, p.completed, p.watch $$,
  'mashup_lifetime_stats equals the raw events, unique_plays = distinct listeners ever');

select ok((select sum(unique_plays) from public.mashup_daily_stats where mashup_id = 'cccccccc-0000-4000-8000-00000000000a')
          > (select unique_plays from public.mashup_lifetime_stats where mashup_id = 'cccccccc-0000-4000-8000-00000000000a'),
  'lifetime unique_plays is not a sum of daily uniques (the fixture has repeat listeners across days)');

select bag_eq($$
  select user_id, date, mashups_created, plays_received, followers_gained from public.user_daily_stats
  where user_id in (tests.get_supabase_uid('creator_a'), tests.get_supabase_uid('creator_b')) $$, $$
  with d as (
    select m.creator_id as user_id, (e."timestamp" at time zone 'UTC')::date as date,
           0 as created, count(*) as plays, null::text as follower
    from fx_raw e join public.mashups m on m.id = e.mashup_id
    where e.event_type = 'mashup_played' group by 1, 2
    union all
    select e.user_id, (e."timestamp" at time zone 'UTC')::date, 1, 0, null
    from public.analytics_events e where e.event_type = 'mashup_created'
      and e.user_id in (tests.get_supabase_uid('creator_a'), tests.get_supabase_uid('creator_b'))
    union all
    select (e.properties ->> 'creator_id')::uuid, (e."timestamp" at time zone 'UTC')::date, 0, 0, e.listener_key
    from public.analytics_events e where e.event_type = 'user_followed'
      and e.properties ->> 'creator_id' in (tests.get_supabase_uid('creator_a')::text, tests.get_supabase_uid('creator_b')::text)
  )
  select user_id, date, sum(created)::int as created, sum(plays)::int as plays,
         count(distinct follower)::int as followers from d group by 1, 2 $$,
  'user_daily_stats: mashups_created, plays_received, followers_gained (distinct followers) equal the raw events');

-- Local days and hours in other zones, across daylight-saving changes -----------------------------
select bag_eq($$
  select (bucket_start at time zone 'America/New_York')::date, sum(plays)::int as plays, sum(likes)::int as likes
  from public.mashup_quarter_hour_stats where mashup_id in (select mashup_id from fx_plays) group by 1 $$, $$
  select ("timestamp" at time zone 'America/New_York')::date, count(*) filter (where event_type = 'mashup_played')::int as plays,
         count(*) filter (where event_type = 'mashup_liked')::int as likes
  from fx_raw where event_type in ('mashup_played', 'mashup_liked') group by 1 $$,
  'America/New_York local days (2026-03-08 has 23 hours) summed from buckets equal raw counts by local day');
select bag_eq($$
  select extract(hour from bucket_start at time zone 'America/New_York')::int, sum(plays)::int
  from public.mashup_quarter_hour_stats
  where mashup_id in (select mashup_id from fx_plays) and plays > 0 group by 1 $$, $$
  select extract(hour from "timestamp" at time zone 'America/New_York')::int, count(*)::int
  from fx_raw where event_type = 'mashup_played' group by 1 $$,
  'America/New_York plays by local hour (peak times) from buckets equal the raw counts');
select bag_eq($$
  select (bucket_start at time zone 'Europe/Berlin')::date, sum(plays)::int from public.mashup_quarter_hour_stats
  where mashup_id in (select mashup_id from fx_plays) group by 1 $$, $$
  select ("timestamp" at time zone 'Europe/Berlin')::date, count(*)::int from fx_raw
  where event_type = 'mashup_played' group by 1 $$,
  'Europe/Berlin local days summed from buckets equal raw counts');
select bag_eq($$
  select (bucket_start at time zone 'Asia/Kolkata')::date, sum(plays)::int from public.mashup_quarter_hour_stats
  where mashup_id in (select mashup_id from fx_plays) group by 1 $$, $$
  select ("timestamp" at time zone 'Asia/Kolkata')::date, count(*)::int from fx_raw
  where event_type = 'mashup_played' group by 1 $$,
  'Asia/Kolkata (UTC+05:30) local days are exact too: buckets are 15 minutes');

-- A late event for a past day ---------------------------------------------------------------------
insert into public.analytics_events (id, user_id, event_type, properties, "timestamp", session_id, anonymous_id,
                                     received_at, country, device)
values ('dddddddd-0000-4000-8000-000000000001', null, 'mashup_played',
        '{"mashup_id": "cccccccc-0000-4000-8000-00000000000a", "play_id": "dddddddd-0000-4000-8000-0000000000f1", "source": "direct"}',
        '2026-03-07 12:00:00+00', 'sess-late', 'anon-late', '2026-03-25 08:00:00+00', 'FR', 'mobile'),
       ('dddddddd-0000-4000-8000-000000000002', null, 'mashup_play_ended',
        '{"mashup_id": "cccccccc-0000-4000-8000-00000000000a", "play_id": "dddddddd-0000-4000-8000-0000000000f1", "position_seconds": 200}',
        '2026-03-07 12:03:20+00', 'sess-late', 'anon-late', '2026-03-25 08:00:00+00', 'FR', 'mobile');
create temporary table fx_before_late as select * from fx_actual_daily;
select aggregation.run_incremental(p_lag => '0', p_max_window => '100 days', p_until => '2026-04-01 00:00+00',
                                   p_job => 'pgtap', p_wait => true);
select results_eq($$
  select a.plays - b.plays, a.unique_plays - b.unique_plays from fx_actual_daily a join fx_before_late b using (mashup_id, date)
  where mashup_id = 'cccccccc-0000-4000-8000-00000000000a' and date = '2026-03-07' $$,
  $$ values (1, 1) $$, 'a late event received 18 days later recomputes its past day (one more play and listener)');
select bag_eq('select * from fx_actual_daily', 'select * from fx_expected_daily',
  'after the late event every daily column still equals the raw events');

-- Re-runs give identical rows ---------------------------------------------------------------------
create temporary table fx_snapshot as
select 'daily' as t, to_jsonb(d) as r from public.mashup_daily_stats d where d.mashup_id in (select mashup_id from fx_plays)
union all select 'user', to_jsonb(u) from public.user_daily_stats u
  where u.user_id in (tests.get_supabase_uid('creator_a'), tests.get_supabase_uid('creator_b'))
union all select 'qh', to_jsonb(q) from public.mashup_quarter_hour_stats q where q.mashup_id in (select mashup_id from fx_plays)
union all select 'bd', to_jsonb(b) from public.mashup_quarter_hour_breakdowns b where b.mashup_id in (select mashup_id from fx_plays)
union all select 'ps', to_jsonb(p) from public.mashup_play_summaries p where p.mashup_id in (select mashup_id from fx_plays)
union all select 'rt', to_jsonb(r) from public.mashup_daily_retention r where r.mashup_id in (select mashup_id from fx_plays)
union all select 'ls', to_jsonb(l) from public.mashup_listeners l where l.mashup_id in (select mashup_id from fx_plays)
union all select 'lt', to_jsonb(l) from public.mashup_lifetime_stats l where l.mashup_id in (select mashup_id from fx_plays);
select public.aggregate_mashup_stats(d::date), public.aggregate_user_stats(d::date)
from generate_series('2026-03-06'::date, '2026-03-10'::date, '1 day') as d;
select aggregation.run_nightly('2026-03-08');
update aggregation.watermarks set received_through = '2026-03-01 00:00+00' where job = 'pgtap';
select aggregation.run_incremental(p_lag => '0', p_max_window => '100 days', p_until => '2026-04-01 00:00+00',
                                   p_job => 'pgtap', p_wait => true);
select bag_eq($$
  select 'daily' as t, to_jsonb(d) as r from public.mashup_daily_stats d where d.mashup_id in (select mashup_id from fx_plays)
  union all select 'user', to_jsonb(u) from public.user_daily_stats u
    where u.user_id in (tests.get_supabase_uid('creator_a'), tests.get_supabase_uid('creator_b'))
  union all select 'qh', to_jsonb(q) from public.mashup_quarter_hour_stats q where q.mashup_id in (select mashup_id from fx_plays)
  union all select 'bd', to_jsonb(b) from public.mashup_quarter_hour_breakdowns b where b.mashup_id in (select mashup_id from fx_plays)
  union all select 'ps', to_jsonb(p) from public.mashup_play_summaries p where p.mashup_id in (select mashup_id from fx_plays)
  union all select 'rt', to_jsonb(r) from public.mashup_daily_retention r where r.mashup_id in (select mashup_id from fx_plays)
  union all select 'ls', to_jsonb(l) from public.mashup_listeners l where l.mashup_id in (select mashup_id from fx_plays)
  union all select 'lt', to_jsonb(l) from public.mashup_lifetime_stats l where l.mashup_id in (select mashup_id from fx_plays)
$$, 'select t, r from fx_snapshot',
  're-running the day functions, the nightly job and the incremental job from scratch gives identical rows (ids too)');
select results_eq($$ select status, window_start from aggregation.runs where job = 'nightly' order by id desc limit 1 $$,
  $$ values ('succeeded'::text, '2026-03-08 00:00:00+00'::timestamptz) $$, 'the nightly run is logged with its day');

-- A failed run is visible, and the next run catches up ---------------------------------------------
-- A constraint that refuses the row this run must write stands in for any failure.
alter table public.mashup_daily_stats add constraint pgtap_break_aggregation
  check (mashup_id <> 'cccccccc-0000-4000-8000-00000000000c' or date <> '2026-04-05') not valid;
insert into public.analytics_events (id, event_type, properties, "timestamp", session_id, received_at)
values ('dddddddd-0000-4000-8000-000000000003', 'mashup_liked', '{"mashup_id": "cccccccc-0000-4000-8000-00000000000c"}',
        '2026-04-05 10:00:00+00', 'sess-fail', '2026-04-05 10:00:01+00');
create temporary table fx_wm as select received_through from aggregation.watermarks where job = 'pgtap';
select aggregation.run_incremental(p_lag => '0', p_max_window => '100 days', p_until => '2026-04-10 00:00+00',
                                   p_job => 'pgtap', p_wait => true);
select results_eq($$ select status, error like '%pgtap_break_aggregation%' from aggregation.runs
                    where job = 'pgtap' order by id desc limit 1 $$,
  $$ values ('failed'::text, true) $$, 'a failed run is logged with its error');
select results_eq($$ select received_through from aggregation.watermarks where job = 'pgtap' $$,
  $$ select received_through from fx_wm $$, 'a failed run leaves the watermark where it was');
alter table public.mashup_daily_stats drop constraint pgtap_break_aggregation;
select aggregation.run_incremental(p_lag => '0', p_max_window => '100 days', p_until => '2026-04-10 00:00+00',
                                   p_job => 'pgtap', p_wait => true);
select results_eq($$
  select (select status from aggregation.runs where job = 'pgtap' order by id desc limit 1),
         (select likes from public.mashup_daily_stats where mashup_id = 'cccccccc-0000-4000-8000-00000000000c' and date = '2026-04-05') $$,
  $$ values ('succeeded'::text, 1) $$, 'the next run catches up on what the failed run missed');

-- Row-level security on every rollup -------------------------------------------------------------------
select tests.authenticate_as('creator_a');
select results_eq($$
  select t, bool_and(mashup_id in ('cccccccc-0000-4000-8000-00000000000a', 'cccccccc-0000-4000-8000-00000000000b')), count(*) > 0
  from (select 'daily' as t, mashup_id from public.mashup_daily_stats
        union all select 'qh', mashup_id from public.mashup_quarter_hour_stats
        union all select 'bd', mashup_id from public.mashup_quarter_hour_breakdowns
        union all select 'ps', mashup_id from public.mashup_play_summaries
        union all select 'rt', mashup_id from public.mashup_daily_retention
        union all select 'lt', mashup_id from public.mashup_lifetime_stats) x
  group by t order by t $$,
  $$ values ('bd', true, true), ('daily', true, true), ('lt', true, true), ('ps', true, true), ('qh', true, true), ('rt', true, true) $$,
  'a creator reads the rows of their own mashups only, in every per-mashup rollup');
select results_eq($$ select count(*) > 0, bool_and(user_id = tests.get_supabase_uid('creator_a')) from public.user_daily_stats $$,
  $$ values (true, true) $$, 'a creator reads only their own user_daily_stats');
select throws_ok('select count(*) from public.mashup_listeners', '42501', null,
  'a creator cannot read who listened (mashup_listeners)');

select tests.authenticate_as_anon();
select results_eq($$
  select (select count(*) from public.mashup_daily_stats) + (select count(*) from public.user_daily_stats)
       + (select count(*) from public.mashup_quarter_hour_stats) + (select count(*) from public.mashup_quarter_hour_breakdowns)
       + (select count(*) from public.mashup_play_summaries) + (select count(*) from public.mashup_daily_retention)
       + (select count(*) from public.mashup_lifetime_stats) $$,
  $$ values (0::bigint) $$, 'anon reads nothing from any rollup');

-- Analyst views: the analyst role only -----------------------------------------------------------------
select tests.clear_authentication();
select count(*)::int as raw_plays_0308 from public.analytics_events where event_type = 'mashup_played'
  and "timestamp" >= '2026-03-08 00:00:00+00' and "timestamp" < '2026-03-09 00:00:00+00' \gset
set local role analyst;
select plays::int as analyst_plays_0308 from analytics.daily_platform_totals where date = '2026-03-08' \gset
reset role;
select is(:analyst_plays_0308, :raw_plays_0308,
  'an analyst reads daily platform totals, equal to the raw plays of the day');
-- The views' contents, against the raw events (docs/aggregation.md "Analyst views").
select public.refresh_materialized_views();
create temporary table fx_analyst_expected as
select
  (select count(*) from public.analytics_events where event_type = 'mashup_liked'
    and "timestamp" >= '2026-03-08 00:00:00+00' and "timestamp" < '2026-03-09 00:00:00+00') as likes_0308,
  (select count(distinct mashup_id) from public.analytics_events where event_type = 'mashup_played'
    and "timestamp" >= '2026-03-08 00:00:00+00' and "timestamp" < '2026-03-09 00:00:00+00') as mashups_played_0308,
  (select count(*) from public.analytics_events e where event_type = 'mashup_played'
    and e.mashup_id = 'cccccccc-0000-4000-8000-00000000000a') as lifetime_plays_a,
  (select count(*) from public.analytics_events e join public.mashups m on m.id = e.mashup_id
    where e.event_type = 'mashup_played' and m.creator_id = tests.get_supabase_uid('creator_a')) as creator_a_plays,
  (select count(*) from public.mashups where creator_id = tests.get_supabase_uid('creator_a')) as creator_a_mashups;
create temporary table fx_source_expected as
select coalesce(properties ->> 'source', 'unknown') as source, count(*) as plays  -- no source: 'unknown'
from public.analytics_events where event_type = 'mashup_played'
  and "timestamp" >= '2026-03-08 00:00:00+00' and "timestamp" < '2026-03-09 00:00:00+00'
group by 1;
-- What the analyst role reads (pgTAP's functions are not the analyst's: read first, compare after).
set local role analyst;
create temporary table fx_analyst_day as
  select likes::bigint, mashups_played::bigint from analytics.daily_platform_totals where date = '2026-03-08';
create temporary table fx_analyst_sources as
  select source, plays::bigint, share_percent from analytics.source_mix where date = '2026-03-08';
create temporary table fx_analyst_top as
  select plays::bigint from analytics.top_mashups where mashup_id = 'cccccccc-0000-4000-8000-00000000000a';
create temporary table fx_analyst_creators as
  select creator_id, mashups::bigint, plays::bigint from analytics.creator_leaderboard;
reset role;
select results_eq($$ select likes, mashups_played from fx_analyst_day $$,
  $$ select likes_0308, mashups_played_0308 from fx_analyst_expected $$,
  'daily_platform_totals: likes and mashups played of the day equal the raw events');
select set_eq($$ select source, plays from fx_analyst_sources $$,
  $$ select source, plays from fx_source_expected $$, 'source_mix: plays per source of the day equal the raw events');
select results_eq($$ select round(sum(share_percent)) from fx_analyst_sources $$,
  $$ values (100::numeric) $$, 'source_mix: the shares of a day add up to 100%');
select results_eq($$ select plays from fx_analyst_top $$,
  $$ select lifetime_plays_a from fx_analyst_expected $$, 'top_mashups: lifetime plays equal the raw events');
select results_eq($$ select mashups, plays from fx_analyst_creators where creator_id = tests.get_supabase_uid('creator_a') $$,
  $$ select creator_a_mashups, creator_a_plays from fx_analyst_expected $$,
  'creator_leaderboard: mashups and lifetime plays equal the raw events');

select tests.authenticate_as('creator_a');
select throws_ok('select * from analytics.daily_platform_totals', '42501', null,
  'a creator cannot read the analyst views');
select tests.authenticate_as_service_role();
select throws_ok('select * from analytics.top_mashups', '42501', null,
  'neither can the service role (analysts only)');

select * from finish();
rollback;
