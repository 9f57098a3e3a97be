#!/usr/bin/env bash
# How supervisord (see scripts/stack.sh) runs one part of the stack:
#
#   stack-part.sh <pgid-file> <env-file|-> <program> [args...]
#
# supervisord starts every program as the leader of a new process group. A part killed with -9
# can leave children behind in its old group (the edge runtime's function workers, nginx's
# worker), still holding their ports, so the restarted part would crash-loop on "address in
# use". Before starting, this kills what is left of the part's previous process group: only
# processes in that recorded group that run the same program binary, so nothing of another
# checkout or another part is touched. Then it records the new group, loads the part's
# environment (secrets stay out of the command line and of supervisord.conf) and execs the program.
set -euo pipefail
pgid_file=$1 env_file=$2
shift 2
exe=$(readlink -f "$(command -v "$1")")

if [ -s "$pgid_file" ]; then
  old=$(cat "$pgid_file")
  me=$(ps -o pgid= -p $$ | tr -d ' ')
  if [ "$old" != "$me" ]; then
    for pid in $(pgrep -g "$old" 2>/dev/null || true); do
      [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$exe" ] && kill -9 "$pid" 2>/dev/null || true
    done
    for _ in $(seq 1 50); do
      left=0
      for pid in $(pgrep -g "$old" 2>/dev/null || true); do
        [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$exe" ] && left=1
      done
      [ "$left" = 0 ] && break
      sleep 0.1
    done
  fi
fi
ps -o pgid= -p $$ | tr -d ' ' >"$pgid_file"

if [ "$env_file" != - ]; then
  set -a
  # shellcheck disable=SC1090
  . "$env_file"
  set +a
fi
exec "$@"
