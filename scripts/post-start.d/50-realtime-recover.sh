#!/usr/bin/env bash
# After `npm start`: one realtime sync run, which first rebuilds Redis's realtime data from
# Postgres if Redis lost it (fresh instance, flush, restart without its append-only file) and
# then moves any counters left from before. Never fails the start: the scheduler retries.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck disable=SC1091
source "${STACK_ENV_FILE:-$ROOT/.env.local}"
# Redis may still be loading its append-only file right after a start: a few tries.
for attempt in 1 2 3 4 5; do
  if out=$(curl -sS -m 120 -X POST -H "apikey: $SUPABASE_SECRET_KEY" \
    -H "Content-Type: application/json" -d '{}' -w '\n%{http_code}' "$SUPABASE_URL/functions/v1/realtime-sync" 2>&1) \
    && [ "$(tail -n 1 <<<"$out")" = 200 ]; then
    if grep -q '"recovered":true' <<<"$out"; then printf '[stack] realtime: Redis rebuilt from Postgres\n' >&2; fi
    exit 0
  fi
  sleep "$attempt"
done
printf '[stack] warning: realtime-sync did not run after start: %s\n' "$(head -c 300 <<<"$out")" >&2
exit 0
