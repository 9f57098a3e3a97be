#!/usr/bin/env bash
# `npm test`: starts the stack if needed, then runs every suite against it and ends with one line
# `N passed, N failed` for the whole run; exits non-zero on any failure.
#   1. pgTAP (pg_prove) on tests/sql/*.test.sql
#   2. supabase db lint --db-url (any warning or error fails); supabase db advisors (any warning but
#      pgTAP 77's functions without a search_path, or an unindexed foreign key, fails:
#      scripts/check-advisors.mjs)
#   3. a second `supabase migration up` applies nothing; types/database.ts matches the database (postgres-meta generator)
#   4. deno check of functions, types, scripts and tests; deno lint
#   5. deno test: integration tests through supabase-js, fetch and @upstash/redis, and the dashboard
#      page in Chromium through playwright-core (tests/**/*.test.ts)
# Pass a filter to run only deno tests whose path matches: npm test -- track (no match is a failure).
# Any non-zero deno exit, and any filtered-out (`only`) or ignored test, fails the run (scripts/test-deno.sh).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
mkdir -p .stack/logs test-results

passed=0
failed=0
failures=()
pass() { passed=$((passed + $1)); }
fail() { failed=$((failed + $1)); failures+=("$2"); }

if ! bash scripts/stack.sh start >.stack/logs/test-start.log 2>&1; then
  cat .stack/logs/test-start.log >&2
  echo "the stack did not start" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
# shellcheck disable=SC1091
source .env.local
PG_PORT=$(sed -E 's#.*:([0-9]+)/.*#\1#' <<<"$SUPABASE_DB_URL")
DENO="$ROOT/node_modules/.bin/deno"
export NO_COLOR=1

# Test data of earlier runs goes first (an interrupted run leaves some), and this run's at the end.
cleanup_test_data() { psql -X -q "$SUPABASE_DB_URL" -f tests/_support/cleanup.sql >>test-results/cleanup.txt 2>&1; }
: >test-results/cleanup.txt
cleanup_test_data || { cat test-results/cleanup.txt; echo "removing earlier test data failed"; }
# An earlier run's last events wait in the fold queue for the 5-minute job; fold them now, as that
# job would, so suites that read the queue's state (is_final, retention) start from an empty one
# when runs follow each other within 5 minutes.
psql -X -q "$SUPABASE_DB_URL" -c "select aggregation.run_incremental(p_lag => '0', p_job => 'test-start', p_wait => true)" \
  >>test-results/cleanup.txt 2>&1 || { cat test-results/cleanup.txt; echo "folding the queue failed"; }
# Tests may check that nothing of an earlier run was left (tests/integration/test_hygiene.test.ts).
TEST_RUN_STARTED_AT=$(psql -X -Atc "select now()" "$SUPABASE_DB_URL")
export TEST_RUN_STARTED_AT

echo "== pgTAP =="
PGPASSWORD=postgres pg_prove -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres --ext .sql -v \
  tests/sql/ >test-results/pgtap.tap 2>&1
rc=$?
ok=$(grep -cE '^\s*ok [0-9]+' test-results/pgtap.tap)
notok=$(grep -cE '^\s*not ok [0-9]+' test-results/pgtap.tap)
grep -E '^\s*not ok|^#|Failed|Parse errors|ERROR' test-results/pgtap.tap | head -60
tail -n 3 test-results/pgtap.tap
pass "$ok"
if [ "$notok" -gt 0 ]; then fail "$notok" "pgTAP: $notok failed"; fi
if [ $rc -ne 0 ] && [ "$notok" -eq 0 ]; then fail 1 "pgTAP: a test file died (see test-results/pgtap.tap)"; fi

echo "== supabase db lint =="
if npx --no-install supabase db lint --db-url "$SUPABASE_DB_URL" --level warning --fail-on warning \
  >test-results/lint.txt 2>&1; then
  pass 1; tail -n 1 test-results/lint.txt
else
  cat test-results/lint.txt | head -80; fail 1 "supabase db lint"
fi

echo "== supabase db advisors (Security and Performance Advisor) =="
# Any finding at WARN or above, or an unindexed foreign key, fails, but the functions pgTAP 77
# allows without a search_path.
if npx --no-install supabase db advisors --db-url "$SUPABASE_DB_URL" --type all --level info \
  2>test-results/advisors.err >test-results/advisors.json \
  && node scripts/check-advisors.mjs <test-results/advisors.json >test-results/advisors.txt 2>&1; then
  pass 1; cat test-results/advisors.txt
else
  cat test-results/advisors.err test-results/advisors.txt 2>/dev/null | head -40; fail 1 "supabase db advisors"
fi

echo "== migrations: a second supabase migration up applies nothing =="
if npx --no-install supabase migration up --db-url "$SUPABASE_DB_URL" >test-results/migrations.txt 2>&1 \
  && grep -q "Local database is up to date" test-results/migrations.txt; then
  pass 1; echo "migration up: up to date"
else
  cat test-results/migrations.txt; fail 1 "supabase migration up was not a no-op"
fi

echo "== upgrade of a database with data (tests/upgrade/run.sh) =="
if bash tests/upgrade/run.sh >test-results/upgrade.txt 2>&1; then pass 1; tail -n 1 test-results/upgrade.txt; else
  cat test-results/upgrade.txt | head -40; fail 1 "upgrade of a database with data"
fi
# The play summaries holding their fold (20261126140100), over a database the earlier fold filled.
if UPGRADE_FROM=20261126140000 bash tests/upgrade/run.sh >test-results/upgrade-plays.txt 2>&1; then
  pass 1; tail -n 1 test-results/upgrade-plays.txt
else
  cat test-results/upgrade-plays.txt | head -40; fail 1 "upgrade of a database with data (play summaries)"
fi

# Databases built at older commits of main, upgraded with the CLI, equal a fresh one (tests/upgrade/commits.txt).
if bash tests/upgrade/from_commits.sh >test-results/upgrade-commits.txt 2>&1; then
  pass 1; tail -n 1 test-results/upgrade-commits.txt
else
  cat test-results/upgrade-commits.txt | head -60; fail 1 "upgrade from older commits (supabase migration up)"
fi

echo "== generated database types =="
if bash scripts/gen-types.sh --check 2>test-results/types.txt; then pass 1; else
  cat test-results/types.txt; fail 1 "types/database.ts is stale"
fi

echo "== deno check / lint =="
mapfile -t ts_files < <(git ls-files --cached --others --exclude-standard -- 'functions/*.ts' 'types/*.ts' \
  'scripts/*.ts' 'tests/*.ts' 'bench/*.ts' 'web/*.ts' | grep -v '^web/dist/' | while read -r f; do [ -f "$f" ] && echo "$f"; done)
if "$DENO" check --config deno.json "${ts_files[@]}" >test-results/check.txt 2>&1; then pass 1; echo "deno check: ok"; else
  cat test-results/check.txt | head -60; fail 1 "deno check"
fi
if "$DENO" lint --config deno.json functions types tests >test-results/lint-ts.txt 2>&1; then pass 1; echo "deno lint: ok"; else
  cat test-results/lint-ts.txt | head -60; fail 1 "deno lint"
fi

echo "== integration tests (deno test) =="
filter=("tests/")
if [ $# -gt 0 ]; then
  mapfile -t filter < <(git ls-files --cached --others --exclude-standard -- 'tests/*.test.ts' | grep -E "$1")
fi
if [ ${#filter[@]} -eq 0 ]; then
  echo "no test file matches '$1'"; fail 1 "npm test -- $1: no test file matches"
else
  bash scripts/test-deno.sh "${filter[@]}" | tee test-results/deno-summary.txt
  last=$(tail -n 1 test-results/deno-summary.txt)
  dp=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\1/p' <<<"$last")
  df=$(sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\2/p' <<<"$last")
  pass "${dp:-0}"
  if [ -z "$df" ]; then fail 1 "deno test did not finish"; elif [ "$df" -gt 0 ]; then
    fail "$df" "deno test: $(grep '^FAILED: ' test-results/deno-summary.txt | sed 's/^FAILED: //' | paste -sd';' -)"
  fi
fi

if ! cleanup_test_data; then cat test-results/cleanup.txt; fail 1 "removing this run's test data"; fi

echo
for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
