#!/usr/bin/env bash
# bench/dashboard: p50/p95 of the three analytics endpoints over HTTP with 10M raw events
# (100k mashups, 10k creators), against building the same dashboard straight from raw events
# (the plan's on-demand way) in the same run, on the same database.
#   bench/dashboard/run.sh [EVENTS]     default 10000000
# It runs its own stack beside the main one (STACK_PORT 59321, data in .stack/bench), loads the
# events once with bench/generate and backfills the rollups; later runs reuse them. Then the dashboard RPC
# in SQL (bench/dashboard/read_path.ts: p50/p95 of the top-10 creators, every response compared).
# BENCH_STACK_PORT picks the stack's port block (default 59321).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
EVENTS=${1:-10000000}
export STACK_PORT=${BENCH_STACK_PORT:-59321} STACK_DIR="$ROOT/.stack/bench" STACK_ENV_FILE="$ROOT/.stack/bench/env.local"
mkdir -p "$STACK_DIR"
# The demo seed stays where it is: moving it forward recounts every rollup of the stack, here the 10M
# events' (minutes, and it would change the data between two runs of this benchmark).
STACK_DEMO_CURRENT=off bash scripts/stack.sh start >/dev/null
# shellcheck disable=SC1090
source "$STACK_ENV_FILE"
export PGPASSWORD=postgres
psql_db() { psql -X -q -v ON_ERROR_STOP=1 "$SUPABASE_DB_URL" "$@"; }

loaded=$(psql_db -Atc "select count(*) from public.mashups where title like 'Bench mashup %'")
if [ "$loaded" = 0 ]; then
  # The benchmark measures reads: no cron job may fold in data while it runs.
  psql_db -c "select cron.unschedule(jobname) from cron.job" >/dev/null
  BENCH_DB=postgres bench/generate "$EVENTS"
  days=${BENCH_DAYS:-60}
  echo "[dashboard] backfilling the rollups for $days days"
  t0=$(date +%s)
  psql_db -c "call aggregation.backfill(current_date - $((days + 1)), current_date + 1)"
  echo "[dashboard] backfill took $(( $(date +%s) - t0 )) s"
  psql_db -c "vacuum analyze"
fi
"$ROOT/node_modules/.bin/deno" run --allow-all --config deno.json bench/dashboard/measure.ts
# The dashboard RPC in SQL: the current read path against the one it replaced, every response compared.
"$ROOT/node_modules/.bin/deno" run --allow-all --config deno.json bench/dashboard/read_path.ts "$SUPABASE_DB_URL"
