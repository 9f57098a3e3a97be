-- Day rebuilds over a range of UTC days, so a backfill of small days pays its fixed cost per chunk,
-- not per day.
--
-- A backfill rebuilt one UTC day per call of aggregation.mashup_day and aggregation.user_day. Each
-- call has a cost of its own whatever the day holds: about 25 statements planned for the call's
-- values (force_custom_plan), an ANALYZE of the batch, the scratch tables emptied, a commit. On a
-- database of 50k events (~800 a day) that was ~36 ms a day against ~0.8 ms of events, and the
-- backfill stored 0.18x the events per second COPY does (docs/benchmarks.md, sixteenth look).
--
-- aggregation.mashup_days(from, to) and aggregation.user_days(from, to) rebuild the half-open range
-- of UTC days [from, to) in one pass: the same statements over the range's raw events, grouped by
-- day where the rows are daily (unique_plays, user_daily_stats). mashup_day(d) and user_day(d) are
-- now mashup_days(d, d + 1) and user_days(d, d + 1), so the plan's repair functions, the nightly
-- job and every other caller rebuild a day exactly as before, through the same statements.
--
-- A day whose raw events are gone (a dropped partition) while its rows remain is still left as it
-- is: a range holding such a day is rebuilt one day at a time, and that day alone is skipped with the
-- same notice.

create or replace function aggregation.fold_days_unique_plays(p_from date, p_to date)
returns bigint
language plpgsql
security invoker
set search_path = ''
set plan_cache_mode = force_custom_plan
set enable_nestloop = off
as $$
declare
  v_t0 timestamptz := aggregation.day_start(p_from);
  v_t1 timestamptz := aggregation.day_start(p_to);
  v_n bigint;
begin
  with want as (
    select x.mashup_id, x.date, sum(x.listeners)::integer as listeners
    from (
      select f.mashup_id, (f."timestamp" at time zone 'UTC')::date as date, count(distinct f.listener_key) as listeners
      from aggregation.fold_batch f
      where f.event_type = 'mashup_played' and f.listener_key is not null and f.mashup_id is not null
        and f."timestamp" >= v_t0 and f."timestamp" < v_t1
      group by 1, 2
      union all
      select t.mashup_id, t.date, 0 from public.mashup_daily_stats t where t.date >= p_from and t.date < p_to
    ) x
    group by 1, 2
  )
  update public.mashup_daily_stats t set unique_plays = w.listeners
  from want w
  where t.date >= p_from and t.date < p_to and t.mashup_id = w.mashup_id and t.date = w.date
    and t.unique_plays is distinct from w.listeners;
  get diagnostics v_n = row_count;
  return v_n;
end;
$$;
comment on function aggregation.fold_days_unique_plays(date, date) is
  'Sets unique_plays of every mashup_daily_stats row of the UTC days [p_from, p_to) to the distinct '
  'listeners of that day''s raw plays (the day rebuild''s batch holds exactly those days). Plans without '
  'nested loops (20261126220000).';

-- Its one-day form had no other caller than the day rebuild.
drop function aggregation.fold_day_unique_plays(date);

-- The days of [p_from, p_to) whose raw events are gone while the table's rows of them remain.
create or replace function aggregation.days_without_raw_events(p_from date, p_to date, p_user_rows boolean)
returns date[]
language sql
stable
security invoker
set search_path = ''
as $$
  select coalesce(array_agg(g.d::date order by g.d), '{}')
  from generate_series(p_from::timestamp, (p_to - 1)::timestamp, interval '1 day') as g(d)
  where case when p_user_rows
             then exists (select 1 from public.user_daily_stats u where u.date = g.d::date)
             else exists (select 1 from public.mashup_daily_stats s where s.date = g.d::date) end
    and not exists (select 1 from public.analytics_events e
                    where e."timestamp" >= aggregation.day_start(g.d::date)
                      and e."timestamp" < aggregation.day_start(g.d::date + 1));
$$;
comment on function aggregation.days_without_raw_events(date, date, boolean) is
  'The UTC days of [p_from, p_to) without raw events whose mashup_daily_stats rows (user_daily_stats '
  'with p_user_rows) remain: a day rebuild leaves them as they are.';

-- Sums the counters of day-rebuild results (one per day of a range rebuilt day by day).
create or replace function aggregation.add_day_results(p_a jsonb, p_b jsonb)
returns jsonb
language sql
immutable
set search_path = ''
as $$
  select coalesce(jsonb_object_agg(k, coalesce((p_a ->> k)::bigint, 0) + coalesce((p_b ->> k)::bigint, 0)), '{}')
  from (select jsonb_object_keys(p_a || p_b) as k) keys
  where k <> 'skipped';
$$;

create or replace function aggregation.mashup_days(p_from date, p_to date)
returns jsonb
language plpgsql
security invoker
set search_path = ''
set plan_cache_mode = force_custom_plan
as $$
declare
  v_t0 timestamptz := aggregation.day_start(p_from);
  v_t1 timestamptz := aggregation.day_start(p_to);
  v_kept date[];
  v_day date;
  v_rows bigint := 0;
  v_events bigint;
  v_result jsonb;
begin
  if p_from is null or p_to is null or p_to <= p_from then
    raise exception 'mashup_days needs p_from < p_to (half-open [p_from, p_to)), got [%, %)', p_from, p_to
      using errcode = '22023';
  end if;
  perform aggregation.lock(true);

  -- A day whose raw events are gone (a dropped partition) while its rollups remain: refuse to
  -- zero it. Lifetime numbers must not depend on raw rows still existing. A range holding one is
  -- rebuilt day by day, so only that day is left as it is.
  v_kept := aggregation.days_without_raw_events(p_from, p_to, false);
  if cardinality(v_kept) > 0 then
    if p_to - p_from = 1 then
      raise notice 'aggregate_mashup_stats(%): no raw events left for that day; its rollups are kept as they are',
        p_from;
      return jsonb_build_object('events_read', 0, 'mashup_days', 0, 'plays', 0, 'mashups', 0, 'rows_written', 0,
                                'skipped', 'no raw events');
    end if;
    v_result := '{}';
    for v_day in select g.d::date from generate_series(p_from::timestamp, (p_to - 1)::timestamp, interval '1 day') g(d) loop
      v_result := aggregation.add_day_results(v_result, aggregation.mashup_days(v_day, v_day + 1));
    end loop;
    return v_result;
  end if;
  perform aggregation.fold_reset();

  -- One statement, so one snapshot: the days' raw events it reads are exactly those whose queue
  -- rows it takes out (a raw row and its queue row commit together). Events committing later stay
  -- queued for the next incremental run.
  with taken as (
    delete from aggregation.pending_events q
    where q."timestamp" >= v_t0 and q."timestamp" < v_t1
      and q.event_type in ('mashup_played', 'mashup_play_progress', 'mashup_play_ended', 'mashup_liked',
                           'mashup_shared', 'comment_posted', 'mashup_exported')
    returning 1
  )
  insert into aggregation.fold_batch
  select r.* from aggregation.raw_events_for_fold r
  where r."timestamp" >= v_t0 and r."timestamp" < v_t1
    and r.event_type in ('mashup_played', 'mashup_play_progress', 'mashup_play_ended', 'mashup_liked',
                         'mashup_shared', 'comment_posted', 'mashup_exported');
  get diagnostics v_events = row_count;
  analyze aggregation.fold_batch;

  -- The days' buckets: what the raw events say now minus what the rows hold.
  with n as (
    select b.mashup_id, date_bin('15 minutes'::interval, b."timestamp", '2000-01-01 00:00:00+00'::timestamptz) as bucket_start,
           count(*) filter (where b.event_type = 'mashup_played')::integer as plays,
           count(*) filter (where b.event_type = 'mashup_liked')::integer as likes,
           count(*) filter (where b.event_type = 'mashup_shared')::integer as shares,
           count(*) filter (where b.event_type = 'comment_posted')::integer as comments,
           count(*) filter (where b.event_type = 'mashup_exported')::integer as downloads
    from aggregation.fold_batch b
    where b.event_type in ('mashup_played', 'mashup_liked', 'mashup_shared', 'comment_posted', 'mashup_exported')
      and exists (select 1 from public.mashups m where m.id = b.mashup_id)
    group by 1, 2
  ),
  o as (
    select q.mashup_id, q.bucket_start, q.plays, q.likes, q.shares, q.comments, q.downloads
    from public.mashup_quarter_hour_stats q where q.bucket_start >= v_t0 and q.bucket_start < v_t1
  )
  insert into aggregation.fold_count_deltas (mashup_id, bucket_start, plays, likes, shares, comments, downloads)
  select coalesce(n.mashup_id, o.mashup_id), coalesce(n.bucket_start, o.bucket_start),
         coalesce(n.plays, 0) - coalesce(o.plays, 0), coalesce(n.likes, 0) - coalesce(o.likes, 0),
         coalesce(n.shares, 0) - coalesce(o.shares, 0), coalesce(n.comments, 0) - coalesce(o.comments, 0),
         coalesce(n.downloads, 0) - coalesce(o.downloads, 0)
  from n full join o on o.mashup_id = n.mashup_id and o.bucket_start = n.bucket_start
  where (n.plays, n.likes, n.shares, n.comments, n.downloads) is distinct from
        (o.plays, o.likes, o.shares, o.comments, o.downloads);

  with n as (
    select b.mashup_id, date_bin('15 minutes'::interval, b."timestamp", '2000-01-01 00:00:00+00'::timestamptz) as bucket_start,
           b.source, b.country, b.device, count(*)::integer as plays
    from aggregation.fold_batch b
    where b.event_type = 'mashup_played' and exists (select 1 from public.mashups m where m.id = b.mashup_id)
    group by 1, 2, 3, 4, 5
  ),
  o as (
    select q.mashup_id, q.bucket_start, q.source, q.country, q.device, q.plays
    from public.mashup_quarter_hour_breakdowns q where q.bucket_start >= v_t0 and q.bucket_start < v_t1
  )
  insert into aggregation.fold_breakdown_deltas (mashup_id, bucket_start, source, country, device, plays)
  select coalesce(n.mashup_id, o.mashup_id), coalesce(n.bucket_start, o.bucket_start), coalesce(n.source, o.source),
         coalesce(n.country, o.country), coalesce(n.device, o.device), coalesce(n.plays, 0) - coalesce(o.plays, 0)
  from n full join o on o.mashup_id = n.mashup_id and o.bucket_start = n.bucket_start and o.source = n.source
                    and o.country = n.country and o.device = n.device
  where n.plays is distinct from o.plays;

  perform aggregation.fold_lock_mashups();
  v_rows := v_rows + aggregation.fold_listeners();
  v_rows := v_rows + aggregation.fold_plays();
  v_rows := v_rows + aggregation.fold_counts();
  v_rows := v_rows + aggregation.fold_breakdowns();
  v_rows := v_rows + aggregation.fold_days_unique_plays(p_from, p_to);

  select jsonb_build_object(
    'events_read', v_events,
    -- (one day: its mashups; a range: its (mashup, day) pairs)
    'mashup_days', case when p_to - p_from = 1 then m.n
                        else (select count(*) from (select distinct b.mashup_id, (b."timestamp" at time zone 'UTC')::date
                                                    from aggregation.fold_batch b where b.mashup_id is not null) k) end,
    'plays', (select count(*) from (select distinct b.play_id from aggregation.fold_batch b
                                    where b.play_id is not null) k),
    'mashups', m.n, 'rows_written', v_rows)
  into v_result
  from (select count(*) as n from (select distinct b.mashup_id from aggregation.fold_batch b
                                   where b.mashup_id is not null) k) m;
  return v_result;
end;
$$;
comment on function aggregation.mashup_days(date, date) is
  'Rebuilds the mashup rollups of the UTC days [p_from, p_to) from their raw events in one pass (backfill, '
  'repair): what still waits in the queue for those days is taken with them. Days whose raw events are gone '
  'while their rows remain are left as they are.';

create or replace function aggregation.mashup_day(target_date date)
returns jsonb
language sql
security invoker
set search_path = ''
set plan_cache_mode = force_custom_plan
as $$
  select aggregation.mashup_days(target_date, target_date + 1);
$$;

create or replace function aggregation.user_days(p_from date, p_to date)
returns jsonb
language plpgsql
security invoker
set search_path = ''
set plan_cache_mode = force_custom_plan
as $$
declare
  v_t0 timestamptz := aggregation.day_start(p_from);
  v_t1 timestamptz := aggregation.day_start(p_to);
  v_day date;
  v_result jsonb;
  v_c uuid[];
  v_d date[];
  v_f text[];
  v_users integer;
  v_rows bigint;
begin
  if p_from is null or p_to is null or p_to <= p_from then
    raise exception 'user_days needs p_from < p_to (half-open [p_from, p_to)), got [%, %)', p_from, p_to
      using errcode = '22023';
  end if;
  perform aggregation.lock(true);

  if cardinality(aggregation.days_without_raw_events(p_from, p_to, true)) > 0 then
    if p_to - p_from = 1 then
      raise notice 'aggregate_user_stats(%): no raw events left for that day; its rows are kept as they are', p_from;
      return jsonb_build_object('user_days', 0, 'rows_written', 0, 'skipped', 'no raw events');
    end if;
    v_result := '{}';
    for v_day in select g.d::date from generate_series(p_from::timestamp, (p_to - 1)::timestamp, interval '1 day') g(d) loop
      v_result := aggregation.add_day_results(v_result, aggregation.user_days(v_day, v_day + 1));
    end loop;
    return v_result;
  end if;
  -- Only the batch: the other scratch tables are not read here (every fold empties them first).
  perform aggregation.fold_reset_batch();

  with taken as (
    delete from aggregation.pending_events q
    where q."timestamp" >= v_t0 and q."timestamp" < v_t1 and q.event_type in ('mashup_created', 'user_followed')
    returning 1
  )
  insert into aggregation.fold_batch
  select r.* from aggregation.raw_events_for_fold r
  where r."timestamp" >= v_t0 and r."timestamp" < v_t1 and r.event_type in ('mashup_created', 'user_followed');

  -- followers_gained of every (creator, day) the range may concern: follow events of the days,
  -- follows made those days however they arrived (the app writes most of them straight into
  -- public.follows), and rows of the days that count followers now.
  select coalesce(array_agg(k.creator_id), '{}'), coalesce(array_agg(k.date), '{}'),
         coalesce(array_agg(k.follower_key), '{}')
  into v_c, v_d, v_f
  from (
    select b.creator_id, (b."timestamp" at time zone 'UTC')::date as date, b.listener_key as follower_key
    from aggregation.fold_batch b
    where b.event_type = 'user_followed' and b.creator_id is not null
      and exists (select 1 from auth.users u where u.id = b.creator_id)
    union all
    select f.creator_id, (f.created_at at time zone 'UTC')::date, null
    from public.follows f where f.created_at >= v_t0 and f.created_at < v_t1
    union all
    select us.user_id, us.date, null
    from public.user_daily_stats us where us.date >= p_from and us.date < p_to and us.followers_gained <> 0
  ) k;

  -- (Union and group rather than joins between CTEs: CTEs carry no statistics for the planner.)
  with computed as (
    select x.user_id, x.date, sum(x.created)::integer as mashups_created, sum(x.received)::integer as plays_received,
           sum(x.followed)::integer as followers_gained
    from (
      select b.user_id, (b."timestamp" at time zone 'UTC')::date as date, 1 as created, 0 as received, 0 as followed
      from aggregation.fold_batch b
      where b.event_type = 'mashup_created' and b.user_id is not null
        and exists (select 1 from auth.users u where u.id = b.user_id)
      union all
      select m.creator_id, d.date, 0, d.plays, 0
      from public.mashup_daily_stats d join public.mashups m on m.id = d.mashup_id
      where d.date >= p_from and d.date < p_to
      union all
      select f.user_id, f.date, 0, 0, f.followers_gained from aggregation.fold_follows(v_c, v_d, v_f) f
      union all
      select us.user_id, us.date, 0, 0, 0 from public.user_daily_stats us where us.date >= p_from and us.date < p_to
    ) x
    group by x.user_id, x.date
  ),
  up as (
    insert into public.user_daily_stats as t (user_id, date, mashups_created, plays_received, followers_gained)
    select c.user_id, c.date, c.mashups_created, c.plays_received, c.followers_gained
    from computed c
    where c.mashups_created > 0 or c.plays_received > 0 or c.followers_gained > 0
    on conflict (user_id, date) do update set
      mashups_created = excluded.mashups_created, plays_received = excluded.plays_received,
      followers_gained = excluded.followers_gained
    where (t.mashups_created, t.plays_received, t.followers_gained)
      is distinct from (excluded.mashups_created, excluded.plays_received, excluded.followers_gained)
    returning 1
  ),
  -- The rows left with nothing are found by key (arrays taken from computed once, matched within the
  -- range's rows), not by a join: with the days missing from the table's statistics the planner
  -- expected one row of a day and rescanned computed for every row.
  del as (
    delete from public.user_daily_stats t
    where t.date >= p_from and t.date < p_to
      and t.user_id = any (array(select c.user_id from computed c
                                 where c.mashups_created = 0 and c.plays_received = 0 and c.followers_gained = 0))
      and (t.user_id::text || ' ' || t.date::text)
          = any (array(select c.user_id::text || ' ' || c.date::text from computed c
                       where c.mashups_created = 0 and c.plays_received = 0 and c.followers_gained = 0))
    returning 1
  )
  select (select count(*) from computed), (select count(*) from up) + (select count(*) from del)
  into v_users, v_rows;
  return jsonb_build_object('user_days', v_users, 'rows_written', v_rows);
end;
$$;
comment on function aggregation.user_days(date, date) is
  'Rebuilds user_daily_stats of the UTC days [p_from, p_to) from their raw events, the plan''s daily '
  'rows and public.follows in one pass (backfill, repair). Days whose raw events are gone while their '
  'rows remain are left as they are.';

create or replace function aggregation.user_day(target_date date)
returns jsonb
language sql
security invoker
set search_path = ''
set plan_cache_mode = force_custom_plan
as $$
  select aggregation.user_days(target_date, target_date + 1);
$$;

revoke all on function aggregation.fold_days_unique_plays(date, date), aggregation.days_without_raw_events(date, date, boolean),
  aggregation.add_day_results(jsonb, jsonb), aggregation.mashup_days(date, date), aggregation.user_days(date, date)
  from public, anon, authenticated;
grant execute on function aggregation.fold_days_unique_plays(date, date), aggregation.days_without_raw_events(date, date, boolean),
  aggregation.add_day_results(jsonb, jsonb), aggregation.mashup_days(date, date), aggregation.user_days(date, date)
  to service_role;
