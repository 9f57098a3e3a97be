-- The fold writes its per-mashup rollups and the lifetime listener set with less work per row
-- (issue 10).
--
--   * A new listener's row in public.mashup_listeners is a plain INSERT, not INSERT ... ON CONFLICT
--     DO NOTHING. fold_listeners() already probes the set for every listener of the batch (the
--     `known_first` join); the speculative insertion probed the same key again. The rows it inserts
--     are one per (mashup, listener) (the batch's first day) and none of them is in the set in the
--     statement's snapshot; only aggregation jobs write the set, one at a time under
--     aggregation.lock(), so no other transaction inserts them meanwhile. The batch's listeners are
--     taken in the set's key order, so its probes walk the index in order.
--   * mashup_quarter_hour_stats, mashup_quarter_hour_breakdowns, mashup_lifetime_stats,
--     creator_quarter_hour_stats and mashup_daily_retention are written with MERGE instead of
--     INSERT ... ON CONFLICT DO UPDATE, in key order. Both probe the primary key and then update in
--     place or insert; ON CONFLICT also locked each existing row before updating it (a WAL record
--     and a page write more per row). Safe for the same reason: one writer at a time, under
--     aggregation.lock(). MERGE is planned like a join, so it is used only where no other index can
--     serve a join on the key: the bucket-only indexes of the two quarter-hour rollups become
--     partial in 20261126230100 (with today's bucket beyond the statistics the planner probed them,
--     which hold every mashup's row of the bucket: 3 s instead of ~50 ms a run). mashup_daily_stats,
--     user_daily_stats and creator_daily_breakdowns keep ON CONFLICT (indexes on the day alone that
--     serve reads by day). MERGE has no RETURNING in PostgreSQL 15: rows a negative delta (a day
--     recount, a play moved to another bucket) may have emptied are deleted by a second statement,
--     among the keys that had a negative delta; keys are inserted only with something to count.
--
-- Measured (50k-event runs of 3 events per play, old and new functions alternating before each run,
-- 8 runs each, medians, statements timed by auto_explain): on bench15 the plain insert and the
-- MERGE of the three tables whose only index is the key: listener sets 337 -> 303 ms, retention
-- 42.5 -> 36.5 ms, counts 178.5 -> 170.5 ms, the run 1,406 -> 1,354 ms; then on bench16 the
-- listeners in key order and the MERGE of the quarter-hour rollups: listener sets 263 -> 235 ms,
-- buckets 38.3 -> 29.9 ms, breakdowns 49.9 -> 38.8 ms, the run 1,327 -> 1,299 ms. pgTAP 22, 24-27
-- and 60 compare every row with recounts from raw events.

create or replace function aggregation.fold_listeners()
returns bigint
language plpgsql
security invoker
set search_path = ''
set plan_cache_mode = force_custom_plan
set enable_hashjoin = off
set enable_mergejoin = off
as $$
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
$$;

create or replace function aggregation.fold_counts()
returns bigint
language plpgsql
security invoker
set search_path = ''
set plan_cache_mode = auto
set enable_hashjoin = off
set enable_mergejoin = off
as $$
declare
  v_rows bigint := 0;
  v_n bigint;
  v_ids uuid[];
  v_days date[];
begin
  -- A rollup row is written by one MERGE where no index but the primary key can serve the probe
  -- (see the lifetime rows below); the day-grain index on the buckets is partial since
  -- 20261126230100, so a join on the key cannot use it. Inputs in key order: consecutive rows land
  -- on the same index leaves.
  merge into public.mashup_quarter_hour_stats as t
  using (
    select c.mashup_id, c.bucket_start, sum(c.plays)::integer as plays, sum(c.likes)::integer as likes,
           sum(c.shares)::integer as shares, sum(c.comments)::integer as comments,
           sum(c.downloads)::integer as downloads
    from aggregation.fold_count_deltas c group by 1, 2 order by 1, 2
  ) d on t.mashup_id = d.mashup_id and t.bucket_start = d.bucket_start
  when matched then update set
    plays = t.plays + d.plays, likes = t.likes + d.likes, shares = t.shares + d.shares,
    comments = t.comments + d.comments, downloads = t.downloads + d.downloads
  when not matched and (d.plays <> 0 or d.likes <> 0 or d.shares <> 0 or d.comments <> 0 or d.downloads <> 0) then
    insert (mashup_id, bucket_start, plays, likes, shares, comments, downloads)
    values (d.mashup_id, d.bucket_start, d.plays, d.likes, d.shares, d.comments, d.downloads);
  get diagnostics v_n = row_count;
  v_rows := v_rows + v_n;
  -- Rows exist only for keys with something to count: a row a negative delta (a day recount) may
  -- have emptied is deleted, among the keys that had one.
  delete from public.mashup_quarter_hour_stats t
  using (select distinct c.mashup_id, c.bucket_start from aggregation.fold_count_deltas c
         where c.plays < 0 or c.likes < 0 or c.shares < 0 or c.comments < 0 or c.downloads < 0) k
  where t.mashup_id = k.mashup_id and t.bucket_start = k.bucket_start
    and t.plays = 0 and t.likes = 0 and t.shares = 0 and t.comments = 0 and t.downloads = 0;

  -- UTC days: the sum of their buckets' changes, the day's new listeners and the new average of the
  -- start days whose plays changed, in one write per row. (A row gets an average only from
  -- fold_day_averages; a null new average - every play of the day moved away - is set below.)
  with x as (
    select c.mashup_id, (c.bucket_start at time zone 'UTC')::date as date, c.plays, c.likes, c.shares,
           c.comments, c.downloads, 0 as listeners, null::numeric as avg_watch_time
    from aggregation.fold_count_deltas c
    union all
    select l.mashup_id, l.date, 0, 0, 0, 0, 0, l.listeners, null from aggregation.fold_daily_listener_deltas l
    union all
    select a.mashup_id, a.date, 0, 0, 0, 0, 0, 0, a.avg_watch_time from aggregation.fold_day_averages a
  ),
  d as (
    select x.mashup_id, x.date, sum(x.plays)::integer as plays, sum(x.likes)::integer as likes,
           sum(x.shares)::integer as shares, sum(x.comments)::integer as comments,
           sum(x.downloads)::integer as downloads, sum(x.listeners)::integer as listeners,
           max(x.avg_watch_time) as avg_watch_time
    from x group by 1, 2
  ),
  up as (
    insert into public.mashup_daily_stats as t
      (mashup_id, date, plays, unique_plays, likes, shares, comments, downloads, avg_watch_time)
    select d.mashup_id, d.date, d.plays, d.listeners, d.likes, d.shares, d.comments, d.downloads, d.avg_watch_time
    from d
    on conflict (mashup_id, date) do update set
      plays = coalesce(t.plays, 0) + excluded.plays, likes = coalesce(t.likes, 0) + excluded.likes,
      shares = coalesce(t.shares, 0) + excluded.shares, comments = coalesce(t.comments, 0) + excluded.comments,
      downloads = coalesce(t.downloads, 0) + excluded.downloads,
      unique_plays = coalesce(t.unique_plays, 0) + excluded.unique_plays,
      avg_watch_time = coalesce(excluded.avg_watch_time, t.avg_watch_time)
    returning t.mashup_id, t.date,
              (t.plays = 0 and t.likes = 0 and t.shares = 0 and t.comments = 0 and t.downloads = 0) as zero
  )
  select count(*), array_agg(up.mashup_id) filter (where up.zero), array_agg(up.date) filter (where up.zero)
  into v_n, v_ids, v_days from up;
  v_rows := v_rows + v_n;
  if v_ids is not null then
    delete from public.mashup_daily_stats t using unnest(v_ids, v_days) as k (id, day)
    where t.mashup_id = k.id and t.date = k.day
      and t.plays = 0 and t.likes = 0 and t.shares = 0 and t.comments = 0 and t.downloads = 0;
  end if;
  update public.mashup_daily_stats t set avg_watch_time = null
  from aggregation.fold_day_averages a
  where a.avg_watch_time is null and t.mashup_id = a.mashup_id and t.date = a.date and t.avg_watch_time is not null;

  -- Lifetime: counts, new listeners and the plays' retention changes, one write per mashup. A MERGE:
  -- the primary key's probe, then an update in place or an insert (INSERT ... ON CONFLICT DO UPDATE
  -- also locked each existing row before updating it, a WAL record and a page write more per row).
  -- Only aggregation jobs write the rollups, one at a time under aggregation.lock(), so no other
  -- transaction inserts the same key meanwhile; the primary key is the table's only index, so the
  -- probe is the one ON CONFLICT made.
  merge into public.mashup_lifetime_stats as t
  using (
    select x.mashup_id, sum(x.plays) as plays, sum(x.likes) as likes, sum(x.shares) as shares,
           sum(x.comments) as comments, sum(x.downloads) as downloads, sum(x.listeners) as listeners,
           sum(x.tracked_plays) as tracked_plays, sum(x.completed_plays) as completed_plays,
           sum(x.watch_time_seconds) as watch_time_seconds
    from (
      select c.mashup_id, c.plays::bigint as plays, c.likes::bigint as likes, c.shares::bigint as shares,
             c.comments::bigint as comments, c.downloads::bigint as downloads, 0::bigint as listeners,
             0::bigint as tracked_plays, 0::bigint as completed_plays, 0::numeric as watch_time_seconds
      from aggregation.fold_count_deltas c
      union all
      select l.mashup_id, 0, 0, 0, 0, 0, l.listeners, 0, 0, 0 from aggregation.fold_lifetime_listener_deltas l
      union all
      select r.mashup_id, 0, 0, 0, 0, 0, 0, r.plays, r.completed_plays, r.watch_time_seconds
      from aggregation.fold_retention_deltas r
    ) x
    group by 1 order by 1
  ) d on t.mashup_id = d.mashup_id
  when matched then update set
    plays = t.plays + d.plays, likes = t.likes + d.likes, shares = t.shares + d.shares,
    comments = t.comments + d.comments, downloads = t.downloads + d.downloads,
    unique_plays = t.unique_plays + d.listeners,
    tracked_plays = t.tracked_plays + d.tracked_plays,
    completed_plays = t.completed_plays + d.completed_plays,
    watch_time_seconds = t.watch_time_seconds + d.watch_time_seconds,
    avg_watch_time = round((t.watch_time_seconds + d.watch_time_seconds) / nullif(t.tracked_plays + d.tracked_plays, 0), 2)
  when not matched then
    insert (mashup_id, plays, unique_plays, likes, shares, comments, downloads, tracked_plays, completed_plays,
            watch_time_seconds, avg_watch_time)
    values (d.mashup_id, d.plays, d.listeners, d.likes, d.shares, d.comments, d.downloads, d.tracked_plays,
            d.completed_plays, d.watch_time_seconds, round(d.watch_time_seconds / nullif(d.tracked_plays, 0), 2));
  get diagnostics v_n = row_count;
  v_rows := v_rows + v_n;

  -- The creator's buckets: the sum over their mashups (a MERGE, as above; the primary key is the
  -- table's only index). A row a negative delta (a day recount) may have emptied is deleted after,
  -- among the keys that had one.
  merge into public.creator_quarter_hour_stats as t
  using (
    select m.creator_id, c.bucket_start, sum(c.plays)::integer as plays, sum(c.likes)::integer as likes,
           sum(c.shares)::integer as shares
    from aggregation.fold_count_deltas c join public.mashups m on m.id = c.mashup_id
    group by 1, 2
    having sum(c.plays) <> 0 or sum(c.likes) <> 0 or sum(c.shares) <> 0
    order by 1, 2
  ) d on t.creator_id = d.creator_id and t.bucket_start = d.bucket_start
  when matched then update set plays = t.plays + d.plays, likes = t.likes + d.likes, shares = t.shares + d.shares
  when not matched then
    insert (creator_id, bucket_start, plays, likes, shares) values (d.creator_id, d.bucket_start, d.plays, d.likes, d.shares);
  get diagnostics v_n = row_count;
  v_rows := v_rows + v_n;
  delete from public.creator_quarter_hour_stats t
  using (select distinct m.creator_id, c.bucket_start
         from aggregation.fold_count_deltas c join public.mashups m on m.id = c.mashup_id
         where c.plays < 0 or c.likes < 0 or c.shares < 0) k
  where t.creator_id = k.creator_id and t.bucket_start = k.bucket_start
    and t.plays = 0 and t.likes = 0 and t.shares = 0;

  -- plays_received = the plays of the creator's mashups that UTC day.
  with d as (
    select m.creator_id, (c.bucket_start at time zone 'UTC')::date as date, sum(c.plays)::integer as plays
    from aggregation.fold_count_deltas c join public.mashups m on m.id = c.mashup_id
    group by 1, 2 having sum(c.plays) <> 0
  ),
  up as (
    insert into public.user_daily_stats as t (user_id, date, mashups_created, plays_received, followers_gained)
    select d.creator_id, d.date, 0, d.plays, 0 from d
    on conflict (user_id, date) do update set plays_received = coalesce(t.plays_received, 0) + excluded.plays_received
    returning t.user_id, t.date, (coalesce(t.mashups_created, 0) = 0 and coalesce(t.plays_received, 0) = 0
                                  and coalesce(t.followers_gained, 0) = 0) as zero
  )
  select count(*), array_agg(up.user_id) filter (where up.zero), array_agg(up.date) filter (where up.zero)
  into v_n, v_ids, v_days from up;
  if v_ids is not null then
    delete from public.user_daily_stats t using unnest(v_ids, v_days) as k (id, day)
    where t.user_id = k.id and t.date = k.day and coalesce(t.mashups_created, 0) = 0
      and coalesce(t.plays_received, 0) = 0 and coalesce(t.followers_gained, 0) = 0;
  end if;
  return v_rows + v_n;
end;
$$;

create or replace function aggregation.fold_plays()
returns bigint
language plpgsql
security invoker
set search_path = ''
set plan_cache_mode = force_custom_plan
set enable_hashjoin = off
set enable_mergejoin = off
as $$
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
$$;

create or replace function aggregation.fold_breakdowns()
returns bigint
language plpgsql
security invoker
set search_path = ''
set plan_cache_mode = force_custom_plan
set enable_hashjoin = off
set enable_mergejoin = off
as $$
declare
  v_rows bigint := 0;
  v_n bigint;
  v_ids uuid[];
  v_days date[];
begin
  -- A MERGE, as in fold_counts(): the bucket-only index is partial (20261126230100), so the probe
  -- goes through the primary key. A key is inserted only with plays to count; a row a negative
  -- delta (a day recount) may have emptied is deleted after, among the keys that had one.
  merge into public.mashup_quarter_hour_breakdowns as t
  using (
    select b.mashup_id, b.bucket_start, b.source, b.country, b.device, sum(b.plays)::integer as plays
    from aggregation.fold_breakdown_deltas b group by 1, 2, 3, 4, 5 having sum(b.plays) <> 0
    order by 1, 2, 3, 4, 5
  ) d on t.mashup_id = d.mashup_id and t.bucket_start = d.bucket_start and t.source = d.source
     and t.country = d.country and t.device = d.device
  when matched then update set plays = t.plays + d.plays
  when not matched then
    insert (mashup_id, bucket_start, source, country, device, plays)
    values (d.mashup_id, d.bucket_start, d.source, d.country, d.device, d.plays);
  get diagnostics v_n = row_count;
  v_rows := v_rows + v_n;
  delete from public.mashup_quarter_hour_breakdowns t
  using (select distinct b.mashup_id, b.bucket_start from aggregation.fold_breakdown_deltas b where b.plays < 0) k
  where t.mashup_id = k.mashup_id and t.bucket_start = k.bucket_start and t.plays = 0;

  -- The creator's days keep INSERT ... ON CONFLICT: their index on the day alone serves reads by
  -- day, and a MERGE could be planned through it.
  with d as (
    select m.creator_id, (b.bucket_start at time zone 'UTC')::date as date, b.source, b.country, b.device,
           sum(b.plays)::integer as plays
    from aggregation.fold_breakdown_deltas b join public.mashups m on m.id = b.mashup_id
    group by 1, 2, 3, 4, 5 having sum(b.plays) <> 0
  ),
  up as (
    insert into public.creator_daily_breakdowns as t (creator_id, date, source, country, device, plays)
    select d.creator_id, d.date, d.source, d.country, d.device, d.plays from d
    on conflict (creator_id, date, source, country, device) do update set plays = t.plays + excluded.plays
    returning t.creator_id, t.date, t.plays = 0 as zero
  )
  select count(*), array_agg(up.creator_id) filter (where up.zero), array_agg(up.date) filter (where up.zero)
  into v_n, v_ids, v_days from up;
  if v_ids is not null then
    delete from public.creator_daily_breakdowns t using unnest(v_ids, v_days) as k (id, day)
    where t.creator_id = k.id and t.date = k.day and t.plays = 0;
  end if;
  return v_rows + v_n;
end;
$$;
