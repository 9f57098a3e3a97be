-- The fold's own rollups check their mashup (creator) once per run, not once per written row.
--
-- Profiling a day rebuild (EXPLAIN ANALYZE with triggers, 1M events) showed ~40 % of its time in
-- foreign-key triggers: every row inserted or updated in a rollup fired an RI check against
-- public.mashups (or auth.users) - also for updates of rows inserted earlier in the same
-- transaction, which a fold does three times per (mashup, day) and lifetime row. The rollups are
-- written only by the aggregation functions, which already fold only events of existing mashups
-- (`exists (select 1 from public.mashups ...)`), so the checks found nothing; what the foreign keys
-- still gave is ON DELETE CASCADE and the guarantee that a mashup deleted while a run folds it
-- leaves no orphans. Both are kept here, set-based:
--
--   * statement-level AFTER DELETE triggers on public.mashups and auth.users delete the rollup rows
--     of the deleted keys (one statement per table, like the cascade did);
--   * aggregation.fold_lock_mashups() locks the batch's mashups FOR KEY SHARE before the fold
--     writes (what each RI check did per row, done once per mashup): a concurrent DELETE of one of
--     them waits until the run commits, and its cascade then sees (and deletes) what the run wrote.
--
-- The plan's own tables (mashup_daily_stats, user_daily_stats) keep their foreign keys as the plan
-- wrote them.

alter table public.mashup_quarter_hour_stats drop constraint mashup_quarter_hour_stats_mashup_id_fkey;
alter table public.mashup_quarter_hour_breakdowns drop constraint mashup_quarter_hour_breakdowns_mashup_id_fkey;
alter table public.mashup_play_summaries drop constraint mashup_play_summaries_mashup_id_fkey;
alter table public.mashup_daily_retention drop constraint mashup_daily_retention_mashup_id_fkey;
alter table public.mashup_listeners drop constraint mashup_listeners_mashup_id_fkey;
alter table public.mashup_lifetime_stats drop constraint mashup_lifetime_stats_mashup_id_fkey;
alter table aggregation.mashup_daily_listeners drop constraint mashup_daily_listeners_mashup_id_fkey;
alter table public.creator_quarter_hour_stats drop constraint creator_quarter_hour_stats_creator_id_fkey;
alter table public.creator_daily_breakdowns drop constraint creator_daily_breakdowns_creator_id_fkey;

-- The cascade. SECURITY DEFINER: a mashup or account is deleted by roles that may not write the
-- rollups (a creator deleting their mashup, the auth service deleting a user); the function takes
-- no input but the deleted rows and deletes exactly their rollup rows, as ON DELETE CASCADE did.
create function aggregation.delete_mashup_rollups()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  delete from public.mashup_quarter_hour_stats t using gone g where t.mashup_id = g.id;
  delete from public.mashup_quarter_hour_breakdowns t using gone g where t.mashup_id = g.id;
  delete from public.mashup_play_summaries t using gone g where t.mashup_id = g.id;
  delete from public.mashup_daily_retention t using gone g where t.mashup_id = g.id;
  delete from public.mashup_listeners t using gone g where t.mashup_id = g.id;
  delete from public.mashup_lifetime_stats t using gone g where t.mashup_id = g.id;
  delete from aggregation.mashup_daily_listeners t using gone g where t.mashup_id = g.id;
  return null;
end;
$$;
comment on function aggregation.delete_mashup_rollups() is
  'ON DELETE CASCADE of the fold''s per-mashup rollups (statement-level, set-based).';
create trigger mashups_delete_rollups after delete on public.mashups
  referencing old table as gone for each statement execute function aggregation.delete_mashup_rollups();

create function aggregation.delete_creator_rollups()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  delete from public.creator_quarter_hour_stats t using gone g where t.creator_id = g.id;
  delete from public.creator_daily_breakdowns t using gone g where t.creator_id = g.id;
  return null;
end;
$$;
comment on function aggregation.delete_creator_rollups() is
  'ON DELETE CASCADE of the creator rollups (statement-level, set-based).';
create trigger users_delete_creator_rollups after delete on auth.users
  referencing old table as gone for each statement execute function aggregation.delete_creator_rollups();

-- What each RI check did per written row, once per mashup of the batch. A run that deletes nothing
-- and a DELETE of a mashup serialise on the mashup's row: the delete waits for the run's commit.
create function aggregation.fold_lock_mashups()
returns void
language plpgsql
security invoker
set search_path = ''
as $$
begin
  perform 1 from public.mashups m
  where m.id in (select distinct b.mashup_id from aggregation.fold_batch b where b.mashup_id is not null)
  for key share of m;
end;
$$;
comment on function aggregation.fold_lock_mashups() is
  'Locks the batch''s mashups FOR KEY SHARE until the run commits (a concurrent delete waits, then '
  'its cascade sees what the run wrote).';

create or replace function aggregation.fold_new_events()
returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_rows bigint := 0;
  v_events bigint;
begin
  select count(*) into v_events from aggregation.fold_batch;
  -- Fresh statistics for the batch (a small sample: see fold_batch's column statistics).
  analyze aggregation.fold_batch;
  insert into aggregation.fold_count_deltas (mashup_id, bucket_start, plays, likes, shares, comments, downloads)
  select b.mashup_id, date_bin('15 minutes'::interval, b."timestamp", '2000-01-01 00:00:00+00'::timestamptz),
         count(*) filter (where b.event_type = 'mashup_played'), count(*) filter (where b.event_type = 'mashup_liked'),
         count(*) filter (where b.event_type = 'mashup_shared'), count(*) filter (where b.event_type = 'comment_posted'),
         count(*) filter (where b.event_type = 'mashup_exported')
  from aggregation.fold_batch b
  where b.event_type in ('mashup_played', 'mashup_liked', 'mashup_shared', 'comment_posted', 'mashup_exported')
    and exists (select 1 from public.mashups m where m.id = b.mashup_id)
  group by 1, 2;
  insert into aggregation.fold_breakdown_deltas (mashup_id, bucket_start, source, country, device, plays)
  select b.mashup_id, date_bin('15 minutes'::interval, b."timestamp", '2000-01-01 00:00:00+00'::timestamptz),
         b.source, b.country, b.device, count(*)
  from aggregation.fold_batch b
  where b.event_type = 'mashup_played' and exists (select 1 from public.mashups m where m.id = b.mashup_id)
  group by 1, 2, 3, 4, 5;
  perform aggregation.fold_lock_mashups();
  v_rows := v_rows + aggregation.fold_counts();
  v_rows := v_rows + aggregation.fold_breakdowns();
  v_rows := v_rows + aggregation.fold_listeners(null);
  v_rows := v_rows + aggregation.fold_plays();
  v_rows := v_rows + aggregation.fold_users();
  return jsonb_build_object(
    'events_read', v_events,
    'mashup_days', (select count(*) from (select distinct c.mashup_id, aggregation.utc_day(c.bucket_start)
                                          from aggregation.fold_count_deltas c) k),
    'user_days', (select count(*) from (select distinct b.user_id, aggregation.utc_day(b."timestamp")
                                        from aggregation.fold_batch b
                                        where b.event_type in ('mashup_created', 'user_followed')) k),
    'plays', (select count(distinct b.play_id) from aggregation.fold_batch b),
    'mashups', (select count(distinct c.mashup_id) from aggregation.fold_count_deltas c),
    'rows_written', v_rows);
end;
$$;

create or replace function aggregation.mashup_day(target_date date)
returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_t0 timestamptz := aggregation.day_start(target_date);
  v_t1 timestamptz := aggregation.day_start(target_date + 1);
  v_rows bigint := 0;
  v_events bigint;
  v_result jsonb;
begin
  perform aggregation.lock(true);
  perform aggregation.fold_reset();

  -- A day whose raw events are gone (a dropped partition) while its rollups remain: refuse to
  -- zero it. Lifetime numbers must not depend on raw rows still existing.
  if not exists (select 1 from public.analytics_events e where e."timestamp" >= v_t0 and e."timestamp" < v_t1)
     and exists (select 1 from public.mashup_daily_stats d where d.date = target_date) then
    raise notice 'aggregate_mashup_stats(%): no raw events left for that day; its rollups are kept as they are',
      target_date;
    return jsonb_build_object('events_read', 0, 'mashup_days', 0, 'plays', 0, 'mashups', 0, 'rows_written', 0,
                              'skipped', 'no raw events');
  end if;

  -- One statement, so one snapshot: the day's raw events it reads are exactly those whose queue
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

  -- The day's buckets: what the raw events say now minus what the rows hold.
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
  v_rows := v_rows + aggregation.fold_counts();
  v_rows := v_rows + aggregation.fold_breakdowns();
  v_rows := v_rows + aggregation.fold_listeners(target_date);
  v_rows := v_rows + aggregation.fold_plays();

  select jsonb_build_object(
    'events_read', v_events,
    'mashup_days', (select count(distinct b.mashup_id) from aggregation.fold_batch b),
    'plays', (select count(distinct b.play_id) from aggregation.fold_batch b),
    'mashups', (select count(distinct b.mashup_id) from aggregation.fold_batch b),
    'rows_written', v_rows)
  into v_result;
  return v_result;
end;
$$;

alter function aggregation.fold_new_events() set plan_cache_mode = force_custom_plan;
alter function aggregation.mashup_day(date) set plan_cache_mode = force_custom_plan;

revoke all on function aggregation.delete_mashup_rollups(), aggregation.delete_creator_rollups(),
  aggregation.fold_lock_mashups() from public, anon, authenticated;
grant execute on function aggregation.fold_lock_mashups() to service_role;
