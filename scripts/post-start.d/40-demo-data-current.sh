#!/usr/bin/env bash
# After `npm start`: keep the demo data current (sql/reanchor_demo_data.sql moves the seed forward
# when it is over an hour old and recomputes its rollups, and finishes a recount an earlier start
# left halfway). When it moved, Redis's live windows
# are rebuilt from Postgres by the realtime sync that 50-realtime-recover.sh runs next: removing
# rt:epoch is how that sync is told Redis's windows no longer match the raw events.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck disable=SC1091
source "${STACK_ENV_FILE:-$ROOT/.env.local}"
# STACK_DEMO_CURRENT=off leaves the demo where it is: a stack that holds far more than the demo
# (bench/dashboard/run.sh's 10M events) would have every rollup recounted at each start (minutes).
if [ "${STACK_DEMO_CURRENT:-on}" = off ]; then
  # ... but says so when an earlier start left part of the rollups to recount (they stay incomplete).
  left=$(psql -X -q -At "$SUPABASE_DB_URL" -c "select count(*) from aggregation.rebuild_days" 2>/dev/null || echo 0)
  if [ "${left:-0}" -gt 0 ]; then
    printf '[stack] warning: %s days of rollups are still to recount (a start stopped halfway); npm start without STACK_DEMO_CURRENT=off, or call aggregation.rebuild_queued_days(), finishes them\n' "$left" >&2
  fi
  exit 0
fi
# STACK_DEMO_CURRENT=force re-anchors even a stack whose rollups hold counts its raw events no
# longer have (erased listeners, dropped months), which the recount then loses; by default such a
# stack keeps its demo where it is.
force=false
[ "${STACK_DEMO_CURRENT:-on}" = force ] && force=true
out=$(psql -X -q "$SUPABASE_DB_URL" -v force="$force" -f "$ROOT/sql/reanchor_demo_data.sql" 2>&1) \
  || { printf '[stack] error: re-anchoring the demo data failed: %s\n' "$out" >&2; exit 1; }
if grep -q '^kept where it is' <<<"$out"; then
  printf '[stack] note: the demo data is over an hour old but not moved forward, %s; STACK_DEMO_CURRENT=force npm start moves it and loses them\n' \
    "$(grep -o 'the rollups hold.*' <<<"$out" | head -1 | sed 's/, which a re-anchoring would lose//')" >&2
fi
if grep -q '^re-anchored' <<<"$out"; then
  REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -p "$REDIS_PORT" del rt:epoch >/dev/null
  if grep -q '^re-anchoring' <<<"$out"; then
    printf '[stack] demo data moved forward to now (%s; %s)\n' "$(grep -o 're-anchoring.*' <<<"$out" | head -1)" \
      "$(grep -o 'recounting.*' <<<"$out" | head -1)" >&2
  else
    # An earlier start was stopped halfway through the recount: its days were still queued.
    printf '[stack] demo data: finished the recount an earlier start left (%s)\n' \
      "$(grep -o 'recounting.*' <<<"$out" | head -1)" >&2
  fi
fi
exit 0
