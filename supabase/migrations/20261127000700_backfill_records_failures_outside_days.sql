-- A backfill that fails outside its days is recorded as failed, not left 'running'.
--
-- aggregation.backfill recorded a failing day (status 'failed', the day and the error in
-- aggregation.backfills and aggregation.runs), but not a failure before its first day
-- (backfill_opens_creator_days) or after its last one (close_creator_days, the plan's materialized
-- views, the incremental job's first watermark). Such an error left the row at status 'running' for
-- ever, and an operator watching aggregation.backfills could not tell it from a backfill at work.
-- Now both are caught like a day's error: the row becomes 'failed' with the step in its error
-- ('before the first day: ...', 'after the last day: ...'), a failed run is logged with the totals
-- so far, and the call raises. The days already done stay committed; after a failure at the end the
-- next incremental run closes the creator rollups' days that ended (run_incremental calls
-- close_creator_days first), and calling the backfill again completes the rest.
--
-- The three failure records share aggregation.record_backfill_failure. The body is 20261127000400's
-- with the two steps wrapped; a procedure that commits cannot carry SET search_path, so every name
-- is qualified. Grants on the procedure are unchanged (CREATE OR REPLACE keeps them).

create function aggregation.record_backfill_failure(
  p_id bigint, p_started timestamptz, p_from date, p_to date,
  p_events bigint, p_mashup_days integer, p_user_days integer, p_plays integer, p_rows bigint,
  p_error text)
returns void
language sql
set search_path = ''
as $$
  update aggregation.backfills
  set status = 'failed', error = p_error, updated_at = clock_timestamp(), finished_at = clock_timestamp()
  where id = p_id;
  insert into aggregation.runs (job, status, started_at, finished_at, duration_ms, window_start, window_end,
                                events_read, mashup_days, user_days, plays, rows_written, error)
  values ('backfill', 'failed', p_started, clock_timestamp(),
          round(extract(epoch from clock_timestamp() - p_started) * 1000, 1),
          aggregation.day_start(p_from), aggregation.day_start(p_to),
          p_events, p_mashup_days, p_user_days, p_plays, p_rows, p_error);
$$;

comment on function aggregation.record_backfill_failure(bigint, timestamptz, date, date, bigint, integer, integer, integer, bigint, text) is
  'aggregation.backfill''s record of a failure: its aggregation.backfills row becomes failed with the error, and a failed run is logged with the totals so far.';
revoke all on function aggregation.record_backfill_failure(bigint, timestamptz, date, date, bigint, integer, integer, integer, bigint, text)
  from public, anon, authenticated;
grant execute on function aggregation.record_backfill_failure(bigint, timestamptz, date, date, bigint, integer, integer, integer, bigint, text)
  to service_role;

create or replace procedure aggregation.backfill(p_from date, p_to date)
language plpgsql
as $$
declare
  v_id bigint;
  v_started timestamptz := clock_timestamp();
  v_day date := p_from;
  v_m jsonb;
  v_u jsonb;
  v_err text;
  v_events bigint := 0;
  v_mashup_days integer := 0;
  v_user_days integer := 0;
  v_plays integer := 0;
  v_rows bigint := 0;
begin
  if p_from is null or p_to is null or p_to <= p_from then
    raise exception 'backfill needs p_from < p_to (half-open [p_from, p_to)), got [%, %)', p_from, p_to;
  end if;
  insert into aggregation.backfills (from_date, to_date, status, days_total, started_at, updated_at)
  values (p_from, p_to, 'running', p_to - p_from, v_started, v_started)
  returning id into v_id;
  commit;

  -- Through today: the creator rollups' days from p_from on are summed once, at the end.
  begin
    perform aggregation.backfill_opens_creator_days(p_from, p_to);
  exception when others or query_canceled then
    get stacked diagnostics v_err = message_text;
  end;
  if v_err is not null then
    perform aggregation.record_backfill_failure(v_id, v_started, p_from, p_to, 0, 0, 0, 0, 0,
                                                'before the first day: ' || v_err);
    commit;
    raise exception 'backfill % failed before its first day: % (no day was rebuilt)', v_id, v_err;
  end if;
  commit;

  while v_day < p_to loop
    begin
      v_m := aggregation.mashup_day(v_day);
      v_u := aggregation.user_day(v_day);
    exception when others or query_canceled then
      get stacked diagnostics v_err = message_text;
    end;
    if v_err is not null then
      perform aggregation.record_backfill_failure(v_id, v_started, p_from, p_to, v_events, v_mashup_days,
                                                  v_user_days, v_plays, v_rows, v_day || ': ' || v_err);
      commit;
      raise exception 'backfill % failed on %: % (days before it are committed)', v_id, v_day, v_err;
    end if;
    v_events := v_events + (v_m ->> 'events_read')::bigint;
    v_mashup_days := v_mashup_days + (v_m ->> 'mashup_days')::integer;
    v_user_days := v_user_days + (v_u ->> 'user_days')::integer;
    v_plays := v_plays + (v_m ->> 'plays')::integer;
    v_rows := v_rows + (v_m ->> 'rows_written')::bigint + (v_u ->> 'rows_written')::bigint;
    update aggregation.backfills
    set days_done = days_done + 1, last_day = v_day, updated_at = clock_timestamp()
    where id = v_id;
    raise notice 'backfill %: % done (% of % days), % events, % mashup days, % rows written',
      v_id, v_day, v_day - p_from + 1, p_to - p_from, (v_m ->> 'events_read'), (v_m ->> 'mashup_days'),
      (v_m ->> 'rows_written')::bigint + (v_u ->> 'rows_written')::bigint;
    commit;
    v_day := v_day + 1;
  end loop;

  -- After the last day: the creator rollups' ended days, then the plan's views and the first
  -- watermark, each step committed on its own as before.
  begin
    perform aggregation.close_creator_days();
  exception when others or query_canceled then
    get stacked diagnostics v_err = message_text;
  end;
  if v_err is null then
    commit;
    begin
      perform public.refresh_materialized_views();
      -- A fresh database: let the incremental job start where this backfill started.
      insert into aggregation.watermarks (job, received_through, updated_at)
      values ('incremental', v_started, clock_timestamp())
      on conflict (job) do nothing;
    exception when others or query_canceled then
      get stacked diagnostics v_err = message_text;
    end;
  end if;
  if v_err is not null then
    perform aggregation.record_backfill_failure(v_id, v_started, p_from, p_to, v_events, v_mashup_days,
                                                v_user_days, v_plays, v_rows, 'after the last day: ' || v_err);
    commit;
    raise exception 'backfill % failed after its last day: % (every day is committed; call it again to finish)',
      v_id, v_err;
  end if;
  update aggregation.backfills
  set status = 'succeeded', updated_at = clock_timestamp(), finished_at = clock_timestamp()
  where id = v_id;
  insert into aggregation.runs (job, status, started_at, finished_at, duration_ms, window_start, window_end,
                                events_read, mashup_days, user_days, plays, rows_written)
  values ('backfill', 'succeeded', v_started, clock_timestamp(),
          round(extract(epoch from clock_timestamp() - v_started) * 1000, 1),
          aggregation.day_start(p_from), aggregation.day_start(p_to),
          v_events, v_mashup_days, v_user_days, v_plays, v_rows);
  commit;
end;
$$;
