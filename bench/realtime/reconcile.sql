-- bench/realtime/reconcile.sql: the hourly reconciliation of the live totals
-- (public.reconcile_realtime_totals, as realtime-sync {"reconcile": true} calls it) against the
-- full scan it replaced (migration 20261127002500), measured in the same run on the same database.
--   baseline: the grouped count of every stored raw event of the counted types received before the
--             fence, what each reconciliation scanned before the cutoff (read only, no comparison);
--   measured: the whole reconciliation, cutoff move and comparison included.
-- Run with bench/realtime/reconcile.sh (psql -v reps=N). Prints medians; changes nothing but the
-- reconciliation's own rows (a run row each, repairs if the totals had drift, the cutoff's move).
\set ON_ERROR_STOP on
\if :{?reps}
\else
\set reps 5
\endif
set client_min_messages = notice;
select set_config('bench.reps', :'reps', false) is not null as set \gset
do $bench$
declare
  v_reps integer := current_setting('bench.reps')::integer;
  v_full double precision[] := '{}';
  v_rec double precision[] := '{}';
  v_t timestamptz;
  v_n bigint;
  v_res jsonb;
  v_fence bigint;
begin
  for i in 1..v_reps loop
    v_fence := (extract(epoch from clock_timestamp()) * 1000000)::bigint + 1;
    v_t := clock_timestamp();
    select count(*) into v_n from (
      select e.mashup_id, raw_events.realtime_counter(e.event_type) as counter, count(*)
      from public.analytics_events e
      join public.mashups m on m.id = e.mashup_id
      where e.event_type in ('mashup_played', 'mashup_liked', 'mashup_shared', 'comment_posted',
                             'mashup_exported', 'ai_reaction')
        and e.received_at < timestamptz 'epoch' + (v_fence::text || ' microseconds')::interval
      group by 1, 2
      union all
      select raw_events.realtime_subject('followers', null, e.properties), 'followers', count(*)
      from public.analytics_events e
      where e.event_type = 'user_followed'
        and e.received_at < timestamptz 'epoch' + (v_fence::text || ' microseconds')::interval
      group by 1) s;
    v_full := v_full || extract(epoch from clock_timestamp() - v_t) * 1000;

    v_t := clock_timestamp();
    v_res := public.reconcile_realtime_totals('{}', (extract(epoch from clock_timestamp()) * 1000000)::bigint + 1, 'bench');
    v_rec := v_rec || extract(epoch from clock_timestamp() - v_t) * 1000;
  end loop;
  raise notice 'raw events % | mashups % | counters checked % (repaired in the last run: %)',
    (select count(*) from raw_events.analytics_events), (select count(*) from public.mashups),
    v_res ->> 'counters_checked', v_res ->> 'counters_repaired';
  raise notice 'baseline, the full scan of every counted raw event: median % ms (runs %)',
    round((select percentile_cont(0.5) within group (order by x) from unnest(v_full) x)::numeric, 1),
    (select string_agg(round(x::numeric)::text, ' / ') from unnest(v_full) x);
  raise notice 'reconcile_realtime_totals, whole: median % ms (runs %)',
    round((select percentile_cont(0.5) within group (order by x) from unnest(v_rec) x)::numeric, 1),
    (select string_agg(round(x::numeric)::text, ' / ') from unnest(v_rec) x);
  raise notice 'ratio reconciliation / full scan: %',
    round(((select percentile_cont(0.5) within group (order by x) from unnest(v_rec) x)
           / nullif((select percentile_cont(0.5) within group (order by x) from unnest(v_full) x), 0))::numeric, 2);
end
$bench$;
