-- Every fold refolds the mashups whose duration was edited, not only the incremental run (outside
-- audit, 2026-11-28, finding 4 on 20261128000100).
--
-- Only run_incremental drained aggregation.pending_duration_refolds. The plan's day functions
-- (aggregation.fold_day_pending: aggregate_mashup_stats, run_nightly) and the day rebuilds
-- (aggregation.mashup_days: backfill, mashup_day, repairs) fold the plays they touch at the
-- mashup's current duration and left the mashup's other plays at the previous one until the next
-- incremental run: 20 plays completed at 100 s, an edit to 200 s, then
-- aggregate_mashup_stats(yesterday) left 19 plays at 100 s and one at 200 s, and the dashboard said
-- "completionRate 95" beside "95 % stopped by 120 s". Now fold_day_pending refolds the queued
-- mashups after its fold and mashup_days before its rebuild, under the lock each already holds (a
-- no-op when nothing is queued: one EXISTS). Bodies otherwise as in 20261126020450 and
-- 20261127000800.

create or replace function aggregation.mashup_days(p_from date, p_to date)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
 SET plan_cache_mode TO 'force_custom_plan'
AS $function$
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
  -- Mashups whose duration was edited since the last run, first: the rebuild below folds the plays
  -- it touches at the current duration, so the mashup's other plays must be there too.
  perform aggregation.run_pending_duration_refolds();

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
$function$;

create or replace function aggregation.fold_day_pending(p_day date, p_types text[])
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
 SET plan_cache_mode TO 'force_custom_plan'
AS $function$
declare
  v_t0 timestamptz := aggregation.day_start(p_day);
  v_t1 timestamptz := aggregation.day_start(p_day + 1);
  v_result jsonb;
begin
  perform aggregation.lock(true);
  perform aggregation.fold_reset();
  with taken as (
    delete from aggregation.pending_events q
    where q."timestamp" >= v_t0 and q."timestamp" < v_t1 and q.event_type = any (p_types)
    returning q.*
  )
  insert into aggregation.fold_batch select * from taken;
  v_result := aggregation.fold_new_events();
  -- Mashups whose duration was edited since the last run: all their plays at the current duration,
  -- not only those this fold touched.
  perform aggregation.run_pending_duration_refolds();
  return v_result;
end;
$function$;
