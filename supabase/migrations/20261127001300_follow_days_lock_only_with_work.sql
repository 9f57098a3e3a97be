-- The every-minute `follow-days` job takes the aggregation lock only when a follow day is queued.
--
-- run_pending_user_days() waited for the lock every minute, even with nothing to do. At every fifth
-- minute it starts in the same second as `aggregate-incremental`, which only tries the lock and logs
-- `skipped` when it is held: an outside check saw one skipped run in four, rollups then lagged up to
-- ten minutes behind the live numbers. The queue (aggregation.pending_user_days) is almost always
-- empty (a follow queues its day only when it met a held lock), so the job now looks first and
-- returns 0 without locking when it is. A day queued after the look waits for the next minute, as
-- one queued during a run did before. Body otherwise as in 20261126055300.
create or replace function aggregation.run_pending_user_days()
returns bigint
language plpgsql
security invoker
set search_path = ''
as $$
begin
  if not exists (select 1 from aggregation.pending_user_days) then
    return 0;
  end if;
  perform aggregation.lock(true);
  return aggregation.recompute_pending_user_days();
end;
$$;
comment on function aggregation.run_pending_user_days() is
  'The follow-days job: recomputes queued follow days under the aggregation lock; with none queued, '
  'returns 0 without taking the lock (so it does not make a 5-minute run skip).';
