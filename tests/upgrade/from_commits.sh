#!/usr/bin/env bash
# tests/upgrade/from_commits.sh: databases built at older commits of main, upgraded the way an
# operator does (`supabase migration up --db-url`, the real CLI), end with the schema a fresh database
# has. For each commit in tests/upgrade/commits.txt: a scratch database from that commit's own
# migration files (git show; psql, with pg_cron's calls stood in, the versions recorded as the CLI
# records them), then HEAD's `migration up` (with --include-all where the CLI asks for it: states
# where a merge added lower versions, docs/decisions.md), then `pg_dump --schema-only` of both,
# compared. Prints "upgrade from commits: ok (N)" or the differences; exits non-zero on any.
# A commit this clone does not have (a shallow clone) is skipped, said so.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck disable=SC1091
source "${STACK_ENV_FILE:-$ROOT/.env.local}"
ADMIN_URL="$SUPABASE_DB_URL"
url_of() { echo "${SUPABASE_DB_URL/\/postgres\?/\/$1?}"; }
WORK=$(mktemp -d)
DBS=()
cleanup() {
  for d in "${DBS[@]}"; do psql -X -q "$ADMIN_URL" -c "drop database if exists $d with (force)" >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# A scratch database from the migration files of one commit (HEAD: the working tree's).
build() {
  local commit=$1 db=$2 url f v name
  url=$(url_of "$db")
  psql -X -q -v ON_ERROR_STOP=1 "$ADMIN_URL" -c "create database $db" >/dev/null
  DBS+=("$db")
  psql -X -q "$url" -f "$ROOT/sql/bootstrap.sql" >/dev/null 2>&1
  psql -X -q -v ON_ERROR_STOP=1 "$url" -c "create schema cron;
    create function cron.schedule(text, text, text) returns bigint language sql as 'select 0::bigint';
    create function cron.unschedule(text) returns boolean language sql as 'select true';
    create schema supabase_migrations;
    create table supabase_migrations.schema_migrations (version text primary key, statements text[], name text)" >/dev/null
  while read -r f; do
    v=$(basename "$f" | cut -c1-14); name=$(basename "$f" .sql | cut -c16-)
    case "$f" in
      *_cron.sql) ;;
      *) if [ "$commit" = HEAD ]; then cp "$ROOT/$f" "$WORK/m.sql"; else git -C "$ROOT" show "$commit:$f" >"$WORK/m.sql"; fi
         psql -X -q -v ON_ERROR_STOP=1 "$url" -f "$WORK/m.sql" >/dev/null 2>"$WORK/err.txt" \
           || { echo "upgrade from $commit: its own $f failed:"; head -3 "$WORK/err.txt"; return 1; } ;;
    esac
    psql -X -q "$url" -c "insert into supabase_migrations.schema_migrations values ('$v', '{}', '$name')" >/dev/null
  done < <(if [ "$commit" = HEAD ]; then (cd "$ROOT" && ls supabase/migrations/*.sql); else
             git -C "$ROOT" ls-tree --name-only "$commit" supabase/migrations/ | grep '\.sql$' | sort; fi)
  # pg_cron's schedules live in the stack's postgres database only: the CLI must not run them here.
  for f in "$ROOT"/supabase/migrations/*_cron.sql; do
    v=$(basename "$f" | cut -c1-14)
    psql -X -q "$url" -c "insert into supabase_migrations.schema_migrations values ('$v', '{}', 'cron') on conflict do nothing" >/dev/null
  done
}
schema_of() {
  pg_dump "$(url_of "$1")" --schema-only --no-owner -n public -n aggregation -n dashboard -n raw_events \
    -n analytics -n auth | grep -v '^--' | grep -v '^$' | grep -v '^\\\(un\)\?restrict'
}

build HEAD "upgrade_fresh_$$"
schema_of "upgrade_fresh_$$" >"$WORK/fresh.sql"
n=0; failed=0
while read -r commit why; do
  case "$commit" in ''|'#'*) continue ;; esac
  if ! git -C "$ROOT" cat-file -e "$commit^{commit}" 2>/dev/null; then echo "skipped $commit: not in this clone"; continue; fi
  db="upgrade_from_${commit}_$$"
  build "$commit" "$db" || { failed=1; continue; }
  url=$(url_of "$db")
  up() { (cd "$ROOT" && npx --no-install supabase migration up "$@" --db-url "$url") >"$WORK/up.txt" 2>&1; }
  if ! up; then
    if grep -q -- '--include-all' "$WORK/up.txt" && up --include-all; then :; else
      echo "upgrade from $commit ($why): migration up failed:"; grep -v '^Applying\|^Connecting' "$WORK/up.txt" | head -8
      failed=1; continue
    fi
  fi
  if ! diff <(schema_of "$db") "$WORK/fresh.sql" >"$WORK/diff.txt"; then
    echo "upgrade from $commit ($why): the schema differs from a fresh database:"; head -30 "$WORK/diff.txt"
    failed=1
  fi
  psql -X -q "$ADMIN_URL" -c "drop database if exists $db with (force)" >/dev/null
  n=$((n + 1))
done <"$ROOT/tests/upgrade/commits.txt"
[ "$failed" = 0 ] || exit 1
echo "upgrade from commits: ok ($n states, each equal to a fresh database after migration up)"
