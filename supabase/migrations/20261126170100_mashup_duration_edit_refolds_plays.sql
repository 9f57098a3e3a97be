-- A creator's edit of a mashup's duration refolds its plays against the new duration.
--
-- Creators may update `duration_seconds` of their own mashups (column grant of
-- 20261126055100_mashup_ids_never_reused.sql, RLS "creators update their own mashups"). A play's
-- furthest position is capped at the mashup's duration and it is completed at >= 95 % of it
-- (docs/aggregation.md), but the summaries kept the duration of the fold that last touched them:
-- after an edit, get_mashup_analytics' retention mixed the old cap and completion of every play
-- with drop-off checkpoints of the new duration (e.g. 100 -> 200 s: every play still "stopped" by
-- 100 s, completionRate counted plays at 95 s as complete), and mashup_daily_retention,
-- mashup_lifetime_stats (watch time, completions) and mashup_daily_stats.avg_watch_time disagreed
-- with a recount from raw events. Found by tests/sql/43_dashboard_randomized_zones.test.sql.
--
-- A statement-level trigger takes the mashups whose duration changed, waits for the aggregation
-- lock (so no fold interleaves; a fold that ran before read the old duration and is corrected
-- here, one after reads the new one) and, for those mashups only:
--   * summaries: furthest = the play's own largest position (max_position_seconds, the fold's
--     uncapped maximum) capped at the new duration, completed and duration_seconds with it;
--   * mashup_daily_retention: rebuilt from the summaries (it is their histogram);
--   * mashup_lifetime_stats: tracked/completed plays, watch time and average from the summaries;
--   * mashup_daily_stats.avg_watch_time of their days, from the rebuilt retention rows.
-- Its cost is the mashup's plays (one pass over its summaries), paid at the edit, which is rare;
-- the fold itself is unchanged. SECURITY DEFINER: the editing creator cannot write rollups.

create function aggregation.refold_edited_durations()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_ids uuid[];
begin
  v_ids := array(select n.id from new_rows n join old_rows o on o.id = n.id
                 where n.duration_seconds is distinct from o.duration_seconds);
  if cardinality(v_ids) = 0 then
    return null;
  end if;
  perform aggregation.lock(true);

  update public.mashup_play_summaries s
  set duration_seconds = f.duration, furthest_position_seconds = f.furthest, completed = f.furthest >= 0.95 * f.duration
  from (
    select p.play_id, m.duration_seconds as duration,
           least(greatest(coalesce(p.max_position_seconds, p.furthest_position_seconds, 0), 0), m.duration_seconds) as furthest
    from public.mashups m
    join public.mashup_play_summaries p on p.mashup_id = m.id
    where m.id = any (v_ids)
  ) f
  where s.play_id = f.play_id
    and (s.duration_seconds, s.furthest_position_seconds, s.completed)
        is distinct from (f.duration, f.furthest, f.furthest >= 0.95 * f.duration);

  delete from public.mashup_daily_retention r where r.mashup_id = any (v_ids);
  insert into public.mashup_daily_retention
    (mashup_id, date, position_bucket_seconds, plays, completed_plays, watch_time_seconds)
  select s.mashup_id, (s.started_at at time zone 'UTC')::date, (floor(s.furthest_position_seconds / 10) * 10)::integer,
         count(*), count(*) filter (where s.completed), sum(s.furthest_position_seconds)
  from public.mashup_play_summaries s
  where s.mashup_id = any (v_ids)
  group by 1, 2, 3;

  update public.mashup_lifetime_stats l
  set (tracked_plays, completed_plays, watch_time_seconds, avg_watch_time) = (
    select count(*), count(*) filter (where s.completed), coalesce(sum(s.furthest_position_seconds), 0),
           round(sum(s.furthest_position_seconds) / nullif(count(*), 0), 2)
    from public.mashup_play_summaries s where s.mashup_id = l.mashup_id)
  where l.mashup_id = any (v_ids);

  update public.mashup_daily_stats d
  set avg_watch_time = a.avg_watch_time
  from (select r.mashup_id, r.date, round(sum(r.watch_time_seconds) / nullif(sum(r.plays), 0), 2) as avg_watch_time
        from public.mashup_daily_retention r where r.mashup_id = any (v_ids) group by 1, 2) a
  where d.mashup_id = a.mashup_id and d.date = a.date and d.avg_watch_time is distinct from a.avg_watch_time;
  return null;
end;
$$;
comment on function aggregation.refold_edited_durations() is
  'After an update of mashups: the plays of mashups whose duration changed are capped and completed against the new '
  'duration (summaries, retention, lifetime watch time, daily average).';
revoke execute on function aggregation.refold_edited_durations() from public, anon, authenticated;

-- (Transition tables cannot go with a column list, so the trigger fires on every update and
-- compares the durations itself; a title edit costs one join of the updated rows.)
create trigger mashups_refold_edited_durations
after update on public.mashups
referencing old table as old_rows new table as new_rows
for each statement execute function aggregation.refold_edited_durations();
