#!/usr/bin/env bash
# The Deno part of `npm test`: deno test on the given files or folders, output kept in
# test-results/deno.txt (or $DENO_TEST_OUTPUT), then one last line `P passed, F failed`.
# Exits non-zero, and counts a failure, for anything short of every test run and passed:
#   - deno's own exit code is not 0 (a stray `only: true` makes deno exit 1 with an "ok" summary);
#   - a test failed;
#   - tests were filtered out (`only`) or ignored (`ignore: true`, Deno.test.ignore).
#   - no test ran at all, or deno died before its summary.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DENO="$ROOT/node_modules/.bin/deno"
out="${DENO_TEST_OUTPUT:-$ROOT/test-results/deno.txt}"
mkdir -p "$(dirname "$out")"
[ $# -gt 0 ] || { echo "test-deno.sh: no test files given" >&2; echo "0 passed, 1 failed"; exit 1; }

NO_COLOR=1 "$DENO" test --allow-all --config "$ROOT/deno.json" "$@" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}

summary=$(grep -E '^(ok|FAILED) \|' "$out" | tail -n 1)
count() { sed -nE "s/.*\\| ([0-9]+) $1.*/\\1/p" <<<"$summary"; }
passed=$(count passed); failed=$(count failed); ignored=$(count ignored); filtered=$(count 'filtered out')
passed=${passed:-0}; failed=${failed:-0}; ignored=${ignored:-0}; filtered=${filtered:-0}

problems=()
[ -n "$summary" ] || { problems+=("deno test printed no summary"); failed=$((failed + 1)); }
[ "$failed" -gt 0 ] && [ -n "$summary" ] && problems+=("$failed deno test(s) failed")
if [ "$ignored" -gt 0 ]; then problems+=("$ignored deno test(s) ignored"); failed=$((failed + ignored)); fi
if [ "$filtered" -gt 0 ]; then problems+=("$filtered deno test(s) filtered out (a stray only?)"); failed=$((failed + 1)); fi
if [ -n "$summary" ] && [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then problems+=("no deno test ran"); failed=1; fi
if [ "$rc" -ne 0 ] && [ ${#problems[@]} -eq 0 ]; then problems+=("deno test exited $rc"); failed=$((failed + 1)); fi
for p in "${problems[@]}"; do echo "FAILED: $p"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$rc" -eq 0 ]
