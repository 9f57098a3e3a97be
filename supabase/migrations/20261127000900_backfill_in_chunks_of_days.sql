-- A backfill rebuilds its days in chunks of about 100,000 events, not one day at a time.
--
-- Each day rebuild has a fixed cost besides its events (20261127000800 has the figures): on small
-- days it was most of the backfill. aggregation.backfill and aggregation.backfill_in_transaction now
-- rebuild [day, day + n) in one call of mashup_days / user_days, n sized from the chunk before it:
-- as many days as held about 100,000 events there (aggregation.backfill_chunk_days; at least 1, at
-- most 31). The first chunk is one day. So a database of busy days (10M events: ~166k a day) is still
-- rebuilt a day at a time, and one of quiet days in chunks: 1M events (~16k a day), six days.
-- A chunk's lock and memory stay bounded by what it holds, not by its days.
--
-- aggregation.backfill commits after each chunk; aggregation.backfills counts its days (days_done,
-- last_day = the chunk's last). A chunk that fails rolls back whole and is then rebuilt a day at a
-- time, so the failure still names its day and the days before it are kept. Bodies as in
-- 20261127000700 (backfill) and 20261127000400 (backfill_in_transaction), with the loop changed.

create or replace function aggregation.backfill_chunk_days(p_days integer, p_events bigint)
returns integer
language sql
immutable
set search_path = ''
as $$
  select greatest(1, least(31, floor(100000.0 * p_days / greatest(p_events, 1))::integer));
$$;
comment on function aggregation.backfill_chunk_days(integer, bigint) is
  'The days of a backfill''s next chunk: as many as held about 100,000 events in the chunk before it '
  '(p_days days, p_events events), at least 1 and at most 31.';
revoke all on function aggregation.backfill_chunk_days(integer, bigint) from public, anon, authenticated;
grant execute on function aggregation.backfill_chunk_days(integer, bigint) to service_role;

create or replace procedure aggregation.backfill(p_from date, p_to date)
language plpgsql
as $$
declare
  v_id bigint;
  v_started timestamptz := clock_timestamp();
  v_day date := p_from;
  v_end date;
  v_span integer := 1;
  v_one_by_one_until date := p_from;
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
    v_end := least(v_day + v_span, p_to);
    begin
      v_m := aggregation.mashup_days(v_day, v_end);
      v_u := aggregation.user_days(v_day, v_end);
    exception when others or query_canceled then
      get stacked diagnostics v_err = message_text;
    end;
    if v_err is not null and v_end - v_day > 1 then
      -- The chunk rolled back whole: go through its days one at a time, so the failing day is named
      -- and the days before it are kept, as a backfill of single days did.
      v_err := null;
      v_one_by_one_until := v_end;
      v_span := 1;
      continue;
    end if;
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
    set days_done = days_done + (v_end - v_day), last_day = v_end - 1, updated_at = clock_timestamp()
    where id = v_id;
    raise notice 'backfill %: % done (% of % days), % events, % mashup days, % rows written',
      v_id, case when v_end - v_day = 1 then v_day::text else v_day || '..' || (v_end - 1) end,
      v_end - p_from, p_to - p_from, (v_m ->> 'events_read'), (v_m ->> 'mashup_days'),
      (v_m ->> 'rows_written')::bigint + (v_u ->> 'rows_written')::bigint;
    commit;
    v_span := case when v_end < v_one_by_one_until then 1
                   else aggregation.backfill_chunk_days(v_end - v_day, (v_m ->> 'events_read')::bigint) end;
    v_day := v_end;
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

create or replace function aggregation.backfill_in_transaction(p_from date, p_to date)
returns jsonb
language plpgsql
security invoker
set search_path = ''
set plan_cache_mode = force_custom_plan
as $$
declare
  v_id bigint;
  v_started timestamptz := clock_timestamp();
  v_day date := p_from;
  v_end date;
  v_span integer := 1;
  v_m jsonb;
  v_u jsonb;
  v_events bigint := 0;
  v_mashup_days integer := 0;
  v_user_days integer := 0;
  v_plays integer := 0;
  v_rows bigint := 0;
begin
  if p_from is null or p_to is null or p_to <= p_from then
    raise exception 'backfill needs p_from < p_to (half-open [p_from, p_to)), got [%, %)', p_from, p_to
      using errcode = '22023';
  end if;
  insert into aggregation.backfills (from_date, to_date, status, days_total, started_at, updated_at)
  values (p_from, p_to, 'running', p_to - p_from, v_started, v_started)
  returning id into v_id;
  perform aggregation.backfill_opens_creator_days(p_from, p_to);

  while v_day < p_to loop
    v_end := least(v_day + v_span, p_to);
    v_m := aggregation.mashup_days(v_day, v_end);
    v_u := aggregation.user_days(v_day, v_end);
    v_events := v_events + (v_m ->> 'events_read')::bigint;
    v_mashup_days := v_mashup_days + (v_m ->> 'mashup_days')::integer;
    v_user_days := v_user_days + (v_u ->> 'user_days')::integer;
    v_plays := v_plays + (v_m ->> 'plays')::integer;
    v_rows := v_rows + (v_m ->> 'rows_written')::bigint + (v_u ->> 'rows_written')::bigint;
    v_span := aggregation.backfill_chunk_days(v_end - v_day, (v_m ->> 'events_read')::bigint);
    v_day := v_end;
  end loop;

  perform aggregation.close_creator_days();
  perform public.refresh_materialized_views();
  insert into aggregation.watermarks (job, received_through, updated_at)
  values ('incremental', v_started, clock_timestamp())
  on conflict (job) do nothing;
  update aggregation.backfills
  set status = 'succeeded', days_done = p_to - p_from, last_day = p_to - 1, updated_at = clock_timestamp(),
      finished_at = clock_timestamp()
  where id = v_id;
  insert into aggregation.runs (job, status, started_at, finished_at, duration_ms, window_start, window_end,
                                events_read, mashup_days, user_days, plays, rows_written)
  values ('backfill', 'succeeded', v_started, clock_timestamp(),
          round(extract(epoch from clock_timestamp() - v_started) * 1000, 1),
          aggregation.day_start(p_from), aggregation.day_start(p_to),
          v_events, v_mashup_days, v_user_days, v_plays, v_rows);
  return jsonb_build_object('backfill_id', v_id, 'days', p_to - p_from, 'events_read', v_events,
                            'mashup_days', v_mashup_days, 'user_days', v_user_days, 'plays', v_plays,
                            'rows_written', v_rows);
end;
$$;
