#!/usr/bin/env bash
# Regenerates types/database.ts from the running database with Supabase's own generator
# (@supabase/postgres-meta, what `supabase gen types typescript` runs inside Docker).
#   scripts/gen-types.sh          write types/database.ts
#   scripts/gen-types.sh --check  fail if types/database.ts is out of date
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck disable=SC1091
source .env.local
out=$(mktemp)
PG_META_DB_URL="$SUPABASE_DB_URL" PG_META_GENERATE_TYPES=typescript \
  PG_META_GENERATE_TYPES_INCLUDED_SCHEMAS=public PG_META_GENERATE_TYPES_DETECT_ONE_TO_ONE_RELATIONSHIPS=true \
  node node_modules/@supabase/postgres-meta/dist/server/server.js >"$out"
"$ROOT/node_modules/.bin/deno" fmt --config deno.json --ext ts - <"$out" >"$out.fmt"
if [ "${1:-}" = "--check" ]; then
  if ! diff -u types/database.ts "$out.fmt" >/dev/null; then
    diff -u types/database.ts "$out.fmt" | head -40 >&2
    echo "types/database.ts is out of date: run npm run gen:types" >&2
    rm -f "$out" "$out.fmt"; exit 1
  fi
  echo "types/database.ts is up to date"
else
  mv "$out.fmt" types/database.ts
  echo "wrote types/database.ts"
fi
rm -f "$out" "$out.fmt"
