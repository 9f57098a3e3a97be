-- Backfill inside the caller's transaction, for the seed.
-- The Supabase CLI applies a seed file (`db push --include-seed`, `db reset`) as one implicit
-- transaction, where a procedure that COMMITs fails ("invalid transaction termination"), and it
-- has no psql meta-commands (\gset). aggregation.backfill stays the tool for large ranges (a commit
-- per day); this function does the same days in one transaction, for small ones like the demo data.
-- Same bookkeeping: a row in aggregation.backfills, one in aggregation.runs, the incremental
-- job's watermark started where this run started, the materialized views refreshed.
create function aggregation.backfill_in_transaction(p_from date, p_to date)
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

  while v_day < p_to loop
    v_m := aggregation.mashup_day(v_day);
    v_u := aggregation.user_day(v_day);
    v_events := v_events + (v_m ->> 'events_read')::bigint;
    v_mashup_days := v_mashup_days + (v_m ->> 'mashup_days')::integer;
    v_user_days := v_user_days + (v_u ->> 'user_days')::integer;
    v_plays := v_plays + (v_m ->> 'plays')::integer;
    v_rows := v_rows + (v_m ->> 'rows_written')::bigint + (v_u ->> 'rows_written')::bigint;
    v_day := v_day + 1;
  end loop;

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
comment on function aggregation.backfill_in_transaction(date, date) is
  'Recomputes every rollup for the UTC days [p_from, p_to) inside the caller''s transaction (the '
  'seed runs through the Supabase CLI in one); for large ranges use call aggregation.backfill(...).';

revoke all on function aggregation.backfill_in_transaction(date, date) from public, anon, authenticated;
grant execute on function aggregation.backfill_in_transaction(date, date) to service_role;
