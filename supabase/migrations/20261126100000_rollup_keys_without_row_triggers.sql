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

-- fold_new_events() and mashup_day() call it before writing (20261126100100).

revoke all on function aggregation.delete_mashup_rollups(), aggregation.delete_creator_rollups(),
  aggregation.fold_lock_mashups() from public, anon, authenticated;
grant execute on function aggregation.fold_lock_mashups() to service_role;
