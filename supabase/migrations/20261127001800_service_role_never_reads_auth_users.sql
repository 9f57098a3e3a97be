-- The service role's paths never read auth.users: on hosted Supabase it may not.
--
-- Hosted Supabase grants table privileges in the auth schema to supabase_auth_admin, postgres and
-- dashboard_user only; the API roles get USAGE on the schema and nothing on its tables
-- (supabase/postgres: init-scripts/00000000000001-auth-schema.sql,
-- migrations/20211115181400_update-auth-permissions.sql), and postgres holds its privileges
-- without grant option, so no migration can pass them on. The local bootstrap granted the service
-- role all of auth.users and hid it: on hosted, these SECURITY INVOKER functions failed with
-- "permission denied for table users" when the service role ran them: the realtime sync and its
-- reconciliation, the realtime fallback and window repair, erase_listener (its delete trigger),
-- the RPCs aggregate_mashup_stats / aggregate_user_stats and run_incremental (fold_users), and
-- ingest_events (follows_from_events). Found by an outside audit on an emulated hosted database.
--
-- Each of them asked auth.users one question: does this user exist? Now
-- aggregation.user_exists(uuid) answers it, SECURITY DEFINER (owned by postgres, which may read
-- auth.users on hosted). The reason for definer rights: the question is all the callers need and
-- they may not ask it themselves; the function returns a boolean for one id and nothing else of
-- the table. sql/bootstrap.sql no longer grants the service role anything on auth.users, so the
-- local stack fails where hosted would.

create function aggregation.user_exists(p_user_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (select 1 from auth.users u where u.id = p_user_id)
$$;
comment on function aggregation.user_exists(uuid) is
  'Whether an auth user with this id exists. SECURITY DEFINER: the service role may not read auth.users on hosted Supabase.';
revoke all on function aggregation.user_exists(uuid) from public, anon, authenticated;
grant execute on function aggregation.user_exists(uuid) to service_role;

-- The functions that read auth.users, restated with aggregation.user_exists (otherwise unchanged).

CREATE OR REPLACE FUNCTION aggregation.recompute_user_days(user_ids uuid[], days date[])
 RETURNS bigint
 LANGUAGE plpgsql
 SET search_path TO ''
 SET plan_cache_mode TO 'force_custom_plan'
AS $function$
declare
  v_rows bigint;
begin
  with f as (
    select g.user_id, g.date, g.followers_gained
    from aggregation.fold_follows(user_ids, days, null) g
    where aggregation.user_exists(g.user_id)
  ),
  up as (
    insert into public.user_daily_stats as t (user_id, date, mashups_created, plays_received, followers_gained)
    select f.user_id, f.date, 0, 0, f.followers_gained from f
    on conflict (user_id, date) do update set followers_gained = excluded.followers_gained
    where t.followers_gained is distinct from excluded.followers_gained
    returning 1
  )
  select count(*) into v_rows from up;
  delete from public.user_daily_stats t
  using unnest(user_ids, days) as k (user_id, day)
  where t.user_id = k.user_id and t.date = k.day and coalesce(t.mashups_created, 0) = 0
    and coalesce(t.plays_received, 0) = 0 and coalesce(t.followers_gained, 0) = 0;
  return v_rows;
end;
$function$;

CREATE OR REPLACE FUNCTION aggregation.fold_users()
 RETURNS bigint
 LANGUAGE plpgsql
 SET search_path TO ''
 SET plan_cache_mode TO 'force_custom_plan'
 SET enable_hashjoin TO 'off'
 SET enable_mergejoin TO 'off'
AS $function$
declare
  v_rows bigint := 0;
  v_n bigint;
  v_c uuid[];
  v_d date[];
  v_f text[];
begin
  with d as (
    select b.user_id, (b."timestamp" at time zone 'UTC')::date as date, count(*)::integer as n
    from aggregation.fold_batch b
    where b.event_type = 'mashup_created' and b.user_id is not null
      and aggregation.user_exists(b.user_id)
    group by 1, 2
  ),
  up as (
    insert into public.user_daily_stats as t (user_id, date, mashups_created, plays_received, followers_gained)
    select d.user_id, d.date, d.n, 0, 0 from d
    on conflict (user_id, date) do update set mashups_created = coalesce(t.mashups_created, 0) + excluded.mashups_created
    returning 1
  )
  select count(*) into v_n from up;
  v_rows := v_rows + v_n;

  select coalesce(array_agg(b.creator_id), '{}'), coalesce(array_agg((b."timestamp" at time zone 'UTC')::date), '{}'),
         coalesce(array_agg(b.listener_key), '{}')
  into v_c, v_d, v_f
  from aggregation.fold_batch b
  where b.event_type = 'user_followed' and b.creator_id is not null
    and aggregation.user_exists(b.creator_id);
  if cardinality(v_c) > 0 then
    with f as (select * from aggregation.fold_follows(v_c, v_d, v_f)),
    up as (
      insert into public.user_daily_stats as t (user_id, date, mashups_created, plays_received, followers_gained)
      select f.user_id, f.date, 0, 0, f.followers_gained from f
      where f.followers_gained <> 0
         or exists (select 1 from public.user_daily_stats u where u.user_id = f.user_id and u.date = f.date)
      on conflict (user_id, date) do update set followers_gained = excluded.followers_gained
      where t.followers_gained is distinct from excluded.followers_gained
      returning 1
    )
    select count(*) into v_n from up;
    v_rows := v_rows + v_n;
    delete from public.user_daily_stats t
    using unnest(v_c, v_d) as k (user_id, day)
    where t.user_id = k.user_id and t.date = k.day and coalesce(t.mashups_created, 0) = 0
      and coalesce(t.plays_received, 0) = 0 and coalesce(t.followers_gained, 0) = 0;
  end if;
  return v_rows;
end;
$function$;

CREATE OR REPLACE FUNCTION aggregation.user_days(p_from date, p_to date)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
 SET plan_cache_mode TO 'force_custom_plan'
AS $function$
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
      and aggregation.user_exists(b.creator_id)
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
        and aggregation.user_exists(b.user_id)
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
$function$;

CREATE OR REPLACE FUNCTION aggregation.follows_from_events()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  insert into public.follows (follower_id, creator_id, created_at)
  select distinct on (n.user_id, c.id) n.user_id, c.id, n."timestamp"
  from inserted n
  cross join lateral (select aggregation.to_uuid(n.properties ->> 'creator_id') as id) c
  where n.event_code = 'j' and n.user_id is not null and n.user_id <> c.id and aggregation.user_exists(c.id)
  order by n.user_id, c.id, n."timestamp"
  on conflict (follower_id, creator_id) do nothing;
  return null;
end;
$function$;

CREATE OR REPLACE FUNCTION public.update_realtime_stats(p_batch_id text, p_deltas jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_new integer;
  v_counters integer := 0;
  v_increments bigint := 0;
  v_skipped_counters integer := 0;
  v_skipped_increments bigint := 0;
begin
  if p_batch_id is null or p_deltas is null or jsonb_typeof(p_deltas) <> 'object' then
    raise exception 'update_realtime_stats: batch id and a jsonb object of deltas are required'
      using errcode = '22023';
  end if;

  -- Claim the batch id first: a concurrent apply of the same batch waits here for ours to commit,
  -- then finds the row and applies nothing.
  insert into public.realtime_sync_batches (batch_id) values (p_batch_id) on conflict do nothing;
  get diagnostics v_new = row_count;
  if v_new = 0 then
    return jsonb_build_object('batch_id', p_batch_id, 'applied', false);
  end if;
  -- Batch ids are needed only while Redis may still re-send their batch: every sync re-sends the
  -- pending ones first, so a month is far beyond any real outage.
  delete from public.realtime_sync_batches b where b.applied_at < now() - interval '30 days';

  -- One statement: parse the keys, keep those naming an existing mashup / user, add them up.
  with parsed as materialized (
    select * from public.parse_realtime_counter_deltas(p_deltas)
  ),
  deltas as (
    select p.kind, p.subject_id, p.counter, p.delta,
           case
             when p.kind = 'mashup' and p.counter in ('plays', 'likes', 'shares', 'comments', 'downloads', 'reactions')
               then exists (select 1 from public.mashups m where m.id = p.subject_id)
             when p.kind = 'creator' and p.counter = 'followers'
               then aggregation.user_exists(p.subject_id)
             else false
           end as known
    from parsed p
  ),
  mashup_rows as (
    insert into public.mashup_realtime_totals as t
      (mashup_id, plays, likes, shares, comments, downloads, reactions, updated_at)
    select d.subject_id,
           coalesce(sum(d.delta) filter (where d.counter = 'plays'), 0),
           coalesce(sum(d.delta) filter (where d.counter = 'likes'), 0),
           coalesce(sum(d.delta) filter (where d.counter = 'shares'), 0),
           coalesce(sum(d.delta) filter (where d.counter = 'comments'), 0),
           coalesce(sum(d.delta) filter (where d.counter = 'downloads'), 0),
           coalesce(sum(d.delta) filter (where d.counter = 'reactions'), 0),
           now()
    from deltas d
    where d.known and d.kind = 'mashup'
    group by d.subject_id
    order by d.subject_id -- one lock order for every apply: concurrent batches never deadlock
    on conflict (mashup_id) do update set
      plays = t.plays + excluded.plays,
      likes = t.likes + excluded.likes,
      shares = t.shares + excluded.shares,
      comments = t.comments + excluded.comments,
      downloads = t.downloads + excluded.downloads,
      reactions = t.reactions + excluded.reactions,
      updated_at = excluded.updated_at
    returning 1
  ),
  creator_rows as (
    insert into public.creator_realtime_totals as t (creator_id, followers, updated_at)
    select d.subject_id, sum(d.delta), now()
    from deltas d
    where d.known and d.kind = 'creator'
    group by d.subject_id
    order by d.subject_id
    on conflict (creator_id) do update set
      followers = t.followers + excluded.followers,
      updated_at = excluded.updated_at
    returning 1
  )
  select count(*) filter (where d.known), coalesce(sum(d.delta) filter (where d.known), 0),
         count(*) filter (where not d.known), coalesce(sum(d.delta) filter (where not d.known), 0)
  into v_counters, v_increments, v_skipped_counters, v_skipped_increments
  from deltas d;

  update public.realtime_sync_batches b
  set counters = v_counters, increments = v_increments,
      skipped_counters = v_skipped_counters, skipped_increments = v_skipped_increments
  where b.batch_id = p_batch_id;

  return jsonb_build_object(
    'batch_id', p_batch_id, 'applied', true, 'counters', v_counters, 'increments', v_increments,
    'skipped_counters', v_skipped_counters, 'skipped_increments', v_skipped_increments);
end;
$function$;

CREATE OR REPLACE FUNCTION public.realtime_window_members(p_now timestamp with time zone DEFAULT now(), p_creator_id uuid DEFAULT NULL::uuid)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  with ev as (
    select e.id, e.event_type, e.mashup_id, e.listener_key,
           coalesce(m.creator_id, case when aggregation.user_exists(f.id) then f.id end) as creator_id,
           least(e."timestamp", e.received_at) as t
    from public.analytics_events e
    left join public.mashups m on m.id = e.mashup_id
    left join lateral (select raw_events.realtime_subject('followers', null, e.properties) as id
                       where e.event_type = 'user_followed') f on true
    -- Every catalog type, so the (event_type, "timestamp") index narrows the scan; the window
    -- itself is on the clamped time below.
    where e.event_type = any (array['mashup_played', 'mashup_play_progress', 'mashup_play_ended', 'mashup_liked',
                                    'mashup_shared', 'mashup_exported', 'mashup_created', 'ai_reaction',
                                    'comment_posted', 'user_followed', 'subscription_upgraded'])
      and e."timestamp" > p_now - interval '1 hour'
  ),
  windowed as (
    select ev.*, floor(extract(epoch from ev.t) * 1000)::bigint as ms
    from ev
    where ev.t <= p_now and ev.t > p_now - interval '1 hour'
      and (p_creator_id is null or ev.creator_id = p_creator_id)
  ),
  members (creator_id, member, score) as (
  select w.creator_id, 'a|' || w.listener_key, max(w.ms)
  from windowed w
  where w.t > p_now - interval '5 minutes' and w.listener_key is not null
  group by 1, 2
  union all
  select w.creator_id,
         case when w.event_type = 'mashup_play_ended' then 'x|' else 'p|' end || w.mashup_id || '|' || w.listener_key,
         max(w.ms)
  from windowed w
  where w.t > p_now - interval '60 seconds' and w.mashup_id is not null and w.listener_key is not null
    and w.event_type in ('mashup_played', 'mashup_play_progress', 'mashup_play_ended')
  group by 1, 2
  union all
  select w.creator_id,
         case w.event_type when 'mashup_played' then 'e|plays|' else 'e|likes|' end || w.id,
         w.ms
  from windowed w
  where w.mashup_id is not null and w.event_type in ('mashup_played', 'mashup_liked')
  )
  -- One document, not rows: PostgREST caps table results at max_rows.
  select coalesce(jsonb_agg(jsonb_build_array(x.creator_id, x.member, x.score)), '[]'::jsonb) from members x;
$function$;

CREATE OR REPLACE FUNCTION public.reconcile_realtime_totals(p_outstanding jsonb, p_fence_us bigint, p_reason text DEFAULT 'scheduled'::text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_run uuid;
  v_result jsonb;
  v_fence timestamptz;
begin
  if p_outstanding is null or jsonb_typeof(p_outstanding) <> 'object' or p_fence_us is null then
    raise exception 'reconcile_realtime_totals: outstanding deltas (object) and the fence (epoch microseconds) are required'
      using errcode = '22023';
  end if;
  -- Exact to the microsecond: received_at < v_fence is the same test the Redis script makes.
  v_fence := timestamptz 'epoch' + (p_fence_us::text || ' microseconds')::interval;

  insert into public.realtime_reconcile_runs (read_at, settle_seconds, reason)
  values (v_fence, 0, coalesce(p_reason, 'scheduled'))
  returning run_id into v_run;

  with stored as (
    select 'mashup'::text as kind, e.mashup_id as subject_id,
           raw_events.realtime_counter(e.event_type) as counter,
           count(*) as expected
    from public.analytics_events e
    join public.mashups m on m.id = e.mashup_id
    where e.event_type in ('mashup_played', 'mashup_liked', 'mashup_shared', 'comment_posted',
                           'mashup_exported', 'ai_reaction')
      and e.received_at < v_fence
    group by 1, 2, 3
    union all
    -- The followed creators counted first, then each one's existence asked once.
    select 'creator', f.subject_id, 'followers', f.expected
    from (select raw_events.realtime_subject('followers', null, e.properties) as subject_id, count(*) as expected
          from public.analytics_events e
          where e.event_type = 'user_followed' and e.received_at < v_fence
          group by 1) f
    where f.subject_id is not null and aggregation.user_exists(f.subject_id)
  ),
  removed as (
    -- Counted events no longer stored (erased, or in a dropped month): their counts stay.
    select k.kind, k.subject_id, k.counter, sum(k.events) as expected
    from raw_events.removed_realtime_counts k
    where k.received_at < v_fence
      and (case when k.kind = 'creator'
                then aggregation.user_exists(k.subject_id)
                else exists (select 1 from public.mashups m where m.id = k.subject_id) end)
    group by 1, 2, 3
  ),
  raw as (
    select kind, subject_id, counter, sum(expected)::bigint as expected, 0::bigint as uncertain
    from (select * from stored union all select * from removed) x
    group by 1, 2, 3
  ),
  totals as (
    select 'mashup'::text as kind, t.mashup_id as subject_id, x.counter, x.total
    from public.mashup_realtime_totals t
    cross join lateral (values ('plays', t.plays), ('likes', t.likes), ('shares', t.shares),
                               ('comments', t.comments), ('downloads', t.downloads),
                               ('reactions', t.reactions)) as x (counter, total)
    union all
    select 'creator', c.creator_id, 'followers', c.followers from public.creator_realtime_totals c
  ),
  parsed as (
    select * from public.parse_realtime_counter_deltas(p_outstanding)
  ),
  outstanding as (
    -- Only deltas the sync would apply (an existing mashup or user): the others are dropped there.
    select p.kind, p.subject_id, p.counter, sum(p.delta) as delta
    from parsed p
    where (p.kind = 'mashup' and p.counter in ('plays', 'likes', 'shares', 'comments', 'downloads', 'reactions')
           and exists (select 1 from public.mashups m where m.id = p.subject_id))
       or (p.kind = 'creator' and p.counter = 'followers'
           and aggregation.user_exists(p.subject_id))
    group by 1, 2, 3
  ),
  compared as (
    select k.kind, k.subject_id, k.counter,
           coalesce(r.expected, 0) as expected,
           coalesce(t.total, 0) + coalesce(o.delta, 0) as counted,
           coalesce(r.uncertain, 0) as uncertain
    from (select kind, subject_id, counter from raw
          union select kind, subject_id, counter from totals
          union select kind, subject_id, counter from outstanding) k
    left join raw r using (kind, subject_id, counter)
    left join totals t using (kind, subject_id, counter)
    left join outstanding o using (kind, subject_id, counter)
  ),
  judged as (
    select c.*,
           c.expected - c.counted as repair
    from compared c
  ),
  logged as (
    insert into public.realtime_drift (run_id, subject_kind, subject_id, counter, expected, counted, uncertain, repaired)
    select v_run, j.kind, j.subject_id, j.counter, j.expected, j.counted, j.uncertain, j.repair
    from judged j where j.repair <> 0
    returning 1
  ),
  mashup_rows as (
    insert into public.mashup_realtime_totals as t
      (mashup_id, plays, likes, shares, comments, downloads, reactions, updated_at)
    select j.subject_id,
           coalesce(sum(j.repair) filter (where j.counter = 'plays'), 0),
           coalesce(sum(j.repair) filter (where j.counter = 'likes'), 0),
           coalesce(sum(j.repair) filter (where j.counter = 'shares'), 0),
           coalesce(sum(j.repair) filter (where j.counter = 'comments'), 0),
           coalesce(sum(j.repair) filter (where j.counter = 'downloads'), 0),
           coalesce(sum(j.repair) filter (where j.counter = 'reactions'), 0),
           now()
    from judged j
    where j.kind = 'mashup' and j.repair <> 0
    group by j.subject_id
    on conflict (mashup_id) do update set
      plays = t.plays + excluded.plays,
      likes = t.likes + excluded.likes,
      shares = t.shares + excluded.shares,
      comments = t.comments + excluded.comments,
      downloads = t.downloads + excluded.downloads,
      reactions = t.reactions + excluded.reactions,
      updated_at = excluded.updated_at
    returning 1
  ),
  creator_rows as (
    insert into public.creator_realtime_totals as t (creator_id, followers, updated_at)
    select j.subject_id, sum(j.repair), now()
    from judged j
    where j.kind = 'creator' and j.repair <> 0
    group by j.subject_id
    on conflict (creator_id) do update set
      followers = t.followers + excluded.followers,
      updated_at = excluded.updated_at
    returning 1
  )
  select jsonb_build_object(
           'run_id', v_run,
           'counters_checked', count(*),
           'counters_repaired', count(*) filter (where j.repair <> 0),
           'increments_repaired', coalesce(sum(j.repair), 0),
           'counters_uncertain', count(*) filter (where j.expected <> j.counted + j.repair))
  into v_result
  from judged j;

  update public.realtime_reconcile_runs r
  set counters_checked = (v_result ->> 'counters_checked')::integer,
      counters_repaired = (v_result ->> 'counters_repaired')::integer,
      increments_repaired = (v_result ->> 'increments_repaired')::bigint,
      counters_uncertain = (v_result ->> 'counters_uncertain')::integer
  where r.run_id = v_run;

  return v_result;
end;
$function$;

CREATE OR REPLACE FUNCTION raw_events.keep_removed_realtime_counts()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  insert into raw_events.removed_realtime_counts as k (kind, subject_id, counter, received_at, events)
  select case when c.counter = 'followers' then 'creator' else 'mashup' end, c.subject_id, c.counter,
         c.received_at, count(*)
  from (select raw_events.realtime_counter(raw_events.event_type(r.event_code, r.event_name)) as counter,
               r.mashup_id, r.properties, r.received_at
        from removed r) e
  cross join lateral (select e.counter, raw_events.realtime_subject(e.counter, e.mashup_id, e.properties) as subject_id,
                             e.received_at) c
  where c.subject_id is not null
    -- Only what the reconciliation counts: an existing mashup, an existing user.
    and (case when c.counter = 'followers'
              then aggregation.user_exists(c.subject_id)
              else exists (select 1 from public.mashups m where m.id = c.subject_id) end)
  group by 1, 2, 3, 4
  on conflict (kind, subject_id, counter, received_at) do update set events = k.events + excluded.events;
  return null;
end;
$function$;

CREATE OR REPLACE FUNCTION raw_events.drop_expired(p_now timestamp with time zone DEFAULT now())
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_horizon timestamptz := raw_events.horizon(p_now);
  v_month date;
  v_month_end timestamptz;
  v_final date[] := '{}'::date[];
  v_part text;
  v_ids bigint;
  v_n bigint;
  v_parts integer;
  v_dropped integer := 0;
begin
  -- Decide every month first, then drop: a check must not run on a plan that saw a dropped partition.
  for v_month in
    select distinct to_date(right(c.relname, 6), 'YYYYMM')
    from pg_catalog.pg_inherits i
    join pg_catalog.pg_class c on c.oid = i.inhrelid
    where i.inhparent in ('raw_events.analytics_events'::regclass, 'public.analytics_bot_events'::regclass)
      and c.relnamespace = 'raw_events'::regnamespace and c.relname ~ '_p[0-9]{6}$'
    order by 1
  loop
    v_month_end := (v_month + interval '1 month')::timestamp at time zone 'UTC';
    continue when v_month_end > v_horizon;
    if raw_events.rollups_final(v_month_end) then
      v_final := v_final || v_month;
    else
      insert into raw_events.maintenance_log (action, month, detail)
      values ('kept', v_month, 'past the horizon, but its rollups are not final yet');
    end if;
  end loop;

  foreach v_month in array v_final loop
    v_parts := 0;
    v_ids := 0;
    foreach v_part in array array['analytics_events', 'analytics_bot_events'] loop
      v_part := v_part || '_p' || to_char(v_month, 'YYYYMM');
      if to_regclass('raw_events.' || v_part) is not null then
        -- The live totals keep counting the month's events (DROP fires no delete trigger).
        if v_part like 'analytics_events_%' then
          execute format($sql$
            insert into raw_events.removed_realtime_counts as k (kind, subject_id, counter, received_at, events)
            select case when c.counter = 'followers' then 'creator' else 'mashup' end, c.subject_id, c.counter,
                   max(c.received_at), count(*)
            from (select raw_events.realtime_counter(raw_events.event_type(e.event_code, e.event_name)) as counter,
                         e.mashup_id, e.properties, e.received_at
                  from raw_events.%I e) x
            cross join lateral (select x.counter, raw_events.realtime_subject(x.counter, x.mashup_id, x.properties) as subject_id,
                                       x.received_at) c
            where c.subject_id is not null
              and (case when c.counter = 'followers'
                        then aggregation.user_exists(c.subject_id)
                        else exists (select 1 from public.mashups m where m.id = c.subject_id) end)
            group by 1, 2, 3
            on conflict (kind, subject_id, counter, received_at) do update set events = k.events + excluded.events
          $sql$, v_part);
        end if;
        -- The month's ids first, by its own rows (no event of a dropped month can come back: the
        -- horizon refuses it).
        execute format('delete from public.analytics_event_ids i using raw_events.%I e where i.id = e.id', v_part);
        get diagnostics v_n = row_count;
        v_ids := v_ids + v_n;
        execute format('drop table raw_events.%I', v_part);
        v_parts := v_parts + 1;
      end if;
    end loop;
    insert into raw_events.maintenance_log (action, month, partitions, event_ids_deleted, detail)
    values ('dropped', v_month, v_parts, v_ids, 'past the horizon ' || v_horizon || ' and final');
    -- The horizon never goes back past a dropped month (raw_events.horizon).
    update raw_events.settings s
    set dropped_through = greatest(s.dropped_through, (v_month + interval '1 month')::timestamp at time zone 'UTC')
    where true; -- one row
    v_dropped := v_dropped + v_parts;
  end loop;

  -- Kept counts older than a day are before any fence (a fence is at least the reconciling
  -- caller's clock): merged into one row per counter; those of deleted mashups and users go.
  with merged as (
    delete from raw_events.removed_realtime_counts k
    where k.received_at > '-infinity' and k.received_at < now() - interval '1 day'
    returning k.kind, k.subject_id, k.counter, k.events
  )
  insert into raw_events.removed_realtime_counts as k (kind, subject_id, counter, received_at, events)
  select m.kind, m.subject_id, m.counter, '-infinity', sum(m.events)
  from merged m
  group by 1, 2, 3
  on conflict (kind, subject_id, counter, received_at) do update set events = k.events + excluded.events;
  delete from raw_events.removed_realtime_counts k
  where case when k.kind = 'creator'
             then not aggregation.user_exists(k.subject_id)
             else not exists (select 1 from public.mashups m where m.id = k.subject_id) end;
  return v_dropped;
end;
$function$;
