-- bench/exactness.sql: every rollup against a recount straight from the raw events.
-- Creates check_rollups.mismatches() in the database it is run against; each row names a rollup
-- and how many rows differ (in either direction) from an independent recount. All zeros = exact.
-- Used after every bench/aggregate run (which fails otherwise) and by tests/upgrade/run.sh.
-- Run it when the queue is empty (after an incremental run): queued events are not counted yet.
-- Not after public.erase_listener (retention or erasure): it deletes raw events and keeps the
-- rollups' counts (docs/raw-storage.md), so a recount from what is left differs by design; nor
-- after retention dropped a month (the rollups keep it, the raw events are gone). On such a
-- database, check_rollups.mismatches(array[users]) compares only those users' rollups (the pgTAP
-- suites pass the users they created).
create schema if not exists check_rollups;

-- user_daily_stats recounted from chk_raw / chk_counted (call check_rollups.mismatches() first in the
-- same transaction: it fills them). Rows only for users that exist.
create or replace function check_rollups.user_daily_recount()
returns table (user_id uuid, date date, mashups_created integer, plays_received integer, followers_gained integer)
language plpgsql
set search_path = ''
as $$
begin
  return query
  with d as (
    select r.user_id, (r."timestamp" at time zone 'UTC')::date as date, 1 as created, 0 as plays, null::text as follower
    from chk_raw r where r.event_type = 'mashup_created' and r.user_id is not null
    union all
    select m.creator_id, (c."timestamp" at time zone 'UTC')::date, 0, 1, null
    from chk_counted c join public.mashups m on m.id = c.mashup_id where c.event_type = 'mashup_played'
    union all
    -- followers_gained: follows in public.follows made that UTC day (the one rule, 20261126055000)
    select f.creator_id, (f.created_at at time zone 'UTC')::date, 0, 0, f.follower_id::text
    from public.follows f
  )
  select d.user_id, d.date, sum(d.created)::int, sum(d.plays)::int, count(distinct d.follower)::int
  from d where exists (select 1 from auth.users u where u.id = d.user_id) group by 1, 2;
end;
$$;

-- The user_daily_stats rows that differ from the recount, with the user's email (test users' emails
-- name the test that made them): what to print when mismatches() reports user_daily_stats. Call
-- after check_rollups.mismatches() in the same transaction. (mashups_created, plays_received,
-- followers_gained); null = no row.
create or replace function check_rollups.user_daily_stats_diff()
returns table (user_id uuid, date date, email text, stored text, recounted text)
language plpgsql
set search_path = ''
as $$
begin
  return query
  with expected as (select * from check_rollups.user_daily_recount()),
  actual as (
    select u.user_id, u.date, u.mashups_created, u.plays_received, u.followers_gained from public.user_daily_stats u
  )
  select coalesce(e.user_id, a.user_id), coalesce(e.date, a.date),
         (select au.email::text from auth.users au where au.id = coalesce(e.user_id, a.user_id)),
         case when a.user_id is null then null
              else format('(%s, %s, %s)', a.mashups_created, a.plays_received, a.followers_gained) end,
         case when e.user_id is null then null
              else format('(%s, %s, %s)', e.mashups_created, e.plays_received, e.followers_gained) end
  from expected e full join actual a on a.user_id = e.user_id and a.date = e.date
  where row(e.mashups_created, e.plays_received, e.followers_gained)
        is distinct from row(a.mashups_created, a.plays_received, a.followers_gained)
  order by 1, 2;
end;
$$;

-- p_creators: compare only these users' rollups (their mashups', their own user and creator rows,
-- the events of their mashups and their own): a test's data on a database that holds other data,
-- which erasures or dropped months may have made differ from a recount by design. Null: everything.
drop function if exists check_rollups.mismatches();
create or replace function check_rollups.mismatches(p_creators uuid[] default null)
returns table (rollup text, mismatched bigint)
language plpgsql
set search_path = ''
as $$
begin
  create temporary table if not exists chk_scope (mashup_id uuid primary key) on commit drop;
  truncate chk_scope;
  insert into chk_scope select m.id from public.mashups m where p_creators is not null and m.creator_id = any (p_creators);
  create temporary table if not exists chk_raw on commit drop as
  select e.id, e.event_type, e."timestamp", e.mashup_id, e.listener_key, e.user_id, e.country, e.device, e.properties
  from public.analytics_events e
  where e.event_type in ('mashup_played', 'mashup_play_progress', 'mashup_play_ended', 'mashup_liked',
                         'mashup_shared', 'comment_posted', 'mashup_exported', 'mashup_created', 'user_followed');
  truncate chk_raw;
  insert into chk_raw
  select e.id, e.event_type, e."timestamp", e.mashup_id, e.listener_key, e.user_id, e.country, e.device, e.properties
  from public.analytics_events e
  where e.event_type in ('mashup_played', 'mashup_play_progress', 'mashup_play_ended', 'mashup_liked',
                         'mashup_shared', 'comment_posted', 'mashup_exported', 'mashup_created', 'user_followed');
  analyze chk_raw;

  create temporary table if not exists chk_counted on commit drop as select * from chk_raw limit 0;
  truncate chk_counted;
  insert into chk_counted
  select r.* from chk_raw r join public.mashups m on m.id = r.mashup_id
  where r.event_type in ('mashup_played', 'mashup_liked', 'mashup_shared', 'comment_posted', 'mashup_exported')
    and (p_creators is null or m.creator_id = any (p_creators));

  create temporary table if not exists chk_plays on commit drop as
  select null::uuid as play_id, null::uuid as mashup_id, null::timestamptz as started_at, null::numeric as furthest,
         null::integer as duration_seconds, null::boolean as ended limit 0;
  truncate chk_plays;
  -- The play events in a table of their own, analysed: as a CTE the planner guessed 10 rows for the
  -- play_id filter and joined the plays to their positions in a nested loop, quadratic in the
  -- events (45 s a check on a development database of 80k events).
  create temporary table if not exists chk_play_events on commit drop as
  select lower(r.properties ->> 'play_id')::uuid as play_id, r.* from chk_raw r limit 0;
  truncate chk_play_events;
  insert into chk_play_events
  select lower(r.properties ->> 'play_id')::uuid as play_id, r.*
  from chk_raw r
  where r.event_type in ('mashup_played', 'mashup_play_progress', 'mashup_play_ended')
    and lower(r.properties ->> 'play_id') ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
  analyze chk_play_events;
  insert into chk_plays
  with ev as (
    select * from chk_play_events
  ),
  first_played as (
    select distinct on (ev.play_id) ev.play_id, ev.mashup_id, ev."timestamp"
    from ev where ev.event_type = 'mashup_played' and ev.mashup_id is not null
    order by ev.play_id, ev."timestamp", ev.id
  ),
  pos as (
    select ev.play_id,
           max(case when jsonb_typeof(ev.properties -> 'position_seconds') = 'number'
                    then (ev.properties ->> 'position_seconds')::numeric end)
             filter (where ev.event_type <> 'mashup_played') as max_pos,
           bool_or(ev.event_type = 'mashup_play_ended') as ended
    from ev group by 1
  )
  select f.play_id, f.mashup_id, f."timestamp", least(greatest(coalesce(p.max_pos, 0), 0), m.duration_seconds),
         m.duration_seconds, p.ended
  from first_played f join pos p on p.play_id = f.play_id join public.mashups m on m.id = f.mashup_id
  -- (a play's summary reads every event of the play, whichever mashup they name: only its own is scoped)
  where p_creators is null or m.creator_id = any (p_creators);

  return query
  with expected as (
    select c.mashup_id, date_bin('15 minutes', c."timestamp", '2000-01-01 00:00+00') as b,
           count(*) filter (where c.event_type = 'mashup_played')::int as plays,
           count(*) filter (where c.event_type = 'mashup_liked')::int as likes,
           count(*) filter (where c.event_type = 'mashup_shared')::int as shares,
           count(*) filter (where c.event_type = 'comment_posted')::int as comments,
           count(*) filter (where c.event_type = 'mashup_exported')::int as downloads
    from chk_counted c group by 1, 2
  ), actual as (
    select q.mashup_id, q.bucket_start, q.plays, q.likes, q.shares, q.comments, q.downloads
    from public.mashup_quarter_hour_stats q where (p_creators is null or q.mashup_id in (select k.mashup_id from chk_scope k))
  )
  select 'mashup_quarter_hour_stats', (select count(*) from ((select * from expected except all select * from actual)
                                       union all (select * from actual except all select * from expected)) x);

  return query
  with expected as (
    select c.mashup_id, date_bin('15 minutes', c."timestamp", '2000-01-01 00:00+00') as b,
           coalesce(nullif(c.properties ->> 'source', ''), 'unknown') as s, coalesce(c.country, 'unknown') as co,
           coalesce(c.device, 'unknown') as d, count(*)::int as plays
    from chk_counted c where c.event_type = 'mashup_played' group by 1, 2, 3, 4, 5
  ), actual as (
    select q.mashup_id, q.bucket_start, q.source, q.country, q.device, q.plays from public.mashup_quarter_hour_breakdowns q
    where (p_creators is null or q.mashup_id in (select k.mashup_id from chk_scope k))
  )
  select 'mashup_quarter_hour_breakdowns', (select count(*) from ((select * from expected except all select * from actual)
                                            union all (select * from actual except all select * from expected)) x);

  return query
  with expected as (
    select c.mashup_id, (c."timestamp" at time zone 'UTC')::date as date,
           count(*) filter (where c.event_type = 'mashup_played')::int as plays,
           count(distinct c.listener_key) filter (where c.event_type = 'mashup_played')::int as unique_plays,
           count(*) filter (where c.event_type = 'mashup_liked')::int as likes,
           count(*) filter (where c.event_type = 'mashup_shared')::int as shares,
           count(*) filter (where c.event_type = 'comment_posted')::int as comments,
           count(*) filter (where c.event_type = 'mashup_exported')::int as downloads
    from chk_counted c group by 1, 2
  ), watch as (
    select p.mashup_id, (p.started_at at time zone 'UTC')::date as date, round(avg(p.furthest), 2) as a
    from chk_plays p group by 1, 2
  ), e2 as (
    select e.*, w.a from expected e left join watch w on w.mashup_id = e.mashup_id and w.date = e.date
  ), actual as (
    select d.mashup_id, d.date, d.plays, d.unique_plays, d.likes, d.shares, d.comments, d.downloads, d.avg_watch_time
    from public.mashup_daily_stats d where (p_creators is null or d.mashup_id in (select k.mashup_id from chk_scope k))
  )
  select 'mashup_daily_stats', (select count(*) from ((select * from e2 except all select * from actual)
                                union all (select * from actual except all select * from e2)) x);

  return query
  with expected as (
    select p.play_id, p.mashup_id, p.started_at, p.furthest, p.duration_seconds,
           p.furthest >= 0.95 * p.duration_seconds as completed, p.ended
    from chk_plays p
  ), actual as (
    select s.play_id, s.mashup_id, s.started_at, s.furthest_position_seconds, s.duration_seconds, s.completed, s.ended
    from public.mashup_play_summaries s where (p_creators is null or s.mashup_id in (select k.mashup_id from chk_scope k))
  )
  select 'mashup_play_summaries', (select count(*) from ((select * from expected except all select * from actual)
                                   union all (select * from actual except all select * from expected)) x);

  return query
  with expected as (
    select p.mashup_id, (p.started_at at time zone 'UTC')::date, (floor(p.furthest / 10) * 10)::int,
           count(*)::int, (count(*) filter (where p.furthest >= 0.95 * p.duration_seconds))::int, sum(p.furthest)
    from chk_plays p group by 1, 2, 3
  ), actual as (
    select r.mashup_id, r.date, r.position_bucket_seconds, r.plays, r.completed_plays, r.watch_time_seconds
    from public.mashup_daily_retention r where (p_creators is null or r.mashup_id in (select k.mashup_id from chk_scope k))
  )
  select 'mashup_daily_retention', (select count(*) from ((select * from expected except all select * from actual)
                                    union all (select * from actual except all select * from expected)) x);

  return query
  with expected as (
    select c.mashup_id, c.listener_key, min(c."timestamp") from chk_counted c
    where c.event_type = 'mashup_played' group by 1, 2
  ), actual as (select l.mashup_id, l.listener_key, l.first_played_at from public.mashup_listeners l
                where (p_creators is null or l.mashup_id in (select k.mashup_id from chk_scope k)))
  select 'mashup_listeners', (select count(*) from ((select * from expected except all select * from actual)
                              union all (select * from actual except all select * from expected)) x);

  return query
  with days as (
    select distinct (c."timestamp" at time zone 'UTC')::date as date, c.mashup_id, c.listener_key,
           (min(c."timestamp") over (partition by c.mashup_id, c.listener_key) at time zone 'UTC')::date as first_day
    from chk_counted c
    where c.event_type = 'mashup_played'
  ), expected as (
    -- The days after each listener's first day (20261126210000): the first day is the lifetime row's.
    select d.date, d.mashup_id, d.listener_key from days d where d.date > d.first_day
  ), actual as (select l.date, l.mashup_id, l.listener_key from aggregation.mashup_daily_listeners l
                where (p_creators is null or l.mashup_id in (select k.mashup_id from chk_scope k)))
  select 'mashup_daily_listeners', (select count(*) from ((select * from expected except all select * from actual)
                                    union all (select * from actual except all select * from expected)) x);

  return query
  with c as (
    select c.mashup_id, count(*) filter (where c.event_type = 'mashup_played') as plays,
           count(distinct c.listener_key) filter (where c.event_type = 'mashup_played') as unique_plays,
           count(*) filter (where c.event_type = 'mashup_liked') as likes,
           count(*) filter (where c.event_type = 'mashup_shared') as shares,
           count(*) filter (where c.event_type = 'comment_posted') as comments,
           count(*) filter (where c.event_type = 'mashup_exported') as downloads
    from chk_counted c group by 1
  ), p as (
    select p.mashup_id, count(*) as tracked, count(*) filter (where p.furthest >= 0.95 * p.duration_seconds) as completed,
           sum(p.furthest) as watch, round(avg(p.furthest), 2) as a
    from chk_plays p group by 1
  ), expected as (
    select coalesce(c.mashup_id, p.mashup_id) as mashup_id, coalesce(c.plays, 0) as plays,
           coalesce(c.unique_plays, 0) as unique_plays, coalesce(c.likes, 0) as likes, coalesce(c.shares, 0) as shares,
           coalesce(c.comments, 0) as comments, coalesce(c.downloads, 0) as downloads,
           coalesce(p.tracked, 0) as tracked, coalesce(p.completed, 0) as completed, coalesce(p.watch, 0) as watch, p.a
    from c full join p on p.mashup_id = c.mashup_id
  ), actual as (
    select l.mashup_id, l.plays, l.unique_plays, l.likes, l.shares, l.comments, l.downloads, l.tracked_plays,
           l.completed_plays, l.watch_time_seconds, l.avg_watch_time
    from public.mashup_lifetime_stats l
    -- rows of mashups with nothing counted may exist with zeros
    where (l.plays <> 0 or l.likes <> 0 or l.shares <> 0 or l.comments <> 0 or l.downloads <> 0 or l.tracked_plays <> 0)
      and (p_creators is null or l.mashup_id in (select k.mashup_id from chk_scope k))
  )
  select 'mashup_lifetime_stats', (select count(*) from ((select * from expected except all select * from actual)
                                   union all (select * from actual except all select * from expected)) x);

  return query
  with expected as (select r.user_id, r.date, r.mashups_created, r.plays_received, r.followers_gained
                    from check_rollups.user_daily_recount() r where (p_creators is null or r.user_id = any (p_creators))),
  actual as (
    select u.user_id, u.date, u.mashups_created, u.plays_received, u.followers_gained from public.user_daily_stats u
    where (p_creators is null or u.user_id = any (p_creators))
  )
  select 'user_daily_stats', (select count(*) from ((select * from expected except all select * from actual)
                              union all (select * from actual except all select * from expected)) x);

  return query
  with expected as (
    select m.creator_id, date_bin('15 minutes', c."timestamp", '2000-01-01 00:00+00') as b,
           count(*) filter (where c.event_type = 'mashup_played')::int as plays,
           count(*) filter (where c.event_type = 'mashup_liked')::int as likes,
           count(*) filter (where c.event_type = 'mashup_shared')::int as shares
    from chk_counted c join public.mashups m on m.id = c.mashup_id
    where c.event_type in ('mashup_played', 'mashup_liked', 'mashup_shared')
      -- The creator rollups hold the UTC days before open_from (later days: no rows at all).
      and c."timestamp" < (select s.open_from::timestamp at time zone 'UTC' from dashboard.creator_rollup_days s)
    group by 1, 2
  ), actual as (select q.creator_id, q.bucket_start, q.plays, q.likes, q.shares from public.creator_quarter_hour_stats q
                where (p_creators is null or q.creator_id = any (p_creators)))
  select 'creator_quarter_hour_stats', (select count(*) from ((select * from expected except all select * from actual)
                                        union all (select * from actual except all select * from expected)) x);

  return query
  with expected as (
    select m.creator_id, (c."timestamp" at time zone 'UTC')::date,
           coalesce(nullif(c.properties ->> 'source', ''), 'unknown'), coalesce(c.country, 'unknown'),
           coalesce(c.device, 'unknown'), count(*)::int
    from chk_counted c join public.mashups m on m.id = c.mashup_id where c.event_type = 'mashup_played'
      and c."timestamp" < (select s.open_from::timestamp at time zone 'UTC' from dashboard.creator_rollup_days s)
    group by 1, 2, 3, 4, 5
  ), actual as (
    select b.creator_id, b.date, b.source, b.country, b.device, b.plays from public.creator_daily_breakdowns b
    where (p_creators is null or b.creator_id = any (p_creators))
  )
  select 'creator_daily_breakdowns', (select count(*) from ((select * from expected except all select * from actual)
                                      union all (select * from actual except all select * from expected)) x);

  return query select 'pending (not yet folded)', count(*) from aggregation.pending_events q
    where (p_creators is null or q.mashup_id in (select k.mashup_id from chk_scope k)) or q.user_id = any (p_creators);
end;
$$;
