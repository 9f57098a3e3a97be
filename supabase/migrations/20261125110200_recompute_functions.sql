-- The recompute functions every job is built from. Each takes a set of keys and recomputes the
-- rollup rows of exactly those keys from the raw events: it upserts what the events say now,
-- deletes rows of those keys the events no longer support, and leaves every other row alone.
-- Because a key is always recomputed whole, reading the same events twice (job overlap, re-runs,
-- a late event) can never double-count, and re-running any job gives identical rows.
--
--   recompute_plays(play_ids)              -> mashup_play_summaries
--   recompute_mashup_days(mashups, days)   -> mashup_daily_stats, mashup_quarter_hour_stats,
--                                             mashup_quarter_hour_breakdowns, mashup_daily_retention
--                                             (retention/avg_watch_time read mashup_play_summaries:
--                                             recompute plays first)
--   recompute_user_days(users, days)       -> user_daily_stats (plays_received reads
--                                             mashup_daily_stats: recompute mashup days first)
--   recompute_lifetime(mashups)            -> mashup_lifetime_stats (reads the daily rollups and
--                                             mashup_listeners)
--
-- Days are UTC days: [d 00:00 UTC, d+1 00:00 UTC), half-open, whatever the session's TimeZone.
-- All of them run under one transaction-level advisory lock (aggregation.lock()), so two jobs
-- never interleave and a job never writes numbers computed from an older snapshot over newer ones.

-- Who counts what (the contract's event catalog) -------------------------------------------------
-- mashup_played -> plays, unique_plays (distinct listener_key), sources/countries/devices
-- mashup_liked -> likes; mashup_shared -> shares; comment_posted -> comments;
-- mashup_exported -> downloads; mashup_play_progress/_ended -> furthest position of a play;
-- mashup_created -> user_daily_stats.mashups_created (by user_id);
-- user_followed -> user_daily_stats.followers_gained (by properties.creator_id, distinct followers).

-- Serialises all aggregation writers (jobs, backfills, direct calls) for the transaction.
create function aggregation.lock(wait boolean default true)
returns boolean
language plpgsql
security invoker
set search_path = ''
as $$
begin
  if wait then
    perform pg_catalog.pg_advisory_xact_lock(7348201945);
    return true;
  end if;
  return pg_catalog.pg_try_advisory_xact_lock(7348201945);
end;
$$;
comment on function aggregation.lock(boolean) is
  'Transaction-level advisory lock shared by every aggregation writer; wait=false tries once.';

-- UTC day <-> timestamptz, independent of the session TimeZone.
create function aggregation.day_start(day date)
returns timestamptz
language sql
immutable
set search_path = ''
as $$ select day::timestamp at time zone 'UTC' $$;

create function aggregation.utc_day(ts timestamptz)
returns date
language sql
immutable
set search_path = ''
as $$ select (ts at time zone 'UTC')::date $$;

-- A play_id as stored in properties, lower-cased, when it is a uuid; else null.
create function aggregation.play_id_text(properties jsonb)
returns text
language sql
immutable
set search_path = ''
as $$
  select case
    when lower(properties ->> 'play_id') ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
    then lower(properties ->> 'play_id')
  end
$$;

-- Index for followers_gained of one creator and day.
create index idx_analytics_events_followed_creator
  on public.analytics_events (lower(properties ->> 'creator_id'), "timestamp")
  where event_type = 'user_followed';

-- Per-play summaries --------------------------------------------------------------------------------
create function aggregation.recompute_plays(play_ids uuid[])
returns bigint
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_keys text[];
  v_rows bigint;
begin
  select coalesce(array_agg(distinct x::text), '{}') into v_keys from unnest(play_ids) as x where x is not null;
  if cardinality(v_keys) = 0 then
    return 0;
  end if;

  with ev as (
    select lower(e.properties ->> 'play_id') as pid, e.event_type, e.mashup_id, e."timestamp", e.id,
           case when jsonb_typeof(e.properties -> 'position_seconds') = 'number'
                then (e.properties ->> 'position_seconds')::numeric end as pos
    from public.analytics_events e
    where e.event_type in ('mashup_played', 'mashup_play_progress', 'mashup_play_ended')
      and lower(e.properties ->> 'play_id') = any (v_keys)
  ),
  p as (
    select ev.pid,
           (array_agg(ev.mashup_id order by ev."timestamp", ev.id)
              filter (where ev.event_type = 'mashup_played' and ev.mashup_id is not null))[1] as mashup_id,
           min(ev."timestamp") filter (where ev.event_type = 'mashup_played' and ev.mashup_id is not null)
             as started_at,
           max(ev.pos) filter (where ev.event_type <> 'mashup_played') as max_pos,
           bool_or(ev.event_type = 'mashup_play_ended') as ended
    from ev
    group by ev.pid
  ),
  computed as (
    select p.pid::uuid as play_id, p.mashup_id, p.started_at,
           least(greatest(coalesce(p.max_pos, 0), 0), m.duration_seconds) as furthest,
           m.duration_seconds, p.ended
    from p
    join public.mashups m on m.id = p.mashup_id
  ),
  up as (
    insert into public.mashup_play_summaries as t
      (play_id, mashup_id, started_at, furthest_position_seconds, duration_seconds, completed, ended)
    select c.play_id, c.mashup_id, c.started_at, c.furthest, c.duration_seconds,
           c.furthest >= 0.95 * c.duration_seconds, c.ended
    from computed c
    on conflict (play_id) do update set
      mashup_id = excluded.mashup_id, started_at = excluded.started_at,
      furthest_position_seconds = excluded.furthest_position_seconds,
      duration_seconds = excluded.duration_seconds, completed = excluded.completed, ended = excluded.ended
    where (t.mashup_id, t.started_at, t.furthest_position_seconds, t.duration_seconds, t.completed, t.ended)
      is distinct from (excluded.mashup_id, excluded.started_at, excluded.furthest_position_seconds,
                        excluded.duration_seconds, excluded.completed, excluded.ended)
    returning 1
  ),
  del as (
    delete from public.mashup_play_summaries t
    where t.play_id::text = any (v_keys)
      and not exists (select 1 from computed c where c.play_id = t.play_id)
    returning 1
  )
  select (select count(*) from up) + (select count(*) from del) into v_rows;
  return v_rows;
end;
$$;
comment on function aggregation.recompute_plays(uuid[]) is
  'Recomputes mashup_play_summaries for these play ids from their raw play events.';

-- Mashup days: daily stats, quarter-hour stats, breakdowns, retention ----------------------------
create function aggregation.recompute_mashup_days(mashup_ids uuid[], days date[])
returns bigint
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_m uuid[];
  v_d date[];
  v_rows bigint := 0;
  v_n bigint;
begin
  -- Distinct keys of mashups that exist (rollups reference mashups).
  select coalesce(array_agg(k.mashup_id), '{}'), coalesce(array_agg(k.day), '{}')
  into v_m, v_d
  from (
    select distinct u.mashup_id, u.day
    from unnest(mashup_ids, days) as u (mashup_id, day)
    where u.mashup_id is not null and u.day is not null
      and exists (select 1 from public.mashups m where m.id = u.mashup_id)
  ) k;
  if cardinality(v_m) = 0 then
    return 0;
  end if;

  -- mashup_daily_stats: the plan's columns, every one from the raw events of the UTC day.
  with k as (
    select u.mashup_id, u.day, aggregation.day_start(u.day) as t0, aggregation.day_start(u.day + 1) as t1
    from unnest(v_m, v_d) as u (mashup_id, day)
  ),
  counted as (
    select k.mashup_id, k.day,
           count(*) filter (where e.event_type = 'mashup_played')::integer as plays,
           count(distinct e.listener_key) filter (where e.event_type = 'mashup_played')::integer as unique_plays,
           count(*) filter (where e.event_type = 'mashup_liked')::integer as likes,
           count(*) filter (where e.event_type = 'mashup_shared')::integer as shares,
           count(*) filter (where e.event_type = 'comment_posted')::integer as comments,
           count(*) filter (where e.event_type = 'mashup_exported')::integer as downloads
    from k
    join public.analytics_events e
      on e.mashup_id = k.mashup_id and e.mashup_id is not null
     and e."timestamp" >= k.t0 and e."timestamp" < k.t1
     and e.event_type in ('mashup_played', 'mashup_liked', 'mashup_shared', 'comment_posted', 'mashup_exported')
    group by k.mashup_id, k.day
  ),
  computed as (
    select c.*,
           (select round(avg(s.furthest_position_seconds), 2)
            from public.mashup_play_summaries s
            where s.mashup_id = c.mashup_id
              and s.started_at >= aggregation.day_start(c.day) and s.started_at < aggregation.day_start(c.day + 1))
             as avg_watch_time
    from counted c
  ),
  up as (
    insert into public.mashup_daily_stats as t
      (mashup_id, date, plays, unique_plays, likes, shares, comments, downloads, avg_watch_time)
    select c.mashup_id, c.day, c.plays, c.unique_plays, c.likes, c.shares, c.comments, c.downloads,
           c.avg_watch_time
    from computed c
    on conflict (mashup_id, date) do update set
      plays = excluded.plays, unique_plays = excluded.unique_plays, likes = excluded.likes,
      shares = excluded.shares, comments = excluded.comments, downloads = excluded.downloads,
      avg_watch_time = excluded.avg_watch_time
    where (t.plays, t.unique_plays, t.likes, t.shares, t.comments, t.downloads, t.avg_watch_time)
      is distinct from (excluded.plays, excluded.unique_plays, excluded.likes, excluded.shares,
                        excluded.comments, excluded.downloads, excluded.avg_watch_time)
    returning 1
  ),
  del as (
    delete from public.mashup_daily_stats t
    using k
    where t.mashup_id = k.mashup_id and t.date = k.day
      and not exists (select 1 from computed c where c.mashup_id = t.mashup_id and c.day = t.date)
    returning 1
  )
  select (select count(*) from up) + (select count(*) from del) into v_n;
  v_rows := v_rows + v_n;

  -- mashup_quarter_hour_stats: the same counts per 15-minute bucket.
  with k as (
    select u.mashup_id, aggregation.day_start(u.day) as t0, aggregation.day_start(u.day + 1) as t1
    from unnest(v_m, v_d) as u (mashup_id, day)
  ),
  computed as (
    select k.mashup_id,
           date_bin('15 minutes'::interval, e."timestamp", '2000-01-01 00:00:00+00'::timestamptz) as bucket_start,
           count(*) filter (where e.event_type = 'mashup_played')::integer as plays,
           count(*) filter (where e.event_type = 'mashup_liked')::integer as likes,
           count(*) filter (where e.event_type = 'mashup_shared')::integer as shares,
           count(*) filter (where e.event_type = 'comment_posted')::integer as comments,
           count(*) filter (where e.event_type = 'mashup_exported')::integer as downloads
    from k
    join public.analytics_events e
      on e.mashup_id = k.mashup_id and e.mashup_id is not null
     and e."timestamp" >= k.t0 and e."timestamp" < k.t1
     and e.event_type in ('mashup_played', 'mashup_liked', 'mashup_shared', 'comment_posted', 'mashup_exported')
    group by 1, 2
  ),
  up as (
    insert into public.mashup_quarter_hour_stats as t
      (mashup_id, bucket_start, plays, likes, shares, comments, downloads)
    select c.mashup_id, c.bucket_start, c.plays, c.likes, c.shares, c.comments, c.downloads
    from computed c
    on conflict (mashup_id, bucket_start) do update set
      plays = excluded.plays, likes = excluded.likes, shares = excluded.shares,
      comments = excluded.comments, downloads = excluded.downloads
    where (t.plays, t.likes, t.shares, t.comments, t.downloads)
      is distinct from (excluded.plays, excluded.likes, excluded.shares, excluded.comments, excluded.downloads)
    returning 1
  ),
  del as (
    delete from public.mashup_quarter_hour_stats t
    using k
    where t.mashup_id = k.mashup_id and t.bucket_start >= k.t0 and t.bucket_start < k.t1
      and not exists (select 1 from computed c where c.mashup_id = t.mashup_id and c.bucket_start = t.bucket_start)
    returning 1
  )
  select (select count(*) from up) + (select count(*) from del) into v_n;
  v_rows := v_rows + v_n;

  -- mashup_quarter_hour_breakdowns: plays per (source, country, device) and bucket.
  with k as (
    select u.mashup_id, aggregation.day_start(u.day) as t0, aggregation.day_start(u.day + 1) as t1
    from unnest(v_m, v_d) as u (mashup_id, day)
  ),
  computed as (
    select k.mashup_id,
           date_bin('15 minutes'::interval, e."timestamp", '2000-01-01 00:00:00+00'::timestamptz) as bucket_start,
           coalesce(nullif(e.properties ->> 'source', ''), 'unknown') as source,
           coalesce(e.country, 'unknown') as country,
           coalesce(e.device, 'unknown') as device,
           count(*)::integer as plays
    from k
    join public.analytics_events e
      on e.mashup_id = k.mashup_id and e.mashup_id is not null
     and e."timestamp" >= k.t0 and e."timestamp" < k.t1
     and e.event_type = 'mashup_played'
    group by 1, 2, 3, 4, 5
  ),
  up as (
    insert into public.mashup_quarter_hour_breakdowns as t (mashup_id, bucket_start, source, country, device, plays)
    select c.mashup_id, c.bucket_start, c.source, c.country, c.device, c.plays
    from computed c
    on conflict (mashup_id, bucket_start, source, country, device) do update set plays = excluded.plays
    where t.plays is distinct from excluded.plays
    returning 1
  ),
  del as (
    delete from public.mashup_quarter_hour_breakdowns t
    using k
    where t.mashup_id = k.mashup_id and t.bucket_start >= k.t0 and t.bucket_start < k.t1
      and not exists (select 1 from computed c
                      where c.mashup_id = t.mashup_id and c.bucket_start = t.bucket_start
                        and c.source = t.source and c.country = t.country and c.device = t.device)
    returning 1
  )
  select (select count(*) from up) + (select count(*) from del) into v_n;
  v_rows := v_rows + v_n;

  -- mashup_daily_retention: plays started that day by furthest-position bucket.
  with k as (
    select u.mashup_id, u.day, aggregation.day_start(u.day) as t0, aggregation.day_start(u.day + 1) as t1
    from unnest(v_m, v_d) as u (mashup_id, day)
  ),
  computed as (
    select k.mashup_id, k.day,
           (floor(s.furthest_position_seconds / 10) * 10)::integer as position_bucket_seconds,
           count(*)::integer as plays,
           count(*) filter (where s.completed)::integer as completed_plays,
           sum(s.furthest_position_seconds) as watch_time_seconds
    from k
    join public.mashup_play_summaries s
      on s.mashup_id = k.mashup_id and s.started_at >= k.t0 and s.started_at < k.t1
    group by 1, 2, 3
  ),
  up as (
    insert into public.mashup_daily_retention as t
      (mashup_id, date, position_bucket_seconds, plays, completed_plays, watch_time_seconds)
    select c.mashup_id, c.day, c.position_bucket_seconds, c.plays, c.completed_plays, c.watch_time_seconds
    from computed c
    on conflict (mashup_id, date, position_bucket_seconds) do update set
      plays = excluded.plays, completed_plays = excluded.completed_plays,
      watch_time_seconds = excluded.watch_time_seconds
    where (t.plays, t.completed_plays, t.watch_time_seconds)
      is distinct from (excluded.plays, excluded.completed_plays, excluded.watch_time_seconds)
    returning 1
  ),
  del as (
    delete from public.mashup_daily_retention t
    using k
    where t.mashup_id = k.mashup_id and t.date = k.day
      and not exists (select 1 from computed c
                      where c.mashup_id = t.mashup_id and c.day = t.date
                        and c.position_bucket_seconds = t.position_bucket_seconds)
    returning 1
  )
  select (select count(*) from up) + (select count(*) from del) into v_n;
  v_rows := v_rows + v_n;

  return v_rows;
end;
$$;
comment on function aggregation.recompute_mashup_days(uuid[], date[]) is
  'Recomputes every per-mashup rollup row of these (mashup, UTC day) keys from the raw events.';

-- User days -------------------------------------------------------------------------------------
create function aggregation.recompute_user_days(user_ids uuid[], days date[])
returns bigint
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_u uuid[];
  v_d date[];
  v_rows bigint;
begin
  select coalesce(array_agg(k.user_id), '{}'), coalesce(array_agg(k.day), '{}')
  into v_u, v_d
  from (
    select distinct u.user_id, u.day
    from unnest(user_ids, days) as u (user_id, day)
    where u.user_id is not null and u.day is not null
      and exists (select 1 from auth.users au where au.id = u.user_id)
  ) k;
  if cardinality(v_u) = 0 then
    return 0;
  end if;

  with k as (
    select u.user_id, u.day, aggregation.day_start(u.day) as t0, aggregation.day_start(u.day + 1) as t1
    from unnest(v_u, v_d) as u (user_id, day)
  ),
  computed as (
    select k.user_id, k.day,
           (select count(*)
            from public.analytics_events e
            where e.user_id = k.user_id and e."timestamp" >= k.t0 and e."timestamp" < k.t1
              and e.event_type = 'mashup_created')::integer as mashups_created,
           (select coalesce(sum(d.plays), 0)
            from public.mashups m
            join public.mashup_daily_stats d on d.mashup_id = m.id and d.date = k.day
            where m.creator_id = k.user_id)::integer as plays_received,
           (select count(distinct e.listener_key)
            from public.analytics_events e
            where e.event_type = 'user_followed'
              and lower(e.properties ->> 'creator_id') = k.user_id::text
              and e."timestamp" >= k.t0 and e."timestamp" < k.t1)::integer as followers_gained
    from k
  ),
  up as (
    insert into public.user_daily_stats as t (user_id, date, mashups_created, plays_received, followers_gained)
    select c.user_id, c.day, c.mashups_created, c.plays_received, c.followers_gained
    from computed c
    where c.mashups_created > 0 or c.plays_received > 0 or c.followers_gained > 0
    on conflict (user_id, date) do update set
      mashups_created = excluded.mashups_created, plays_received = excluded.plays_received,
      followers_gained = excluded.followers_gained
    where (t.mashups_created, t.plays_received, t.followers_gained)
      is distinct from (excluded.mashups_created, excluded.plays_received, excluded.followers_gained)
    returning 1
  ),
  del as (
    delete from public.user_daily_stats t
    using computed c
    where t.user_id = c.user_id and t.date = c.day
      and c.mashups_created = 0 and c.plays_received = 0 and c.followers_gained = 0
    returning 1
  )
  select (select count(*) from up) + (select count(*) from del) into v_rows;
  return v_rows;
end;
$$;
comment on function aggregation.recompute_user_days(uuid[], date[]) is
  'Recomputes user_daily_stats of these (user, UTC day) keys; run after their creators'' mashup days.';

-- Lifetime ----------------------------------------------------------------------------------------
create function aggregation.recompute_lifetime(mashup_ids uuid[])
returns bigint
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_rows bigint;
begin
  with k as (
    select distinct m.id as mashup_id
    from unnest(mashup_ids) as u (mashup_id)
    join public.mashups m on m.id = u.mashup_id
  ),
  computed as (
    select k.mashup_id,
           coalesce(d.plays, 0) as plays, coalesce(l.listeners, 0) as unique_plays,
           coalesce(d.likes, 0) as likes, coalesce(d.shares, 0) as shares,
           coalesce(d.comments, 0) as comments, coalesce(d.downloads, 0) as downloads,
           coalesce(r.plays, 0) as tracked_plays, coalesce(r.completed_plays, 0) as completed_plays,
           coalesce(r.watch_time_seconds, 0) as watch_time_seconds,
           round(r.watch_time_seconds / nullif(r.plays, 0), 2) as avg_watch_time
    from k
    left join lateral (
      select sum(s.plays)::bigint as plays, sum(s.likes)::bigint as likes, sum(s.shares)::bigint as shares,
             sum(s.comments)::bigint as comments, sum(s.downloads)::bigint as downloads
      from public.mashup_daily_stats s where s.mashup_id = k.mashup_id
    ) d on true
    left join lateral (
      select count(*) as listeners from public.mashup_listeners ml where ml.mashup_id = k.mashup_id
    ) l on true
    left join lateral (
      select sum(rt.plays)::bigint as plays, sum(rt.completed_plays)::bigint as completed_plays,
             sum(rt.watch_time_seconds) as watch_time_seconds
      from public.mashup_daily_retention rt where rt.mashup_id = k.mashup_id
    ) r on true
  ),
  up as (
    insert into public.mashup_lifetime_stats as t
      (mashup_id, plays, unique_plays, likes, shares, comments, downloads, tracked_plays, completed_plays,
       watch_time_seconds, avg_watch_time)
    select c.mashup_id, c.plays, c.unique_plays, c.likes, c.shares, c.comments, c.downloads, c.tracked_plays,
           c.completed_plays, c.watch_time_seconds, c.avg_watch_time
    from computed c
    on conflict (mashup_id) do update set
      plays = excluded.plays, unique_plays = excluded.unique_plays, likes = excluded.likes,
      shares = excluded.shares, comments = excluded.comments, downloads = excluded.downloads,
      tracked_plays = excluded.tracked_plays, completed_plays = excluded.completed_plays,
      watch_time_seconds = excluded.watch_time_seconds, avg_watch_time = excluded.avg_watch_time
    where (t.plays, t.unique_plays, t.likes, t.shares, t.comments, t.downloads, t.tracked_plays,
           t.completed_plays, t.watch_time_seconds, t.avg_watch_time)
      is distinct from (excluded.plays, excluded.unique_plays, excluded.likes, excluded.shares,
                        excluded.comments, excluded.downloads, excluded.tracked_plays,
                        excluded.completed_plays, excluded.watch_time_seconds, excluded.avg_watch_time)
    returning 1
  )
  select count(*) into v_rows from up;
  return v_rows;
end;
$$;
comment on function aggregation.recompute_lifetime(uuid[]) is
  'Recomputes mashup_lifetime_stats of these mashups from the daily rollups and mashup_listeners.';

-- Listeners: fold the first play of each (mashup, listener) in. least() makes it order-free and
-- idempotent: any set of played events, read any number of times, leaves min(timestamp).
create function aggregation.fold_listeners(received_from timestamptz, received_to timestamptz,
                                           day_from timestamptz, day_to timestamptz)
returns bigint
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_rows bigint;
begin
  -- Two statements rather than one with "x is null or ..." so each gets its own index plan.
  if received_from is not null then
    with firsts as (
      select e.mashup_id, e.listener_key, min(e."timestamp") as first_played_at
      from public.analytics_events e
      where e.received_at >= received_from and e.received_at < received_to
        and e.event_type = 'mashup_played' and e.mashup_id is not null
        and exists (select 1 from public.mashups m where m.id = e.mashup_id)
      group by e.mashup_id, e.listener_key
    ),
    up as (
      insert into public.mashup_listeners as t (mashup_id, listener_key, first_played_at)
      select f.mashup_id, f.listener_key, f.first_played_at from firsts f
      on conflict (mashup_id, listener_key) do update set first_played_at = excluded.first_played_at
      where excluded.first_played_at < t.first_played_at
      returning 1
    )
    select count(*) into v_rows from up;
  else
    with firsts as (
      select e.mashup_id, e.listener_key, min(e."timestamp") as first_played_at
      from public.analytics_events e
      where e.event_type = 'mashup_played' and e."timestamp" >= day_from and e."timestamp" < day_to
        and e.mashup_id is not null
        and exists (select 1 from public.mashups m where m.id = e.mashup_id)
      group by e.mashup_id, e.listener_key
    ),
    up as (
      insert into public.mashup_listeners as t (mashup_id, listener_key, first_played_at)
      select f.mashup_id, f.listener_key, f.first_played_at from firsts f
      on conflict (mashup_id, listener_key) do update set first_played_at = excluded.first_played_at
      where excluded.first_played_at < t.first_played_at
      returning 1
    )
    select count(*) into v_rows from up;
  end if;
  return v_rows;
end;
$$;
comment on function aggregation.fold_listeners(timestamptz, timestamptz, timestamptz, timestamptz) is
  'Adds the listeners of the played events received in [received_from, received_to) or timestamped '
  'in [day_from, day_to) to mashup_listeners, keeping each listener''s earliest play.';

revoke all on all functions in schema aggregation from public, anon, authenticated;
grant execute on all functions in schema aggregation to service_role;
