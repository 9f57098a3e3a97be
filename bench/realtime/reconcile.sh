#!/usr/bin/env bash
# bench/realtime/reconcile.sh: the hourly reconciliation against the full scan it replaced, in the
# same run (bench/realtime/reconcile.sql has what each side measures).
#   STACK_PORT=55500 BENCH_DB=bench bench/realtime/reconcile.sh      (a bench/generate database)
# Environment: STACK_PORT (default 54321; the database is on STACK_PORT+1), BENCH_DB (default
# postgres: the stack's own database), BENCH_REPS (default 5).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PORT=$(( ${STACK_PORT:-54321} + 1 ))
PGPASSWORD=postgres PGSSLMODE=disable psql -X -q -h 127.0.0.1 -p "$PORT" -U postgres -d "${BENCH_DB:-postgres}" \
  -v reps="${BENCH_REPS:-5}" -f "$ROOT/bench/realtime/reconcile.sql" 2>&1 | sed 's/^psql:[^ ]* NOTICE:  //'
