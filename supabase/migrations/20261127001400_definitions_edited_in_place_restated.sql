-- Databases upgraded from states where a landed migration was later edited in place get the
-- definitions a fresh database has (outside audit of upgrades, 2026-11-27).
--
-- A landed migration is history: a database that applied it never runs it again. Some migration
-- files were edited after commits that carried them, so a database built at one of those commits
-- and upgraded with `supabase migration up` kept the old text (found by building each first-parent
-- state of the repository and upgrading it with the CLI, then diffing `pg_dump --schema-only`
-- against a fresh database):
--   * 20261125120100 gained public.parse_realtime_counter_deltas (e04b96b): databases built between
--     0981f84 and f91b5fd lack it, and reconcile_realtime_totals (20261126045100), which calls it,
--     failed there: the hourly reconciliation and the recovery after a Redis loss answered 503;
--   * 20261125130000: get_mashup_analytics (now dashboard.) kept `raise ... errcode 'P0002'`, which
--     PostgREST answers 400, where the edited text answers 404 (9e83faa);
--   * 20261126230000: fold_listeners and fold_plays without their key-order probes (551952e);
--   * 20261127001000: days_without_raw_events's untyped empty array, which `db lint` flags (fe879c4);
--   * 20261126140100: comments;
--   * 20261126045000: public.realtime_recent_activity, dropped by the edited text (4bc2d5a).
-- Each object below is restated as a fresh database defines it (pg_get_functiondef of one), so on a
-- fresh database this migration changes nothing. Files are no longer edited once a commit on main
-- carries them (docs/decisions.md).


CREATE OR REPLACE FUNCTION public.parse_realtime_counter_deltas(p_deltas jsonb)
 RETURNS TABLE(kind text, subject_id uuid, counter text, delta bigint)
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO ''
AS $function$
  select split_part(d.key, ':', 1),
         case when length(split_part(d.key, ':', 2)) = 36
               and translate(lower(split_part(d.key, ':', 2)), '0123456789abcdef', '') = '----'
               and substr(d.key, strpos(d.key, ':') + 9, 1) = '-'
               and substr(d.key, strpos(d.key, ':') + 14, 1) = '-'
               and substr(d.key, strpos(d.key, ':') + 19, 1) = '-'
               and substr(d.key, strpos(d.key, ':') + 24, 1) = '-'
              then split_part(d.key, ':', 2)::uuid end,
         split_part(d.key, ':', 3),
         (d.value)::bigint
  from jsonb_each_text(p_deltas) as d (key, value);
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
               then exists (select 1 from auth.users u where u.id = p.subject_id)
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

CREATE OR REPLACE FUNCTION dashboard.get_mashup_analytics(p_mashup_id uuid, p_start date, p_end date, p_tz text DEFAULT 'UTC'::text)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
AS $function$
declare
  bounds record;
  m record;
  result jsonb;
begin
  select * into bounds from public.dashboard_period_bounds(p_start, p_end, p_tz);
  -- RLS hides another creator's mashup: it is then exactly as missing as one that does not exist.
  -- Code P0002 (no_data_found) with HTTP status 404, from PostgREST and the Edge Function alike.
  select mm.id, mm.title, mm.created_at, mm.duration_seconds into m
  from public.mashups mm where mm.id = p_mashup_id;
  if not found then
    -- PostgREST's custom-status form: clients get 404 {"code":"P0002",...} from RPC as well.
    raise sqlstate 'PGRST' using
      message = json_build_object('code', 'P0002', 'message', 'mashup not found', 'hint', 'id',
                                  'details', null)::text,
      detail = json_build_object('status', 404, 'headers', json_build_object())::text;
  end if;

  with buckets as (
    select s.bucket_start, s.plays, s.likes
    from public.mashup_quarter_hour_stats s
    where s.mashup_id = m.id and s.bucket_start >= bounds.start_at and s.bucket_start < bounds.end_at
  ),
  days as (
    select d::date as day from generate_series(p_start::timestamp, (p_end - 1)::timestamp, interval '1 day') as d
  ),
  per_day as (
    select days.day, coalesce(sum(b.plays), 0)::bigint as plays, coalesce(sum(b.likes), 0)::bigint as likes
    from days left join buckets b on (b.bucket_start at time zone p_tz)::date = days.day
    group by days.day
  ),
  per_hour as (
    select extract(hour from b.bucket_start at time zone p_tz)::integer as hour, sum(b.plays)::bigint as plays
    from buckets b group by 1 having sum(b.plays) > 0
  ),
  plays as (
    select ps.furthest_position_seconds as furthest, ps.completed
    from public.mashup_play_summaries ps
    where ps.mashup_id = m.id and ps.started_at >= bounds.start_at and ps.started_at < bounds.end_at
  ),
  -- Drop-off checkpoints: every 30 seconds, and the end of the mashup.
  checkpoints as (
    select t from generate_series(30, m.duration_seconds - 1, 30) as t
    union select m.duration_seconds
  ),
  lifetime as (
    select l.plays, l.unique_plays, l.likes, l.shares, l.comments
    from public.mashup_lifetime_stats l where l.mashup_id = m.id
  )
  select jsonb_build_object(
    'mashup', jsonb_build_object('id', m.id, 'title', m.title, 'createdAt', m.created_at),
    'lifetime', jsonb_build_object(
      'plays', coalesce((select plays from lifetime), 0),
      'uniquePlays', coalesce((select unique_plays from lifetime), 0),
      'likes', coalesce((select likes from lifetime), 0),
      'shares', coalesce((select shares from lifetime), 0),
      'comments', coalesce((select comments from lifetime), 0)
    ),
    'retention', jsonb_build_object(
      'avgWatchTime', coalesce((select round(avg(furthest), 1) from plays), 0),
      'completionRate', coalesce((select round(100.0 * count(*) filter (where completed) / nullif(count(*), 0))::integer
                                  from plays), 0),
      'dropOffPoints', coalesce((
        select jsonb_agg(jsonb_build_object('time', c.t, 'percentage',
                 (select round(100.0 * count(*) filter (where p.furthest < c.t) / count(*))::integer from plays p))
               order by c.t)
        from checkpoints c where exists (select 1 from plays)
      ), '[]'::jsonb)
    ),
    'daily', (select jsonb_agg(jsonb_build_object('date', day, 'plays', plays, 'likes', likes) order by day)
              from per_day),
    'peakTimes', coalesce((select jsonb_agg(jsonb_build_object('hour', hour, 'plays', plays)
                                            order by plays desc, hour) from per_hour), '[]'::jsonb)
  ) into result;
  return result;
end;
$function$;

CREATE OR REPLACE FUNCTION aggregation.fold_listeners()
 RETURNS bigint
 LANGUAGE plpgsql
 SET search_path TO ''
 SET plan_cache_mode TO 'force_custom_plan'
 SET enable_hashjoin TO 'off'
 SET enable_mergejoin TO 'off'
AS $function$
declare
  v_rows bigint;
begin
  -- One statement: every part reads the lifetime set as it was before the batch (one probe per
  -- listener-day, through the primary key), and no CTE is joined with another CTE (no statistics).
  with b as materialized (
    select (f."timestamp" at time zone 'UTC')::date as date, f.mashup_id, f.listener_key,
           min(f."timestamp") as first_in_day
    from aggregation.fold_batch f
    where f.event_type = 'mashup_played' and f.listener_key is not null
      and exists (select 1 from public.mashups m where m.id = f.mashup_id)
    group by 1, 2, 3
    -- (In the lifetime set's key order: its probes, and the inserts after the window's sort, walk
    -- the index in order instead of landing on a random leaf each.)
    order by 2, 3
  ),
  k as materialized (
    select x.date, x.mashup_id, x.listener_key, x.batch_first, x.known_first,
           (least(x.batch_first, x.known_first) at time zone 'UTC')::date as first_day,
           (x.known_first at time zone 'UTC')::date as known_day,
           x.date = (x.batch_first at time zone 'UTC')::date as batch_first_day
    from (
      select b.date, b.mashup_id, b.listener_key,
             min(b.first_in_day) over (partition by b.mashup_id, b.listener_key) as batch_first,
             l.first_played_at as known_first
      from b left join public.mashup_listeners l on l.mashup_id = b.mashup_id and l.listener_key = b.listener_key
    ) x
  ),
  -- Lifetime: new listeners are inserted (one row per listener: its batch's first day; a plain
  -- INSERT, as `known_first` already probed the key); a known listener's row is only written when
  -- the batch holds an earlier first play.
  new_listeners as (
    insert into public.mashup_listeners (mashup_id, listener_key, first_played_at)
    select k.mashup_id, k.listener_key, k.batch_first from k
    where k.known_first is null and k.batch_first_day
    returning mashup_id
  ),
  lifetime_deltas as (
    insert into aggregation.fold_lifetime_listener_deltas (mashup_id, listeners)
    select n.mashup_id, count(*)::integer from new_listeners n group by 1
    returning 1
  ),
  earlier as (
    update public.mashup_listeners t set first_played_at = k.batch_first
    from k
    where k.known_first is not null and k.batch_first_day and k.batch_first < k.known_first
      and t.mashup_id = k.mashup_id and t.listener_key = k.listener_key
    returning 1
  ),
  -- Days after the first day: a row each; new rows are new listeners of that day. (The old first
  -- day of a listener whose first play moved back is excluded here and inserted below, uncounted.)
  later_days as (
    insert into aggregation.mashup_daily_listeners (date, mashup_id, listener_key)
    select k.date, k.mashup_id, k.listener_key from k
    where k.date > k.first_day and k.date is distinct from k.known_day
    on conflict do nothing
    returning date, mashup_id
  ),
  moved_first_days as (
    insert into aggregation.mashup_daily_listeners (date, mashup_id, listener_key)
    select k.known_day, k.mashup_id, k.listener_key from k
    where k.batch_first_day and k.known_day > k.first_day
    on conflict do nothing
    returning 1
  )
  insert into aggregation.fold_daily_listener_deltas (mashup_id, date, listeners)
  select n.mashup_id, n.date, count(*)::integer
  from (
    select d.mashup_id, d.date from later_days d
    union all
    -- The first day, when it is new: a new listener, or a first play moved back to an earlier day.
    select k.mashup_id, k.date from k
    where k.date = k.first_day and (k.known_first is null or k.date < k.known_day)
  ) n
  group by 1, 2;
  get diagnostics v_rows = row_count;
  return v_rows;
end;
$function$;

CREATE OR REPLACE FUNCTION aggregation.fold_plays()
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
begin
  -- (One pass per statement and joins only against indexed tables: joins between CTEs have no
  -- statistics, and a nested loop over two 25k-row CTEs is quadratic.)
  with p as (
    select b.play_id,
           min(b."timestamp") filter (where b.event_type = 'mashup_played' and b.mashup_id is not null) as started_at,
           (array_agg(b.id order by b."timestamp", b.id)
              filter (where b.event_type = 'mashup_played' and b.mashup_id is not null))[1] as started_event_id,
           (array_agg(b.mashup_id order by b."timestamp", b.id)
              filter (where b.event_type = 'mashup_played' and b.mashup_id is not null))[1] as mashup_id,
           max(b.position_seconds) filter (where b.event_type <> 'mashup_played') as max_pos,
           bool_or(b.event_type = 'mashup_play_ended') as ended
    from aggregation.fold_batch b
    where b.play_id is not null and b.event_type in ('mashup_played', 'mashup_play_progress', 'mashup_play_ended')
    group by b.play_id
  ),
  -- What is known of each play before this batch (the statement's snapshot): its summary, and its
  -- row in play_folds if it has one (a play has at most one of the two, except when its earliest
  -- start moved to a mashup that does not exist: then both, and both are folded in).
  known as (
    select p.*,
           s.play_id is not null as summarized, s.mashup_id as s_mashup_id, s.started_at as s_started_at,
           s.started_event_id as s_started_event_id, s.max_position_seconds as s_max, s.ended as s_ended,
           s.furthest_position_seconds as s_furthest, s.duration_seconds as s_duration, s.completed as s_completed,
           o.play_id is not null as pending, o.started_at as o_started_at, o.started_event_id as o_started_event_id,
           o.mashup_id as o_mashup_id, o.max_position_seconds as o_max, o.ended as o_ended
    from p
    left join public.mashup_play_summaries s on s.play_id = p.play_id
    left join aggregation.play_folds o on o.play_id = p.play_id
  ),
  -- The earliest start, by ("timestamp", id), of the summary and the play_folds row ...
  so as (
    select k.*,
           k.o_started_at is null
             or (k.s_started_at is not null
                 and (k.s_started_at, k.s_started_event_id) <= (k.o_started_at, k.o_started_event_id)) as s_first
    from known k
  ),
  so_start as (
    select x.*,
           case when x.s_first then x.s_started_at else x.o_started_at end as so_started_at,
           case when x.s_first then x.s_started_event_id else x.o_started_event_id end as so_started_event_id,
           case when x.s_first then x.s_mashup_id else x.o_mashup_id end as so_mashup_id
    from so x
  ),
  -- ... and of that and the batch's: the play's fold after this batch (min, max, or: order-free).
  batch_first as (
    select x.*,
           not (x.started_at is null
                or (x.so_started_at is not null
                    and (x.so_started_at, x.so_started_event_id) <= (x.started_at, x.started_event_id))) as b_first
    from so_start x
  ),
  folded as (
    select x.play_id, x.summarized, x.pending, x.s_mashup_id, x.s_started_at, x.s_started_event_id, x.s_max,
           x.s_ended, x.s_furthest, x.s_duration, x.s_completed,
           case when x.b_first then x.started_at else x.so_started_at end as started_at,
           case when x.b_first then x.started_event_id else x.so_started_event_id end as started_event_id,
           case when x.b_first then x.mashup_id else x.so_mashup_id end as mashup_id,
           greatest(x.s_max, x.o_max, x.max_pos) as max_pos,
           coalesce(x.s_ended, false) or coalesce(x.o_ended, false) or coalesce(x.ended, false) as ended
    from batch_first x
  ),
  -- Plays with a start and an existing mashup get (or keep) a summary; the rest wait in play_folds.
  -- One probe of the play's mashup: it has a summary (a start and an existing mashup) or waits.
  located as (
    select f.*, m.id is not null as mashup_exists, m.duration_seconds as duration
    from folded f left join public.mashups m on m.id = f.mashup_id
  ),
  new as (
    select f.*, least(greatest(coalesce(f.max_pos, 0), 0), f.duration) as furthest
    from located f
    where f.started_at is not null and f.mashup_exists
  ),
  changed as (
    select n.* from new n
    where not n.summarized
       or (n.s_mashup_id, n.s_started_at, n.s_started_event_id, n.s_max, n.s_furthest, n.s_duration, n.s_ended)
          is distinct from (n.mashup_id, n.started_at, n.started_event_id, n.max_pos, n.furthest, n.duration, n.ended)
  ),
  -- A play without a summary gets one with a plain INSERT; one with a summary has it updated. (The
  -- statement's snapshot knows which: only aggregation jobs write summaries, one at a time under
  -- aggregation.lock(). ON CONFLICT cost a speculative insertion per new play.)
  inserted as (
    insert into public.mashup_play_summaries
      (play_id, mashup_id, started_at, started_event_id, max_position_seconds, furthest_position_seconds,
       duration_seconds, completed, ended)
    select c.play_id, c.mashup_id, c.started_at, c.started_event_id, c.max_pos, c.furthest, c.duration,
           c.furthest >= 0.95 * c.duration, c.ended
    from changed c
    where not c.summarized
    returning 1
  ),
  updated as (
    update public.mashup_play_summaries t set
      mashup_id = c.mashup_id, started_at = c.started_at, started_event_id = c.started_event_id,
      max_position_seconds = c.max_pos, furthest_position_seconds = c.furthest,
      duration_seconds = c.duration, completed = c.furthest >= 0.95 * c.duration, ended = c.ended
    from changed c
    where c.summarized and t.play_id = c.play_id
    returning 1
  ),
  settled as (
    -- A play that now has its summary leaves play_folds (the summary holds its fold).
    delete from aggregation.play_folds t using new n
    where t.play_id = n.play_id and n.pending
    returning 1
  ),
  -- Plays without a start, or whose earliest start names a mashup that does not exist (a late
  -- played event can move a play to such a mashup): their fold waits in play_folds, and a summary
  -- they had is dropped (a play counts for its earliest played event's mashup, or not at all).
  missing as (
    select f.* from located f where f.started_at is null or not f.mashup_exists
  ),
  waiting as (
    insert into aggregation.play_folds as t (play_id, started_at, started_event_id, mashup_id, max_position_seconds, ended)
    select x.play_id, x.started_at, x.started_event_id, x.mashup_id, x.max_pos, x.ended from missing x
    on conflict (play_id) do update set
      started_at = excluded.started_at, started_event_id = excluded.started_event_id, mashup_id = excluded.mashup_id,
      max_position_seconds = excluded.max_position_seconds, ended = excluded.ended
    returning 1
  ),
  dropped as (
    delete from public.mashup_play_summaries t using missing x
    where t.play_id = x.play_id and x.summarized
    returning t.mashup_id, t.started_at, t.furthest_position_seconds, t.completed
  ),
  moved as (
    -- A changed play leaves its old (mashup, start day, position bucket) and enters the new one.
    insert into aggregation.fold_retention_deltas
      (mashup_id, date, position_bucket_seconds, plays, completed_plays, watch_time_seconds)
    select c.s_mashup_id, (c.s_started_at at time zone 'UTC')::date, (floor(c.s_furthest / 10) * 10)::integer,
           -1, -(c.s_completed::integer), -c.s_furthest
    from changed c where c.summarized
    union all
    select c.mashup_id, (c.started_at at time zone 'UTC')::date, (floor(c.furthest / 10) * 10)::integer,
           1, (c.furthest >= 0.95 * c.duration)::integer, c.furthest
    from changed c
    union all
    select d.mashup_id, (d.started_at at time zone 'UTC')::date, (floor(d.furthest_position_seconds / 10) * 10)::integer,
           -1, -(d.completed::integer), -d.furthest_position_seconds
    from dropped d
    returning 1
  )
  select (select count(*) from inserted) + (select count(*) from updated) + (select count(*) from waiting) + (select count(*) from dropped)
         + (select count(*) from settled) * 0 + (select count(*) from moved) * 0
  into v_n;
  v_rows := v_rows + v_n;

  -- One MERGE, as in fold_counts(): a bucket is inserted only with plays in it, and a bucket a play
  -- moved out of may be left empty: it is deleted after, among the buckets plays left.
  merge into public.mashup_daily_retention as t
  using (
    select r.mashup_id, r.date, r.position_bucket_seconds, sum(r.plays)::integer as plays,
           sum(r.completed_plays)::integer as completed_plays, sum(r.watch_time_seconds) as watch_time_seconds
    from aggregation.fold_retention_deltas r group by 1, 2, 3
    having sum(r.plays) <> 0 or sum(r.completed_plays) <> 0 or sum(r.watch_time_seconds) <> 0
    order by 1, 2, 3
  ) d on t.mashup_id = d.mashup_id and t.date = d.date and t.position_bucket_seconds = d.position_bucket_seconds
  when matched then update set
    plays = t.plays + d.plays, completed_plays = t.completed_plays + d.completed_plays,
    watch_time_seconds = t.watch_time_seconds + d.watch_time_seconds
  when not matched then
    insert (mashup_id, date, position_bucket_seconds, plays, completed_plays, watch_time_seconds)
    values (d.mashup_id, d.date, d.position_bucket_seconds, d.plays, d.completed_plays, d.watch_time_seconds);
  get diagnostics v_n = row_count;
  v_rows := v_rows + v_n;
  delete from public.mashup_daily_retention t
  using (select distinct r.mashup_id, r.date, r.position_bucket_seconds from aggregation.fold_retention_deltas r
         where r.plays < 0) k
  where t.mashup_id = k.mashup_id and t.date = k.date and t.position_bucket_seconds = k.position_bucket_seconds
    and t.plays = 0;

  -- The start days whose plays changed: their avg_watch_time from their retention rows (a few
  -- dozen each), written by fold_counts() together with the day's counts. (Lifetime watch time
  -- and completions come from fold_retention_deltas there too.)
  insert into aggregation.fold_day_averages (mashup_id, date, avg_watch_time)
  select k.mashup_id, k.date,
         (select round(sum(rt.watch_time_seconds) / nullif(sum(rt.plays), 0), 2)
          from public.mashup_daily_retention rt where rt.mashup_id = k.mashup_id and rt.date = k.date)
  from (select distinct r.mashup_id, r.date from aggregation.fold_retention_deltas r) k;
  get diagnostics v_n = row_count;
  return v_rows + v_n;
end;
$function$;

CREATE OR REPLACE FUNCTION aggregation.days_without_raw_events(p_from date, p_to date, p_user_rows boolean)
 RETURNS date[]
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
AS $function$
declare
  v_with_rows date[];
  v_day date;
  v_kept date[] := '{}'::date[];
begin
  if p_user_rows then
    select coalesce(array_agg(g.d::date order by g.d), '{}') into v_with_rows
    from generate_series(p_from::timestamp, (p_to - 1)::timestamp, interval '1 day') as g(d)
    where exists (select 1 from public.user_daily_stats u where u.date = g.d::date);
  else
    select coalesce(array_agg(g.d::date order by g.d), '{}') into v_with_rows
    from generate_series(p_from::timestamp, (p_to - 1)::timestamp, interval '1 day') as g(d)
    where exists (select 1 from public.mashup_daily_stats s where s.date = g.d::date);
  end if;
  foreach v_day in array v_with_rows loop
    if not exists (select 1 from public.analytics_events e
                   where e."timestamp" >= aggregation.day_start(v_day)
                     and e."timestamp" < aggregation.day_start(v_day + 1)) then
      v_kept := v_kept || v_day;
    end if;
  end loop;
  return v_kept;
end;
$function$;

revoke execute on function public.parse_realtime_counter_deltas(jsonb) from public, anon, authenticated;
grant execute on function public.parse_realtime_counter_deltas(jsonb) to service_role;

comment on column public.mashup_play_summaries.started_event_id is
  'The id of the play''s earliest mashup_played event (by timestamp, then id): the fold''s tie-break.';
comment on column public.mashup_play_summaries.max_position_seconds is
  'The largest position_seconds of the play''s progress/ended events, uncapped (null: none); '
  'furthest_position_seconds is it capped at the duration, 0 without any.';
comment on table aggregation.play_folds is
  'Per play without a summary yet (no played event, or its mashup does not exist), the order-free fold '
  '(min, max, or) of its events so far. A play with a summary is folded in public.mashup_play_summaries.';
comment on function aggregation.fold_plays() is
  'Folds the batch''s play events into each play''s summary (min/max/or: idempotent; plays without a '
  'summary yet, or whose earliest played event names a missing mashup, wait in play_folds), moves each changed play''s contribution in mashup_daily_retention '
  'and records the changed start days'' avg_watch_time in fold_day_averages (fold_counts() writes it, '
  'and the lifetime watch time, with the counts).';


drop function if exists public.realtime_recent_activity(timestamptz);
