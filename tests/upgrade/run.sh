#!/usr/bin/env bash
# tests/upgrade/run.sh: the upgrade of a database with data, checked.
#   UPGRADE_FROM (default 20261126020000, the folded rollups): the first migration applied in place.
#   1. a scratch database on the stack's PostgreSQL at the schema before UPGRADE_FROM (every migration
#      before it), with the demo data, aggregated the old way (seed.sql's backfill);
#   2. events that arrive after that backfill and that the old jobs never folded; when the old schema
#      already folds (UPGRADE_FROM past 20261126020000), also plays the old fold left half done
#      (heartbeats whose played event has not arrived), folded by an old incremental run, whose
#      played events arrive after the upgrade;
#   3. the remaining migrations, applied in place;
#   4. every rollup against a recount from raw events (bench/exactness.sql): must be exact;
#   5. new events through the new path (trigger + incremental run): exact again.
# Prints "upgrade: ok" or what differs; exits non-zero on any difference. Uses .env.local's database
# server (STACK_PORT's stack) and drops its scratch database at the end.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck disable=SC1091
source "${STACK_ENV_FILE:-$ROOT/.env.local}"
DB=upgrade_check_$$
ADMIN_URL="$SUPABASE_DB_URL"
URL="${SUPABASE_DB_URL/\/postgres\?/\/$DB?}"
psql_admin() { psql -X -q -v ON_ERROR_STOP=1 "$ADMIN_URL" "$@"; }
psql_db() { psql -X -q -v ON_ERROR_STOP=1 "$URL" "$@"; }
cleanup() { psql_admin -c "drop database if exists $DB with (force)" >/dev/null 2>&1 || true; }
trap cleanup EXIT

psql_admin -c "create database $DB" >/dev/null
psql_db -f "$ROOT/sql/bootstrap.sql" >/dev/null 2>&1
# pg_cron can only live in the server's cron.database_name (the stack's postgres database): in this
# scratch database, migrations that schedule a job get a stand-in (the schedules themselves are
# checked by pgTAP on the stack's database).
psql_db -c "create schema cron; create function cron.schedule(text, text, text) returns bigint language sql as 'select 0::bigint';
            create function cron.unschedule(text) returns boolean language sql as 'select true'" >/dev/null
FOLD_FIRST=${UPGRADE_FROM:-20261126020000}
for f in "$ROOT"/supabase/migrations/*.sql; do
  case "$f" in *_cron.sql) continue ;; esac
  [ "$(basename "$f" | cut -c1-14)" -lt "$FOLD_FIRST" ] || continue
  out=$(psql_db -f "$f" 2>&1) || { echo "upgrade: old migration $(basename "$f") failed:"; echo "$out" | grep -m3 ERROR; exit 1; }
done
# The seed rolls its days up with aggregation.backfill_in_transaction (a later migration, written so
# the seed runs through the Supabase CLI): that one migration first, on the old schema.
SEED_BACKFILL="$ROOT/supabase/migrations/20261126030000_aggregation_backfill_in_transaction.sql"
if [ "$FOLD_FIRST" -le 20261126030000 ]; then psql_db -f "$SEED_BACKFILL" >/dev/null; fi
out=$(psql_db -f "$ROOT/supabase/seed.sql" 2>&1) || { echo "upgrade: the seed failed on the old schema:"; echo "$out" | grep -m3 ERROR; exit 1; }
# Arrived after the last old run: never folded by the old jobs.
psql_db -c "
  insert into public.analytics_events (user_id, event_type, properties, \"timestamp\", session_id, anonymous_id, country, device)
  select null, 'mashup_played', jsonb_build_object('mashup_id', m.id, 'play_id', gen_random_uuid(), 'source', 'direct'),
         now() - interval '2 minutes', 'sess-upgrade', 'anon-upgrade-' || (i % 7), 'US', 'mobile'
  from generate_series(1, 50) as i, lateral (select id from public.mashups order by id offset i % 5 limit 1) m" >/dev/null
HALF_DONE=
if [ "$FOLD_FIRST" -gt 20261126020000 ]; then
  # Half-done plays in the old fold's state: 30 plays with heartbeats only; the old incremental job
  # folds them (and the events above).
  HALF_DONE=1
  psql_db -c "
    insert into public.analytics_events (event_type, properties, \"timestamp\", anonymous_id, country, device)
    select 'mashup_play_progress', jsonb_build_object('mashup_id', m.id, 'play_id', md5('upgrade-half-' || i)::uuid,
                                                      'position_seconds', 20 + i * 7),
           now() - interval '3 minutes', 'anon-half-' || i, 'GB', 'tablet'
    from generate_series(1, 30) as i, lateral (select id from public.mashups order by id offset i % 4 limit 1) m" >/dev/null
  psql_db -c "select aggregation.run_incremental(p_lag => '0', p_wait => true)" >/dev/null
fi
before=$(psql_db -Atc "select count(*) || ' events, ' || (select count(*) from public.mashup_daily_stats) || ' daily rows' from public.analytics_events")

for f in "$ROOT"/supabase/migrations/*.sql; do
  case "$f" in *_cron.sql) continue ;; esac
  [ "$(basename "$f" | cut -c1-14)" -ge "$FOLD_FIRST" ] || continue
  [ "$f" != "$SEED_BACKFILL" ] || continue
  out=$(psql_db -f "$f" 2>&1) || { echo "upgrade: migration $(basename "$f") failed:"; echo "$out" | grep -m3 ERROR; exit 1; }
done

psql_db -f "$ROOT/bench/exactness.sql" >/dev/null
bad=$(psql_db -Atc "select rollup || ': ' || mismatched from check_rollups.mismatches() where mismatched <> 0")
if [ -n "$bad" ]; then echo "upgrade: rollups differ from the raw events after the upgrade:"; echo "$bad"; exit 1; fi

psql_db -c "
  insert into public.analytics_events (user_id, event_type, properties, \"timestamp\", session_id, anonymous_id, country, device)
  select null, (array['mashup_played', 'mashup_liked'])[1 + i % 2],
         jsonb_build_object('mashup_id', m.id, 'play_id', gen_random_uuid(), 'source', 'twitter'),
         now() - interval '1 minute', 'sess-after', 'anon-after-' || (i % 11), 'DE', 'desktop'
  from generate_series(1, 40) as i, lateral (select id from public.mashups order by id offset i % 3 limit 1) m" >/dev/null
if [ -n "$HALF_DONE" ]; then
  # Listeners the old rollups already know (the events above, folded by the old run), back on the
  # same mashups the day before: each a new day's listener, none a new lifetime listener.
  psql_db -c "
    insert into public.analytics_events (event_type, properties, \"timestamp\", session_id, anonymous_id, country, device)
    select 'mashup_played', jsonb_build_object('mashup_id', m.id, 'play_id', gen_random_uuid(), 'source', 'direct'),
           now() - interval '1 day', 'sess-known', 'anon-upgrade-' || (i % 7), 'US', 'mobile'
    from generate_series(1, 14) as i, lateral (select id from public.mashups order by id offset i % 5 limit 1) m" >/dev/null
  # The half-done plays' played events arrive.
  psql_db -c "
    insert into public.analytics_events (event_type, properties, \"timestamp\", anonymous_id, country, device)
    select 'mashup_played', jsonb_build_object('mashup_id', m.id, 'play_id', md5('upgrade-half-' || i)::uuid, 'source', 'direct'),
           now() - interval '4 minutes', 'anon-half-' || i, 'GB', 'tablet'
    from generate_series(1, 30) as i, lateral (select id from public.mashups order by id offset i % 4 limit 1) m" >/dev/null
fi
psql_db -c "select aggregation.run_incremental(p_lag => '0', p_wait => true)" >/dev/null
bad=$(psql_db -Atc "select rollup || ': ' || mismatched from check_rollups.mismatches() where mismatched <> 0")
if [ -n "$bad" ]; then echo "upgrade: rollups differ after the first incremental run on the upgraded database:"; echo "$bad"; exit 1; fi
if [ -n "$HALF_DONE" ]; then
  waiting=$(psql_db -Atc "select count(*) from aggregation.play_folds f
                          where f.play_id in (select md5('upgrade-half-' || i)::uuid from generate_series(1, 30) as i)")
  summarized=$(psql_db -Atc "select count(*) from public.mashup_play_summaries s
                             where s.play_id in (select md5('upgrade-half-' || i)::uuid from generate_series(1, 30) as i)
                               and s.furthest_position_seconds > 0")
  if [ "$waiting" != 0 ] || [ "$summarized" != 30 ]; then
    echo "upgrade: the half-done plays: $summarized of 30 summarized with their heartbeats, $waiting still waiting"; exit 1
  fi
fi
echo "upgrade from $FOLD_FIRST: ok ($before before; every rollup exact after the upgrade and after a new incremental run${HALF_DONE:+; 30 half-done plays completed})"
