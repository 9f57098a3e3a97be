-- The fold's per-day state goes with the raw months retention dropped.
--
-- Found by an outside audit: aggregation.mashup_daily_listeners (who listened to which mashup on
-- which day) and aggregation.play_folds grew with raw events and outlived them: after retention
-- dropped a month, they still said who played what on its days. A day before
-- raw_events.settings.dropped_through can take no event again (the horizon never goes back past a
-- dropped month, 20261127001600) and is never recounted (its raw events are gone), so its state is
-- never read again:
--   * the day's listener sets: fold_listeners reads a day's set only when a new event arrives for
--     that day;
--   * the fold of a play that started before it and has no summary (its mashup was deleted or
--     never existed): a later event of that play counts nowhere either way (docs/aggregation.md).
-- aggregation.prune_fold_state() deletes both, daily (pg_cron 'prune-fold-state', 03:50 UTC, after
-- the partition job). Still unbounded: plays whose start was never seen (heartbeats only, which an
-- anonymous client can send for any play id) have no time to prune them by.

create function aggregation.prune_fold_state()
returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_floor timestamptz := (select s.dropped_through from raw_events.settings s);
  v_listeners bigint := 0;
  v_folds bigint := 0;
begin
  if v_floor is not null then
    delete from aggregation.mashup_daily_listeners d where d.date < (v_floor at time zone 'UTC')::date;
    get diagnostics v_listeners = row_count;
    delete from aggregation.play_folds f where f.started_at < v_floor;
    get diagnostics v_folds = row_count;
  end if;
  return jsonb_build_object('dropped_through', v_floor, 'daily_listener_rows', v_listeners, 'play_folds', v_folds);
end;
$$;
comment on function aggregation.prune_fold_state() is
  'Daily: deletes the fold''s per-day listener sets and the folds of summary-less plays from before the '
  'latest dropped month''s end (raw_events.settings.dropped_through): days that take no event again.';
revoke all on function aggregation.prune_fold_state() from public, anon, authenticated;
grant execute on function aggregation.prune_fold_state() to service_role;

select cron.schedule('prune-fold-state', '50 3 * * *', $$select aggregation.prune_fold_state()$$);
