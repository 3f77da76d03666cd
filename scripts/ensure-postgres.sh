#!/usr/bin/env bash
# Make sure a PostgreSQL server for tests answers, and print its connection URL.
#
# If nothing answers on 127.0.0.1:$DAIBAN_PG_PORT (default 55432), this initialises a
# throwaway cluster in $DAIBAN_PG_DIR (default /var/tmp/daiban-pg) with trust authentication
# on loopback only, and starts it. The server binaries come from /usr/lib/postgresql/*/bin;
# if there are none, the Debian `postgresql` package is installed first. As root, the server
# runs as the `postgres` user (via runuser). Safe to run concurrently (flock).
#
# Usage:  export DAIBAN_TEST_PG_URL="$(scripts/ensure-postgres.sh)"
#
# DAIBAN_PG_DURABLE=1 keeps PostgreSQL's durability defaults (fsync, synchronous_commit,
# full_page_writes on): scripts/bench.sh starts such a cluster on its own port and directory.
set -euo pipefail

port="${DAIBAN_PG_PORT:-55432}"
dir="${DAIBAN_PG_DIR:-/var/tmp/daiban-pg}"
url="postgres://postgres@127.0.0.1:${port}/postgres"

log() { echo "ensure-postgres: $*" >&2; }

find_bin() {
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

bin="$(find_bin || true)"
if [ -z "$bin" ]; then
    log "no PostgreSQL binaries; installing the Debian package"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    bin="$(find_bin)"
fi

answers() { "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; }

if answers; then
    echo "$url"
    exit 0
fi

mkdir -p "$(dirname "$dir")"
exec 9>"${dir}.lock"
flock -w 120 9 || { log "timed out waiting for another ensure-postgres.sh"; exit 1; }
if answers; then
    echo "$url"
    exit 0
fi

as_pg() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

if [ ! -f "$dir/PG_VERSION" ]; then
    log "initialising a throwaway cluster in $dir"
    rm -rf "$dir"
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
    as_pg "$bin/initdb" -D "$dir" -U postgres -A trust -E UTF8 --no-locale >"${dir}.initdb.log" 2>&1 \
        || { cat "${dir}.initdb.log" >&2; exit 1; }
fi

log "starting PostgreSQL on 127.0.0.1:$port"
# A test cluster: durability settings off for speed (the data is thrown away), unless asked.
durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
[ "${DAIBAN_PG_DURABLE:-}" = 1 ] && durability=""
# The server must not inherit the lock (fd 9: it would hold the lock for its whole life and
# block every later caller) nor our stdout (a caller reading our output would wait forever).
as_pg "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300 $durability" \
    </dev/null >&2 9>&- \
    || { tail -n 30 "$dir/server.log" >&2 || true; exit 1; }

for _ in $(seq 1 60); do
    if answers; then
        echo "$url"
        exit 0
    fi
    sleep 0.5
done
log "PostgreSQL did not answer on port $port"
exit 1
