-- The duration-refold queue never makes an edit wait, and a mashup's delete never deadlocks with
-- its refold (outside audit, 2026-11-28, on 20261128000100).
--
-- * An edit waited for the run: the queue had one row per mashup (primary key, `on conflict do
--   nothing`), and a run takes the queue with DELETE ... RETURNING and commits only at its end. An
--   edit of a mashup the run had taken met the deleted, uncommitted row and waited for the run's
--   commit, holding one of PostgREST's pooled connections meanwhile: 12 loops of edits of a mashup
--   with 100,000 plays made an unrelated GET wait 1.48 s, and every run of a flood ended with all
--   requests stalled for 2-7 s. Now the queue takes one row per edit (an identity key, nothing
--   unique about the mashup), so an insert never meets another transaction's row; the run refolds
--   each queued mashup once (distinct). An edit committed after the run took the queue is not among
--   what it deleted, so the next run refolds it. A flood queues more rows between two runs (one per
--   edit, ~40 bytes each), which the next run takes in one statement.
-- * A delete of a mashup could deadlock with a run refolding it: the queue's foreign key cascaded
--   into the row the run had deleted (waiting for the run), while the refold waited for rollup rows
--   the delete's cascades had locked. The queue has no foreign key now (a deleted mashup's rows
--   refold nothing and go with the next run), and the refold locks its mashups first, FOR KEY SHARE,
--   as the fold locks its batch's.

alter table aggregation.pending_duration_refolds drop constraint pending_duration_refolds_pkey;
alter table aggregation.pending_duration_refolds drop constraint pending_duration_refolds_mashup_id_fkey;
alter table aggregation.pending_duration_refolds add column id bigint generated always as identity primary key;
comment on table aggregation.pending_duration_refolds is
  'One row per duration edit since the last run: the next aggregation.run_incremental refolds each mashup named '
  'here once, against its current duration (aggregation.run_pending_duration_refolds). No uniqueness and no '
  'foreign key on purpose: an edit never waits for a run that took the queue.';

create or replace function aggregation.refold_durations(p_ids uuid[])
returns void
language plpgsql
security invoker
set search_path = ''
as $$
begin
  -- The mashups first, as a fold locks its batch's (FOR KEY SHARE): a creator's delete of one of
  -- them waits for this run's commit before its cascades lock any rollup row, or this waits for the
  -- delete's commit and finds the mashup gone. Without it the two took the same rows in opposite
  -- orders: deadlock, and the run (every creator's fold) was the one rolled back.
  perform 1 from public.mashups m where m.id = any (p_ids) order by m.id for key share of m;

  update public.mashup_play_summaries s
  set duration_seconds = f.duration, furthest_position_seconds = f.furthest, completed = f.furthest >= 0.95 * f.duration
  from (
    select p.play_id, m.duration_seconds as duration,
           least(greatest(coalesce(p.max_position_seconds, p.furthest_position_seconds, 0), 0), m.duration_seconds) as furthest
    from public.mashups m
    join public.mashup_play_summaries p on p.mashup_id = m.id
    where m.id = any (p_ids)
  ) f
  where s.play_id = f.play_id
    and (s.duration_seconds, s.furthest_position_seconds, s.completed)
        is distinct from (f.duration, f.furthest, f.furthest >= 0.95 * f.duration);

  delete from public.mashup_daily_retention r where r.mashup_id = any (p_ids);
  insert into public.mashup_daily_retention
    (mashup_id, date, position_bucket_seconds, plays, completed_plays, watch_time_seconds)
  select s.mashup_id, (s.started_at at time zone 'UTC')::date, (floor(s.furthest_position_seconds / 10) * 10)::integer,
         count(*), count(*) filter (where s.completed), sum(s.furthest_position_seconds)
  from public.mashup_play_summaries s
  where s.mashup_id = any (p_ids)
  group by 1, 2, 3;

  update public.mashup_lifetime_stats l
  set (tracked_plays, completed_plays, watch_time_seconds, avg_watch_time) = (
    select count(*), count(*) filter (where s.completed), coalesce(sum(s.furthest_position_seconds), 0),
           round(sum(s.furthest_position_seconds) / nullif(count(*), 0), 2)
    from public.mashup_play_summaries s where s.mashup_id = l.mashup_id)
  where l.mashup_id = any (p_ids);

  update public.mashup_daily_stats d
  set avg_watch_time = a.avg_watch_time
  from (select r.mashup_id, r.date, round(sum(r.watch_time_seconds) / nullif(sum(r.plays), 0), 2) as avg_watch_time
        from public.mashup_daily_retention r where r.mashup_id = any (p_ids) group by 1, 2) a
  where d.mashup_id = a.mashup_id and d.date = a.date and d.avg_watch_time is distinct from a.avg_watch_time;
end;
$$;

create or replace function aggregation.run_pending_duration_refolds()
returns integer
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_ids uuid[];
begin
  if not exists (select 1 from aggregation.pending_duration_refolds) then
    return 0;
  end if;
  perform aggregation.lock(true); -- held already by the job that calls this; a no-op then
  -- The rows committed so far (an edit still open is not among them: it stays for the next run).
  with taken as (delete from aggregation.pending_duration_refolds q where true returning q.mashup_id)
  select coalesce(array_agg(distinct t.mashup_id), '{}') into v_ids from taken t;
  perform aggregation.refold_durations(v_ids);
  return cardinality(v_ids);
end;
$$;

create or replace function aggregation.refold_edited_durations()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  -- A row per edited mashup of this statement, never a conflict: nothing here waits for a run.
  insert into aggregation.pending_duration_refolds (mashup_id)
  select n.id from new_rows n join old_rows o on o.id = n.id
  where n.duration_seconds is distinct from o.duration_seconds;
  return null;
end;
$$;
