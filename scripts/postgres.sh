#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server on loopback for the tests and benchmarks, and prints its URL.
#   scripts/postgres.sh start [dir] [port]   -> prints postgres://keyway@127.0.0.1:PORT/keyway
#   scripts/postgres.sh stop  [dir]
#   scripts/postgres.sh prune [dir] [port]   -> drops the schemas the tests and benchmarks left (test_*, bench_*)
# Needs Debian's `postgresql` package (apt-get install postgresql). The server runs as the `postgres`
# system user when started by root (PostgreSQL refuses to run as root), with trust authentication on
# 127.0.0.1 only; it is for tests, not for production.
set -euo pipefail
action=${1:-start}
dir=${2:-/tmp/keyway-postgres}
port=${3:-54329}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] || { echo "PostgreSQL is not installed: apt-get install postgresql" >&2; exit 1; }
as_owner() {
    if [ "$(id -u)" = 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi
}
case "$action" in
start)
    if [ ! -f "$dir/PG_VERSION" ]; then
        mkdir -p "$dir"
        [ "$(id -u)" = 0 ] && chown postgres "$dir"
        as_owner "$bin/initdb -D '$dir' -U keyway --auth=trust -E UTF8 --locale=C.UTF-8" >/dev/null
        cat >>"$dir/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 1000
shared_buffers = 256MB
fsync = on
CONF
    fi
    if ! as_owner "$bin/pg_ctl -D '$dir' status" >/dev/null 2>&1; then
        as_owner "$bin/pg_ctl -D '$dir' -l '$dir/server.log' -w start" >/dev/null
    fi
    as_owner "$bin/psql -h 127.0.0.1 -p $port -U keyway -d postgres -tAc \"SELECT 1 FROM pg_database WHERE datname='keyway'\"" \
        | grep -q 1 || as_owner "$bin/createdb -h 127.0.0.1 -p $port -U keyway keyway"
    echo "postgres://keyway@127.0.0.1:$port/keyway"
    ;;
stop)
    as_owner "$bin/pg_ctl -D '$dir' -m fast stop" >/dev/null || true
    ;;
prune)
    # The HTTP suites' pass on PostgreSQL keeps a schema per test database path and never drops it (about 300
    # a pass), and an interrupted benchmark leaves its own: on a server kept between runs they pile up (13 GB on
    # one kept here), a weight on the server and its benchmarks. One DROP per schema, each its own transaction
    # (one transaction for all of them runs out of locks). Not while tests run on this server: theirs go too.
    { echo "SET client_min_messages = warning;"
      as_owner "$bin/psql -X -h 127.0.0.1 -p $port -U keyway -d keyway -tAc \"SELECT format('DROP SCHEMA %I CASCADE;', nspname) FROM pg_namespace WHERE nspname ~ '^(test|bench)_'\""
    } | as_owner "$bin/psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p $port -U keyway -d keyway" >/dev/null
    ;;
*) echo "usage: $0 start|stop|prune [dir] [port]" >&2; exit 2 ;;
esac
