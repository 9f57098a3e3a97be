-- The plan's day functions and the nightly job fold what is still queued for that day; they no
-- longer recount the day.
--
-- With the queue, every event is folded exactly once by the 5-minute job, so the rollups of a day
-- are exact as soon as that day's queued events are folded. The plan's nightly steps
-- (aggregate_mashup_stats(yesterday), aggregate_user_stats(yesterday), refresh_materialized_views())
-- therefore finalise yesterday by folding its remaining queued events: their cost is what is still
-- pending (usually nothing), not the day's events, nor the table. Recounting a day from raw events
-- stays available for backfills, imports and repairs: aggregation.mashup_day(d) and
-- aggregation.user_day(d) (call aggregation.backfill(d, d + 1)).

create function aggregation.fold_day_pending(p_day date, p_types text[])
returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
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
  return v_result;
end;
$$;
comment on function aggregation.fold_day_pending(date, text[]) is
  'Folds the queued events of these types timestamped in one UTC day; returns run-log counts.';
alter function aggregation.fold_day_pending(date, text[]) set plan_cache_mode = force_custom_plan;

create or replace function public.aggregate_mashup_stats(target_date date)
returns void
language plpgsql
security invoker
set search_path = ''
as $$
begin
  perform aggregation.fold_day_pending(target_date, array['mashup_played', 'mashup_play_progress',
    'mashup_play_ended', 'mashup_liked', 'mashup_shared', 'comment_posted', 'mashup_exported']);
end;
$$;
comment on function public.aggregate_mashup_stats(date) is
  'The plan''s daily aggregation: makes every per-mashup rollup of the UTC day [target_date, '
  'target_date + 1) final by folding that day''s events still queued (each event is folded exactly '
  'once). To recount a day from raw events: call aggregation.backfill(d, d + 1). Idempotent.';

create or replace function public.aggregate_user_stats(target_date date)
returns void
language plpgsql
security invoker
set search_path = ''
as $$
begin
  perform aggregation.fold_day_pending(target_date, array['mashup_created', 'user_followed']);
end;
$$;
comment on function public.aggregate_user_stats(date) is
  'The plan''s user aggregation: makes user_daily_stats of one UTC day final (its queued creations '
  'and follows folded; plays_received follows mashup_daily_stats as it is folded). Idempotent.';

create or replace function aggregation.run_nightly(p_date date default null)
returns bigint
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_started timestamptz := clock_timestamp();
  v_day date := coalesce(p_date, aggregation.utc_day(now()) - 1);
  v_m jsonb;
  v_u jsonb;
  v_run bigint;
  v_err text;
  v_ctx text;
begin
  perform aggregation.lock(true);
  begin
    -- The plan's three steps, in its order.
    v_m := aggregation.fold_day_pending(v_day, array['mashup_played', 'mashup_play_progress',
      'mashup_play_ended', 'mashup_liked', 'mashup_shared', 'comment_posted', 'mashup_exported']);
    v_u := aggregation.fold_day_pending(v_day, array['mashup_created', 'user_followed']);
    perform public.refresh_materialized_views();
    insert into aggregation.runs (job, status, started_at, finished_at, duration_ms, window_start, window_end,
                                  events_read, mashup_days, user_days, plays, mashups, rows_written)
    values ('nightly', 'succeeded', v_started, clock_timestamp(),
            round(extract(epoch from clock_timestamp() - v_started) * 1000, 1),
            aggregation.day_start(v_day), aggregation.day_start(v_day + 1),
            (v_m ->> 'events_read')::bigint + (v_u ->> 'events_read')::bigint, (v_m ->> 'mashup_days')::integer,
            (v_u ->> 'user_days')::integer, (v_m ->> 'plays')::integer, (v_m ->> 'mashups')::integer,
            (v_m ->> 'rows_written')::bigint + (v_u ->> 'rows_written')::bigint)
    returning id into v_run;
  exception when others or query_canceled then
    get stacked diagnostics v_err = message_text, v_ctx = pg_exception_context;
    insert into aggregation.runs (job, status, started_at, finished_at, duration_ms, window_start, window_end, error)
    values ('nightly', 'failed', v_started, clock_timestamp(),
            round(extract(epoch from clock_timestamp() - v_started) * 1000, 1),
            aggregation.day_start(v_day), aggregation.day_start(v_day + 1), v_err || coalesce(E'\n' || v_ctx, ''))
    returning id into v_run;
  end;
  return v_run;
end;
$$;
comment on function aggregation.run_nightly(date) is
  'The 02:00 UTC job: the plan''s steps for yesterday (or p_date): folds that day''s queued events '
  '(mashup, then user), refreshes the materialized views; logs to aggregation.runs; returns the run id.';
alter function aggregation.run_nightly(date) set plan_cache_mode = force_custom_plan;
alter function public.aggregate_mashup_stats(date) set plan_cache_mode = force_custom_plan;
alter function public.aggregate_user_stats(date) set plan_cache_mode = force_custom_plan;

revoke all on function aggregation.fold_day_pending(date, text[]) from public, anon, authenticated;
grant execute on function aggregation.fold_day_pending(date, text[]) to service_role;
