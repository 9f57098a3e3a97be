#!/usr/bin/env bash
# bench/raw_view/properties.sh: reading `properties` through the plan's view public.analytics_events,
# whose helper raw_events.client_properties is inlined since 20261127003300, against the helper as it
# was before (jsonb_build_object: STABLE, so never inlined; recreated here as a temporary function),
# in the same run over the same rows. Prints the medians of BENCH_REPS (default 5) of each.
#   STACK_PORT=55500 bench/raw_view/properties.sh            (the stack's own database)
#   STACK_PORT=55500 BENCH_DB=bench1m bench/raw_view/properties.sh
set -euo pipefail
PORT=$(( ${STACK_PORT:-54321} + 1 ))
PGPASSWORD=postgres PGSSLMODE=disable psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres \
  -d "${BENCH_DB:-postgres}" -v reps="${BENCH_REPS:-5}" 2>&1 <<'SQL' | sed -E 's/^(psql:[^ ]* )?NOTICE:  //'
set client_min_messages = notice;
select set_config('bench.reps', :'reps', false) is not null as set \gset
create function pg_temp.client_properties_before(p_stored jsonb, p_mashup_id uuid, p_play_id uuid)
returns jsonb language sql immutable parallel safe as $$
  select case when p_mashup_id is null and p_play_id is null then p_stored
              else p_stored
                   || case when p_mashup_id is not null and not (p_stored ? 'mashup_id')
                           then jsonb_build_object('mashup_id', p_mashup_id::text) else '{}'::jsonb end
                   || case when p_play_id is not null
                           then jsonb_build_object('play_id', p_play_id::text) else '{}'::jsonb end
         end $$;
do $bench$
declare
  v_reps integer := current_setting('bench.reps')::integer;
  v_before double precision[] := '{}';
  v_now double precision[] := '{}';
  v_t timestamptz;
  v_a bigint;
  v_b bigint;
  v_rows bigint;
  v_mb double precision;
  v_mn double precision;
begin
  select count(*) into v_rows from raw_events.analytics_events;
  for i in 1..v_reps loop
    v_t := clock_timestamp();
    select sum(length(pg_temp.client_properties_before(e.properties, e.mashup_id, e.play_id)::text))
      into v_a from raw_events.analytics_events e;
    v_before := v_before || extract(epoch from clock_timestamp() - v_t) * 1000;
    v_t := clock_timestamp();
    select sum(length(e.properties::text)) into v_b from public.analytics_events e;
    v_now := v_now || extract(epoch from clock_timestamp() - v_t) * 1000;
    if v_a is distinct from v_b then
      raise exception 'the two readings differ: % against % characters', v_a, v_b;
    end if;
  end loop;
  select percentile_disc(0.5) within group (order by x) into v_mb from unnest(v_before) x;
  select percentile_disc(0.5) within group (order by x) into v_mn from unnest(v_now) x;
  raise notice 'raw events read: %', v_rows;
  raise notice 'baseline, the helper before (not inlined): median % ms (% runs: %)', round(v_mb::numeric, 1), v_reps,
    (select string_agg(round(x::numeric)::text, ' ') from unnest(v_before) x);
  raise notice 'the view now (helper inlined):             median % ms (% runs: %)', round(v_mn::numeric, 1), v_reps,
    (select string_agg(round(x::numeric)::text, ' ') from unnest(v_now) x);
  raise notice 'ratio now / before: %', round((v_mn / v_mb)::numeric, 2);
end
$bench$;
SQL
