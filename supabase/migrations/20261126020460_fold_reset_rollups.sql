-- Start the rollups over (operators; the demo data's re-anchoring): empties every rollup and the
-- fold state, so a backfill of every day with events rebuilds them from the raw events alone.
--
-- Needed when raw events are changed in place (an UPDATE of their "timestamp", a DELETE that is not
-- retention): the folds are monotone by design (a listener set only grows, a play's earliest start
-- only moves earlier), so a day recount adds what is missing but cannot take back a listener or a
-- start that moved to another day. Queued events stay queued: the backfill's day recounts take
-- them out day by day, and the incremental job folds the rest.
create function aggregation.reset_rollups()
returns void
language plpgsql
security invoker
set search_path = ''
as $$
begin
  perform aggregation.lock(true);
  truncate public.mashup_daily_stats, public.user_daily_stats, public.mashup_quarter_hour_stats,
    public.mashup_quarter_hour_breakdowns, public.mashup_play_summaries, public.mashup_daily_retention,
    public.mashup_listeners, public.mashup_lifetime_stats, public.creator_quarter_hour_stats,
    public.creator_daily_breakdowns, aggregation.mashup_daily_listeners, aggregation.play_folds,
    aggregation.creator_daily_followers;
end;
$$;
comment on function aggregation.reset_rollups() is
  'Empties every rollup and the fold state; follow with call aggregation.backfill(<first day>, <tomorrow>).';
revoke all on function aggregation.reset_rollups() from public, anon, authenticated;
grant execute on function aggregation.reset_rollups() to service_role;
