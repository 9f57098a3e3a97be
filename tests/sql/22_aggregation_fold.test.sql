-- Folding what arrived, at scale and out of order: a hot mashup with tens of thousands of events in
-- one UTC day and one 15-minute bucket, late events into that busy bucket, a duplicate event id
-- arriving in a later run, a day rebuild over events still queued, the creator rollups the dashboard
-- reads, and runs that read only what arrived. After each step every rollup row of the fixture's
-- mashups and creators is compared with an independent recount from the raw events.
begin;
\ir _helpers.psql
set search_path = public, extensions, tests;
set local timezone = 'Asia/Kolkata';
select plan(32);

select tests.create_supabase_user(x) from unnest(array['hot_creator', 'quiet_creator', 'follower_1']) as x;
insert into public.mashups (id, creator_id, title, duration_seconds) values
  ('eeeeeeee-0000-4000-8000-000000000001', tests.get_supabase_uid('hot_creator'), 'Fold hot', 200),
  ('eeeeeeee-0000-4000-8000-000000000002', tests.get_supabase_uid('hot_creator'), 'Fold side', 150),
  ('eeeeeeee-0000-4000-8000-000000000003', tests.get_supabase_uid('quiet_creator'), 'Fold quiet', 100);

-- Independent recount of every rollup of the fixture, straight from the raw events ---------------
create function tests.fold_mismatches()
returns table (rollup text, mismatched bigint)
language plpgsql
as $$
begin
  create temporary table if not exists fold_raw on commit drop as select * from public.analytics_events limit 0;
  truncate fold_raw;
  insert into fold_raw select e.* from public.analytics_events e
  where e.mashup_id in (select id from public.mashups where title like 'Fold %')
     or (e.event_type = 'user_followed' and e.properties ->> 'creator_id' in
         (select creator_id::text from public.mashups where title like 'Fold %'));
  create temporary table if not exists fold_plays on commit drop as
  select null::uuid as play_id, null::uuid as mashup_id, null::timestamptz as started_at, null::numeric as furthest,
         null::int as duration_seconds, null::boolean as ended limit 0;
  truncate fold_plays;
  insert into fold_plays
  with ev as (select lower(r.properties ->> 'play_id')::uuid as pid, r.* from fold_raw r
              where r.event_type in ('mashup_played', 'mashup_play_progress', 'mashup_play_ended')),
  f as (select distinct on (pid) pid, mashup_id, "timestamp" from ev where event_type = 'mashup_played'
        order by pid, "timestamp", id),
  p as (select pid, max((properties ->> 'position_seconds')::numeric) filter (where event_type <> 'mashup_played') as mx,
               bool_or(event_type = 'mashup_play_ended') as ended from ev group by pid)
  select f.pid, f.mashup_id, f."timestamp", least(greatest(coalesce(p.mx, 0), 0), m.duration_seconds),
         m.duration_seconds, p.ended
  from f join p on p.pid = f.pid join public.mashups m on m.id = f.mashup_id;

  return query with e as (
    select mashup_id, date_bin('15 minutes', "timestamp", '2000-01-01 00:00+00'),
           count(*) filter (where event_type = 'mashup_played')::int, count(*) filter (where event_type = 'mashup_liked')::int,
           count(*) filter (where event_type = 'mashup_shared')::int, count(*) filter (where event_type = 'comment_posted')::int,
           count(*) filter (where event_type = 'mashup_exported')::int
    from fold_raw where event_type in ('mashup_played', 'mashup_liked', 'mashup_shared', 'comment_posted', 'mashup_exported')
    group by 1, 2),
  a as (select mashup_id, bucket_start, plays, likes, shares, comments, downloads from public.mashup_quarter_hour_stats
        where mashup_id in (select id from public.mashups where title like 'Fold %'))
  select 'quarter-hour stats', (select count(*) from ((select * from e except all select * from a)
                                union all (select * from a except all select * from e)) x);

  return query with e as (
    select mashup_id, date_bin('15 minutes', "timestamp", '2000-01-01 00:00+00'),
           coalesce(properties ->> 'source', 'unknown'), coalesce(country, 'unknown'), coalesce(device, 'unknown'),
           count(*)::int
    from fold_raw where event_type = 'mashup_played' group by 1, 2, 3, 4, 5),
  a as (select mashup_id, bucket_start, source, country, device, plays from public.mashup_quarter_hour_breakdowns
        where mashup_id in (select id from public.mashups where title like 'Fold %'))
  select 'breakdowns', (select count(*) from ((select * from e except all select * from a)
                        union all (select * from a except all select * from e)) x);

  return query with c as (
    select mashup_id, ("timestamp" at time zone 'UTC')::date as date,
           count(*) filter (where event_type = 'mashup_played')::int as plays,
           count(distinct listener_key) filter (where event_type = 'mashup_played')::int as u,
           count(*) filter (where event_type = 'mashup_liked')::int as likes,
           count(*) filter (where event_type = 'mashup_shared')::int as shares,
           count(*) filter (where event_type = 'comment_posted')::int as comments,
           count(*) filter (where event_type = 'mashup_exported')::int as downloads
    from fold_raw where event_type in ('mashup_played', 'mashup_liked', 'mashup_shared', 'comment_posted', 'mashup_exported')
    group by 1, 2),
  e as (select c.*, (select round(avg(p.furthest), 2) from fold_plays p
                     where p.mashup_id = c.mashup_id and (p.started_at at time zone 'UTC')::date = c.date) from c),
  a as (select mashup_id, date, plays, unique_plays, likes, shares, comments, downloads, avg_watch_time
        from public.mashup_daily_stats where mashup_id in (select id from public.mashups where title like 'Fold %'))
  select 'daily stats', (select count(*) from ((select * from e except all select * from a)
                         union all (select * from a except all select * from e)) x);

  return query with e as (
    select play_id, mashup_id, started_at, furthest, duration_seconds, furthest >= 0.95 * duration_seconds, ended
    from fold_plays),
  a as (select play_id, mashup_id, started_at, furthest_position_seconds, duration_seconds, completed, ended
        from public.mashup_play_summaries where mashup_id in (select id from public.mashups where title like 'Fold %'))
  select 'play summaries', (select count(*) from ((select * from e except all select * from a)
                            union all (select * from a except all select * from e)) x);

  return query with e as (
    select mashup_id, (started_at at time zone 'UTC')::date, (floor(furthest / 10) * 10)::int, count(*)::int,
           (count(*) filter (where furthest >= 0.95 * duration_seconds))::int, sum(furthest)
    from fold_plays group by 1, 2, 3),
  a as (select mashup_id, date, position_bucket_seconds, plays, completed_plays, watch_time_seconds
        from public.mashup_daily_retention where mashup_id in (select id from public.mashups where title like 'Fold %'))
  select 'retention', (select count(*) from ((select * from e except all select * from a)
                       union all (select * from a except all select * from e)) x);

  return query with e as (
    select mashup_id, listener_key, min("timestamp") from fold_raw where event_type = 'mashup_played' group by 1, 2),
  a as (select mashup_id, listener_key, first_played_at from public.mashup_listeners
        where mashup_id in (select id from public.mashups where title like 'Fold %'))
  select 'lifetime listeners', (select count(*) from ((select * from e except all select * from a)
                                union all (select * from a except all select * from e)) x);

  return query with c as (
    select mashup_id, count(*) filter (where event_type = 'mashup_played') as plays,
           count(distinct listener_key) filter (where event_type = 'mashup_played') as u,
           count(*) filter (where event_type = 'mashup_liked') as likes,
           count(*) filter (where event_type = 'mashup_shared') as shares,
           count(*) filter (where event_type = 'comment_posted') as comments,
           count(*) filter (where event_type = 'mashup_exported') as downloads
    from fold_raw where mashup_id is not null group by 1),
  p as (select mashup_id, count(*) as n, count(*) filter (where furthest >= 0.95 * duration_seconds) as done,
               sum(furthest) as w from fold_plays group by 1),
  e as (select c.*, coalesce(p.n, 0), coalesce(p.done, 0), coalesce(p.w, 0), round(p.w / p.n, 2)
        from c left join p using (mashup_id)),
  a as (select mashup_id, plays, unique_plays, likes, shares, comments, downloads, tracked_plays, completed_plays,
               watch_time_seconds, avg_watch_time
        from public.mashup_lifetime_stats where mashup_id in (select id from public.mashups where title like 'Fold %'))
  select 'lifetime stats', (select count(*) from ((select * from e except all select * from a)
                            union all (select * from a except all select * from e)) x);

  return query with e as (
    select m.creator_id, date_bin('15 minutes', r."timestamp", '2000-01-01 00:00+00'),
           count(*) filter (where r.event_type = 'mashup_played')::int, count(*) filter (where r.event_type = 'mashup_liked')::int,
           count(*) filter (where r.event_type = 'mashup_shared')::int
    from fold_raw r join public.mashups m on m.id = r.mashup_id
    where r.event_type in ('mashup_played', 'mashup_liked', 'mashup_shared') group by 1, 2),
  a as (select creator_id, bucket_start, plays, likes, shares from public.creator_quarter_hour_stats
        where creator_id in (select creator_id from public.mashups where title like 'Fold %'))
  select 'creator quarter-hour stats', (select count(*) from ((select * from e except all select * from a)
                                        union all (select * from a except all select * from e)) x);

  return query with e as (
    select m.creator_id, (r."timestamp" at time zone 'UTC')::date, coalesce(r.properties ->> 'source', 'unknown'),
           coalesce(r.country, 'unknown'), coalesce(r.device, 'unknown'), count(*)::int
    from fold_raw r join public.mashups m on m.id = r.mashup_id where r.event_type = 'mashup_played'
    group by 1, 2, 3, 4, 5),
  a as (select creator_id, date, source, country, device, plays from public.creator_daily_breakdowns
        where creator_id in (select creator_id from public.mashups where title like 'Fold %'))
  select 'creator daily breakdowns', (select count(*) from ((select * from e except all select * from a)
                                      union all (select * from a except all select * from e)) x);

  return query with d as (
    select m.creator_id as user_id, (r."timestamp" at time zone 'UTC')::date as date, 1 as plays, null::text as f
    from fold_raw r join public.mashups m on m.id = r.mashup_id where r.event_type = 'mashup_played'
    union all
    select (r.properties ->> 'creator_id')::uuid, (r."timestamp" at time zone 'UTC')::date, 0, r.listener_key
    from fold_raw r where r.event_type = 'user_followed'),
  e as (select user_id, date, 0, sum(plays)::int, count(distinct f)::int from d group by 1, 2),
  a as (select user_id, date, mashups_created, plays_received, followers_gained from public.user_daily_stats
        where user_id in (select creator_id from public.mashups where title like 'Fold %'))
  select 'user daily stats', (select count(*) from ((select * from e except all select * from a)
                              union all (select * from a except all select * from e)) x);
end;
$$;

-- Plays: p_n plays of a mashup at random instants in [p_from, p_from + p_span), from p_listeners
-- listeners (a third signed in, a third anonymous, a third session-only), each with a heartbeat,
-- most with an ending; p_received is when they arrive. Returns the events stored.
create function tests.fold_plays(p_mashup uuid, p_n int, p_from timestamptz, p_span interval, p_listeners int,
                                 p_received timestamptz, p_seed text)
returns bigint
language plpgsql
as $$
declare n bigint;
begin
  with p as (
    select md5(p_seed || '-play-' || i)::uuid as play_id,
           p_from + (get_byte(decode(md5(p_seed || i), 'hex'), 0) * 256 + get_byte(decode(md5(p_seed || i), 'hex'), 1))
                    * p_span / 65536 as ts,
           (i * 7919) % p_listeners as who, i
    from generate_series(1, p_n) as i
  ), ev as (
    select md5(p_seed || '-played-' || p.i)::uuid as id, p.play_id, p.ts, p.who, 'mashup_played' as t, null::int as pos, p.i
    from p
    union all
    select md5(p_seed || '-hb-' || p.i)::uuid, p.play_id, p.ts + interval '30 seconds', p.who, 'mashup_play_progress',
           30 + (p.i % 5) * 40, p.i from p
    union all
    select md5(p_seed || '-end-' || p.i)::uuid, p.play_id, p.ts + interval '90 seconds', p.who, 'mashup_play_ended',
           60 + (p.i % 7) * 25, p.i from p where p.i % 4 <> 0
  )
  insert into public.analytics_events (id, user_id, event_type, properties, "timestamp", session_id, anonymous_id,
                                       received_at, country, device)
  select ev.id, case when ev.who % 3 = 0 then md5('fold-fan-' || ev.who)::uuid end, ev.t,
         jsonb_strip_nulls(jsonb_build_object('mashup_id', p_mashup, 'play_id', ev.play_id, 'position_seconds', ev.pos,
           'source', (array['direct', 'twitter', null])[1 + ev.i % 3])),
         ev.ts, 'sess-' || ev.who, case when ev.who % 3 = 1 then 'anon-' || ev.who end, p_received,
         (array['US', 'IN', null])[1 + ev.i % 3], (array['mobile', 'desktop'])[1 + ev.i % 2]
  from ev;
  get diagnostics n = row_count;
  return n;
end;
$$;
-- The fans behind signed-in listeners.
insert into auth.users (id, aud, role, email, created_at)
select md5('fold-fan-' || i)::uuid, 'authenticated', 'authenticated', 'fold-fan-' || i || '@test.local', now()
from generate_series(0, 15000, 3) as i;

-- A hot mashup: 25,000 plays (~64k events) in one bucket of one day, 12,000 listeners -----------------
select tests.fold_plays('eeeeeeee-0000-4000-8000-000000000001', 25000, '2026-05-01 12:00+00', '15 minutes', 12000,
                        '2026-05-01 12:20+00', 'hot');
-- A quiet day for the other two mashups, likes and a follow.
select tests.fold_plays('eeeeeeee-0000-4000-8000-000000000002', 40, '2026-05-01 00:00+00', '1 day', 30,
                        '2026-05-02 00:05+00', 'side');
select tests.fold_plays('eeeeeeee-0000-4000-8000-000000000003', 10, '2026-04-30 23:00+00', '2 hours', 10,
                        '2026-05-01 01:05+00', 'quiet');
insert into public.analytics_events (id, user_id, event_type, properties, "timestamp", session_id, received_at)
select md5('fold-like-' || i)::uuid, null, 'mashup_liked', '{"mashup_id": "eeeeeeee-0000-4000-8000-000000000001"}',
       '2026-05-01 12:00+00'::timestamptz + i * interval '1 second', 'sess-like-' || i, '2026-05-01 12:20+00'::timestamptz
from generate_series(1, 300) as i
union all
select md5('fold-follow-' || i)::uuid, tests.get_supabase_uid('follower_1'), 'user_followed',
       jsonb_build_object('creator_id', tests.get_supabase_uid('hot_creator')), '2026-05-01 13:00+00'::timestamptz + i * interval '1 hour',
       'sess-f', '2026-05-01 20:00+00'
from generate_series(1, 2) as i;

select ok(not aggregation.is_final('2026-05-02 00:00+00'), 'is_final: false while the day''s events are queued');
select aggregation.run_incremental(p_lag => '0', p_until => '2026-05-03 00:00+00', p_max_window => '100 days', p_job => 'pgtap-fold', p_wait => true);
select results_eq($$ select status, events_read from aggregation.runs where job = 'pgtap-fold' order by id desc limit 1 $$,
  $$ select 'succeeded'::text, (select count(*) from public.analytics_events
                                where mashup_id in (select id from public.mashups where title like 'Fold %')
                                   or event_type = 'user_followed' and user_id = tests.get_supabase_uid('follower_1')) $$,
  'the run folded exactly the events that arrived');
select ok(aggregation.is_final('2026-05-02 00:00+00'), 'is_final: true once they are folded');
select is_empty('select * from tests.fold_mismatches() where mismatched <> 0',
  'hot mashup (25,000 plays in one bucket): every rollup row equals the raw recount');
select results_eq($$ select plays, unique_plays from public.mashup_daily_stats
                    where mashup_id = 'eeeeeeee-0000-4000-8000-000000000001' and date = '2026-05-01' $$,
  $$ values (25000, 12000) $$, 'the hot day: 25,000 plays from exactly 12,000 distinct listeners');
select results_eq($$ select followers_gained from public.user_daily_stats
                    where user_id = tests.get_supabase_uid('hot_creator') and date = '2026-05-01' $$,
  $$ values (1) $$, 'the same follower twice in a day gains one follower');

-- Late events into the busy bucket: repeat listeners, new listeners, heartbeats of old plays -----
select tests.fold_plays('eeeeeeee-0000-4000-8000-000000000001', 1000, '2026-05-01 12:00+00', '15 minutes', 12500,
                        '2026-05-02 09:00+00', 'late');
insert into public.analytics_events (id, event_type, properties, "timestamp", session_id, anonymous_id, received_at)
select md5('extra-hb-' || i)::uuid, 'mashup_play_progress',
       jsonb_build_object('mashup_id', 'eeeeeeee-0000-4000-8000-000000000001', 'play_id', md5('hot-play-' || i)::uuid,
                          'position_seconds', 199),
       '2026-05-01 12:14:00+00', 'sess-x', null, '2026-05-02 09:00+00'
from generate_series(1, 2000) as i;
create temporary table fold_before_late as
select plays, unique_plays from public.mashup_daily_stats
where mashup_id = 'eeeeeeee-0000-4000-8000-000000000001' and date = '2026-05-01';
select aggregation.run_incremental(p_lag => '0', p_until => '2026-05-03 00:00+00', p_max_window => '100 days', p_job => 'pgtap-fold', p_wait => true);
select results_eq($$ select events_read from aggregation.runs where job = 'pgtap-fold' order by id desc limit 1 $$,
  $$ values (4750::bigint) $$, 'the late run read the 4,750 late events, not the busy day''s 64,000');
select is_empty('select * from tests.fold_mismatches() where mismatched <> 0',
  'late events into the busy bucket: every rollup row still equals the raw recount');
select results_eq($$ select d.plays - b.plays, d.unique_plays - b.unique_plays
                    from public.mashup_daily_stats d, fold_before_late b
                    where d.mashup_id = 'eeeeeeee-0000-4000-8000-000000000001' and d.date = '2026-05-01' $$,
  $$ select 1000, (select count(distinct listener_key)::int from public.analytics_events
                   where mashup_id = 'eeeeeeee-0000-4000-8000-000000000001' and event_type = 'mashup_played')
                  - 12000 $$,
  'late plays add their plays, and only their listeners not seen that day');
select results_eq($$ select count(*)::int from public.mashup_play_summaries
                    where play_id in (select md5('hot-play-' || i)::uuid from generate_series(1, 2000) as i)
                      and furthest_position_seconds >= 199 $$,
  $$ values (2000) $$, 'a late heartbeat moves its play''s furthest position (2,000 old plays reached 199 s)');

-- A duplicate event id arriving in a later run changes nothing ------------------------------------
create temporary table fold_snapshot as
select 'daily' as t, to_jsonb(d) as r from public.mashup_daily_stats d where d.mashup_id in (select id from public.mashups where title like 'Fold %')
union all select 'qh', to_jsonb(q) from public.mashup_quarter_hour_stats q where q.mashup_id in (select id from public.mashups where title like 'Fold %')
union all select 'cq', to_jsonb(q) from public.creator_quarter_hour_stats q where q.creator_id in (select creator_id from public.mashups where title like 'Fold %')
union all select 'lt', to_jsonb(l) from public.mashup_lifetime_stats l where l.mashup_id in (select id from public.mashups where title like 'Fold %')
union all select 'rt', to_jsonb(r) from public.mashup_daily_retention r where r.mashup_id in (select id from public.mashups where title like 'Fold %')
union all select 'ud', to_jsonb(u) from public.user_daily_stats u where u.user_id in (select creator_id from public.mashups where title like 'Fold %');
select tests.authenticate_as_service_role();
select results_eq($$
  select count(*) filter (where is_new)::int, count(*)::int from public.ingest_events(jsonb_build_array(
    jsonb_build_object('id', md5('hot-played-7'), 'type', 'mashup_played', 'timestamp', '2026-05-01 12:03:00+00',
                       'session_id', 'sess-retry', 'properties', jsonb_build_object('mashup_id', 'eeeeeeee-0000-4000-8000-000000000001',
                       'play_id', md5('hot-play-7'))),
    jsonb_build_object('id', md5('extra-hb-9'), 'type', 'mashup_play_progress', 'timestamp', '2026-05-01 12:14:00+00',
                       'session_id', 'sess-retry', 'properties', jsonb_build_object('mashup_id', 'eeeeeeee-0000-4000-8000-000000000001',
                       'play_id', md5('hot-play-9'), 'position_seconds', 5)))) $$,
  $$ values (0, 2) $$, 'ingest: two retried ids, already stored and folded, are not stored again');
select tests.clear_authentication();
select aggregation.run_incremental(p_lag => '0', p_max_window => '100 days', p_job => 'pgtap-fold', p_wait => true);
select bag_eq($$
  select 'daily' as t, to_jsonb(d) as r from public.mashup_daily_stats d where d.mashup_id in (select id from public.mashups where title like 'Fold %')
  union all select 'qh', to_jsonb(q) from public.mashup_quarter_hour_stats q where q.mashup_id in (select id from public.mashups where title like 'Fold %')
  union all select 'cq', to_jsonb(q) from public.creator_quarter_hour_stats q where q.creator_id in (select creator_id from public.mashups where title like 'Fold %')
  union all select 'lt', to_jsonb(l) from public.mashup_lifetime_stats l where l.mashup_id in (select id from public.mashups where title like 'Fold %')
  union all select 'rt', to_jsonb(r) from public.mashup_daily_retention r where r.mashup_id in (select id from public.mashups where title like 'Fold %')
  union all select 'ud', to_jsonb(u) from public.user_daily_stats u where u.user_id in (select creator_id from public.mashups where title like 'Fold %')
$$, 'select t, r from fold_snapshot', 'a duplicate id sent in a later run changes no rollup row');

-- Reading every event twice: recounting the folded days from raw events changes nothing ----------
select aggregation.mashup_day(d::date), aggregation.user_day(d::date)
from generate_series('2026-04-30'::date, '2026-05-02'::date, '1 day') as d;
select public.aggregate_mashup_stats(d::date), public.aggregate_user_stats(d::date)
from generate_series('2026-04-30'::date, '2026-05-02'::date, '1 day') as d;
select bag_eq($$
  select 'daily' as t, to_jsonb(d) as r from public.mashup_daily_stats d where d.mashup_id in (select id from public.mashups where title like 'Fold %')
  union all select 'qh', to_jsonb(q) from public.mashup_quarter_hour_stats q where q.mashup_id in (select id from public.mashups where title like 'Fold %')
  union all select 'cq', to_jsonb(q) from public.creator_quarter_hour_stats q where q.creator_id in (select creator_id from public.mashups where title like 'Fold %')
  union all select 'lt', to_jsonb(l) from public.mashup_lifetime_stats l where l.mashup_id in (select id from public.mashups where title like 'Fold %')
  union all select 'rt', to_jsonb(r) from public.mashup_daily_retention r where r.mashup_id in (select id from public.mashups where title like 'Fold %')
  union all select 'ud', to_jsonb(u) from public.user_daily_stats u where u.user_id in (select creator_id from public.mashups where title like 'Fold %')
$$, 'select t, r from fold_snapshot', 're-reading the folded days (day recounts, the plan''s day functions) changes no row (ids too)');

-- A day recount (backfill) while events of that day are still queued: each event is counted once ----
select tests.fold_plays('eeeeeeee-0000-4000-8000-000000000001', 500, '2026-05-01 12:05+00', '5 minutes', 13000,
                        '2026-05-03 10:00+00', 'queued');
select tests.fold_plays('eeeeeeee-0000-4000-8000-000000000003', 20, '2026-05-02 10:00+00', '1 hour', 20,
                        '2026-05-03 10:00+00', 'queued-other-day');
select aggregation.mashup_day('2026-05-01');
select results_eq($$ select count(*)::int from aggregation.pending_events
                    where mashup_id in (select id from public.mashups where title like 'Fold %') $$,
  $$ select count(*)::int from public.analytics_events where mashup_id = 'eeeeeeee-0000-4000-8000-000000000003'
            and received_at = '2026-05-03 10:00+00' $$,
  'the recount of 2026-05-01 took that day''s queued events and left the other day''s queued');
select public.aggregate_mashup_stats('2026-05-02');
select is_empty($$ select 1 from aggregation.pending_events where mashup_id in (select id from public.mashups where title like 'Fold %') $$,
  'the plan''s aggregate_mashup_stats(2026-05-02) folds that day''s queued events');
select aggregation.run_incremental(p_lag => '0', p_max_window => '100 days', p_job => 'pgtap-fold', p_wait => true);
select is_empty('select * from tests.fold_mismatches() where mismatched <> 0',
  'after the rebuild and the next run, every rollup row equals the raw recount (nothing counted twice)');

-- The runs' cost follows what arrived: a 1,100-event run on the hot mashup reads 1,100 events ------
select tests.fold_plays('eeeeeeee-0000-4000-8000-000000000001', 400, '2026-05-01 12:10+00', '1 minute', 14000,
                        '2026-05-03 11:00+00', 'small') as small_events \gset
select aggregation.run_incremental(p_lag => '0', p_max_window => '100 days', p_job => 'pgtap-fold', p_wait => true);
select results_eq($$ select events_read, mashup_days from aggregation.runs where job = 'pgtap-fold' order by id desc limit 1 $$,
  format('values (%s::bigint, 1)', :small_events), 'a run with 1,100 new events of the hot mashup reads those and one mashup day');
select is_empty('select * from tests.fold_mismatches() where mismatched <> 0', 'still exact');

-- The dashboard reads creator rollups: they are the sums of the mashup rollups -----------------------
select results_eq($$
  select count(*)::int from (
    select m.creator_id, q.bucket_start, sum(q.plays)::int as plays, sum(q.likes)::int as likes, sum(q.shares)::int as shares
    from public.mashup_quarter_hour_stats q join public.mashups m on m.id = q.mashup_id
    -- The creator rollups hold the UTC days before open_from (20261127000100); later days are read
    -- from the mashups' buckets.
    where q.bucket_start < (select s.open_from::timestamp at time zone 'UTC' from dashboard.creator_rollup_days s)
    group by 1, 2 having sum(q.plays) + sum(q.likes) + sum(q.shares) > 0
    except
    select creator_id, bucket_start, plays, likes, shares from public.creator_quarter_hour_stats) x $$,
  $$ values (0) $$, 'creator_quarter_hour_stats equals the mashup buckets summed per creator, on every closed day');
select results_eq($$
  select (public.get_creator_dashboard('2026-05-01', '2026-05-02', 'Asia/Kolkata') -> 'summary' ->> 'totalPlays')::int $$,
  $$ select count(*)::int from public.analytics_events where event_type = 'mashup_played'
       and "timestamp" >= '2026-05-01 00:00+05:30' and "timestamp" < '2026-05-02 00:00+05:30' $$,
  'a local day in +05:30 (crossing a UTC midnight) totals the raw plays of that local day');
create temporary table fold_expected_top as
select count(*) filter (where event_type = 'mashup_played')::int as plays,
       count(*) filter (where event_type = 'mashup_liked')::int as likes
from public.analytics_events e
where e.mashup_id in ('eeeeeeee-0000-4000-8000-000000000001', 'eeeeeeee-0000-4000-8000-000000000002')
  and "timestamp" >= '2026-04-30 00:00+05:30' and "timestamp" < '2026-05-03 00:00+05:30'
group by mashup_id;
create temporary table fold_expected_sources as
select coalesce(properties ->> 'source', 'unknown') as source, count(*)::int as n from public.analytics_events e
where e.mashup_id in ('eeeeeeee-0000-4000-8000-000000000001', 'eeeeeeee-0000-4000-8000-000000000002')
  and event_type = 'mashup_played'
  and "timestamp" >= '2026-04-30 00:00+05:30' and "timestamp" < '2026-05-03 00:00+05:30'
group by 1;
grant select on fold_expected_top, fold_expected_sources to authenticated;
select tests.authenticate_as('hot_creator');
select results_eq($$
  select (x ->> 'plays')::int, (x ->> 'likes')::int
  from jsonb_array_elements(public.get_creator_dashboard('2026-04-30', '2026-05-03', 'Asia/Kolkata') -> 'topContent') x
  order by (x ->> 'plays')::int desc $$,
  $$ select plays, likes from fold_expected_top order by 1 desc $$,
  'topContent per mashup (whole UTC days plus edge buckets) equals the raw counts of the local period');
select results_eq($$
  select x ->> 'source', (x ->> 'count')::int
  from jsonb_array_elements(public.get_creator_dashboard('2026-04-30', '2026-05-03', 'Asia/Kolkata') -> 'sources') x $$,
  $$ select source, n from fold_expected_sources order by 2 desc, 1 $$,
  'sources (whole UTC days from creator day rows plus edge buckets) equal the raw counts');
select tests.authenticate_as('quiet_creator');
select results_eq($$ select (public.get_creator_dashboard('2026-04-30', '2026-05-03') -> 'summary' ->> 'totalPlays')::int $$,
  $$ values (30) $$, 'another creator reads only their own creator rollups');
select tests.authenticate_as_anon();
select results_eq($$ select (select count(*) from public.creator_quarter_hour_stats) + (select count(*) from public.creator_daily_breakdowns) $$,
  $$ values (0::bigint) $$, 'anon reads no creator rollup');
select tests.clear_authentication();

-- Retention dropped a day's raw events (issue 11): a recount of that day keeps its rollups ---------
create temporary table fold_before_drop as
select plays, unique_plays from public.mashup_lifetime_stats where mashup_id = 'eeeeeeee-0000-4000-8000-000000000003';
delete from public.analytics_events where "timestamp" >= '2026-04-30 00:00+00' and "timestamp" < '2026-05-01 00:00+00';
select aggregation.mashup_day('2026-04-30');
select results_eq($$ select plays, unique_plays from public.mashup_lifetime_stats where mashup_id = 'eeeeeeee-0000-4000-8000-000000000003' $$,
  'select * from fold_before_drop', 'a day without raw events left is not zeroed: lifetime numbers stay');
select ok(exists (select 1 from public.mashup_daily_stats where mashup_id = 'eeeeeeee-0000-4000-8000-000000000003' and date = '2026-04-30'),
  'and its daily row stays');
-- The same day inside a range (a backfill's chunk): the range is rebuilt day by day, that day alone left
-- as it is, and the days around it, exact already, come out the same.
create temporary table fold_range_before as
select mashup_id, date, plays, unique_plays, likes, shares, comments, downloads, avg_watch_time
from public.mashup_daily_stats where date >= '2026-04-28' and date < '2026-05-03';
select aggregation.mashup_days('2026-04-28', '2026-05-03'), aggregation.user_days('2026-04-28', '2026-05-03');
select results_eq($$ select plays, unique_plays from public.mashup_lifetime_stats where mashup_id = 'eeeeeeee-0000-4000-8000-000000000003' $$,
  'select * from fold_before_drop', 'a range holding that day does not zero it either');
select set_eq($$ select mashup_id, date, plays, unique_plays, likes, shares, comments, downloads, avg_watch_time
                 from public.mashup_daily_stats where date >= '2026-04-28' and date < '2026-05-03' $$,
  'select * from fold_range_before', 'and every daily row of the range is what it was');

-- A failed run leaves what it took in the queue -------------------------------------------------------
alter table public.mashup_daily_stats add constraint pgtap_break_fold check (date <> '2026-05-09') not valid;
select tests.fold_plays('eeeeeeee-0000-4000-8000-000000000002', 3, '2026-05-09 10:00+00', '1 hour', 3, '2026-05-09 11:00+00', 'fail');
select aggregation.run_incremental(p_lag => '0', p_max_window => '100 days', p_job => 'pgtap-fold', p_wait => true);
select results_eq($$ select status from aggregation.runs where job = 'pgtap-fold' order by id desc limit 1 $$,
  $$ values ('failed'::text) $$, 'the run fails');
-- (This mashup's events only: a database the integration tests ran on holds other events of that day.)
select results_eq($$ select count(*)::int from aggregation.pending_events
                     where mashup_id = 'eeeeeeee-0000-4000-8000-000000000002' and "timestamp" >= '2026-05-09' and "timestamp" < '2026-05-10' $$,
  $$ select count(*)::int from public.analytics_events
     where mashup_id = 'eeeeeeee-0000-4000-8000-000000000002' and "timestamp" >= '2026-05-09' and "timestamp" < '2026-05-10' $$,
  'its events are still queued (the DELETE was rolled back with it)');
alter table public.mashup_daily_stats drop constraint pgtap_break_fold;
select aggregation.run_incremental(p_lag => '0', p_max_window => '100 days', p_job => 'pgtap-fold', p_wait => true);
select results_eq($$ select plays from public.mashup_daily_stats where mashup_id = 'eeeeeeee-0000-4000-8000-000000000002' and date = '2026-05-09' $$,
  $$ values (3) $$, 'the next run folds them once');

-- Who may touch the fold's state -------------------------------------------------------------------
select tests.authenticate_as('hot_creator');
select throws_ok('select count(*) from aggregation.pending_events', '42501', null, 'a creator cannot read the queue');
select tests.clear_authentication();

select * from finish();
rollback;
