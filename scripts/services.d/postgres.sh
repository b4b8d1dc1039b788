#!/usr/bin/env bash
# A throwaway PostgreSQL for the backend tests: a primary on 127.0.0.1:25432 and a streaming
# replica (pg_basebackup -R) on 127.0.0.1:25433, trust authentication, database spoke_test.
#
#   postgres.sh start                       create (once) and start both; idempotent
#   postgres.sh stop                        stop both and delete .services/postgres/
#   postgres.sh stop-primary|start-primary  for fault tests (the data is kept)
#   postgres.sh stop-replica|start-replica
#   postgres.sh rebuild-replica             a fresh base backup (if the replica ever breaks)
#   postgres.sh status
#
# Writes .services/postgres.env (SPOKE_TEST_POSTGRES_URL, SPOKE_TEST_POSTGRES_REPLICA_URL,
# SPOKE_TEST_POSTGRES_CTL), which tests/conftest.py reads. PostgreSQL refuses to run as root, so
# when this runs as root the servers run as the `postgres` OS user.
set -euo pipefail

SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
ROOT="$(cd "$(dirname "$SELF")/../.." && pwd)"
SERVICES="$ROOT/.services"
BASE="$SERVICES/postgres"
PRIMARY="$BASE/primary"
REPLICA="$BASE/replica"
SOCKETS="$BASE/run"
PRIMARY_PORT="${SPOKE_PG_PRIMARY_PORT:-25432}"
REPLICA_PORT="${SPOKE_PG_REPLICA_PORT:-25433}"
DB=spoke_test
SLOT=spoke_replica
ENV_FILE="$SERVICES/postgres.env"

die() { echo "postgres.sh: $*" >&2; exit 1; }

BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
  if command -v initdb >/dev/null 2>&1; then
    BIN="$(dirname "$(command -v initdb)")"
  else
    die "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb);" \
      "install them: apt-get install postgresql (or run scripts/install-services)"
  fi
fi

if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' OS user"
  as_pg() { runuser -u postgres -- "$@"; }
  OWNER=postgres
else
  as_pg() { "$@"; }
  OWNER="$(id -un)"
fi

running() { [ -f "$1/postmaster.pid" ] && as_pg "$BIN/pg_ctl" -D "$1" status >/dev/null 2>&1; }

wait_ready() { # port
  for _ in $(seq 1 100); do
    "$BIN/pg_isready" -q -h 127.0.0.1 -p "$1" -d "$DB" -U postgres && return 0
    sleep 0.1
  done
  die "the server on port $1 does not accept connections (see $BASE/*.log)"
}

start_server() { # datadir port log
  running "$1" && return 0
  rm -f "$1/postmaster.pid"
  as_pg "$BIN/pg_ctl" -D "$1" -l "$3" -w -t 30 -o "-p $2" start >/dev/null \
    || die "could not start the server in $1 (see $3)"
}

stop_server() { # datadir
  if running "$1"; then
    as_pg "$BIN/pg_ctl" -D "$1" -m fast -w -t 30 stop >/dev/null
  fi
}

create_primary() {
  mkdir -p "$BASE" "$SOCKETS"
  chown "$OWNER" "$BASE" "$SOCKETS"
  as_pg "$BIN/initdb" -D "$PRIMARY" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
    >"$BASE/initdb.log" 2>&1 || die "initdb failed (see $BASE/initdb.log)"
  cat >>"$PRIMARY/postgresql.conf" <<CONF
# spoke test cluster
listen_addresses = '127.0.0.1'
unix_socket_directories = '$SOCKETS'
wal_level = replica
max_wal_senders = 10
hot_standby = on
fsync = off
full_page_writes = off
max_connections = 200
wal_retrieve_retry_interval = '500ms'
wal_keep_size = '256MB'
CONF
}

psql_primary() { "$BIN/psql" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -d postgres -tAc "$1"; }

has_slot() { psql_primary "SELECT 1 FROM pg_replication_slots WHERE slot_name = '$SLOT'" | grep -q 1; }

create_replica() {
  # A physical replication slot keeps the WAL the replica has not received yet, so a replica
  # stopped by a fault test (or lagging) can always catch up.
  rm -rf "$REPLICA"
  if has_slot; then
    psql_primary "SELECT pg_drop_replication_slot('$SLOT')" >/dev/null
  fi
  as_pg "$BIN/pg_basebackup" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -D "$REPLICA" -R -c fast \
    -X stream -C -S "$SLOT" >"$BASE/basebackup.log" 2>&1 \
    || die "pg_basebackup failed (see $BASE/basebackup.log)"
  chmod 700 "$REPLICA"
}

write_env() {
  mkdir -p "$SERVICES"
  cat >"$ENV_FILE" <<ENV
SPOKE_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:$PRIMARY_PORT/$DB
SPOKE_TEST_POSTGRES_REPLICA_URL=postgresql://postgres@127.0.0.1:$REPLICA_PORT/$DB
SPOKE_TEST_POSTGRES_CTL=$SELF
ENV
}

start_all() {
  [ -d "$PRIMARY" ] || create_primary
  start_server "$PRIMARY" "$PRIMARY_PORT" "$BASE/primary.log"
  wait_ready_db "$PRIMARY_PORT"
  if [ ! -f "$REPLICA/standby.signal" ] || ! has_slot; then
    stop_server "$REPLICA" 2>/dev/null || true
    create_replica
  fi
  start_server "$REPLICA" "$REPLICA_PORT" "$BASE/replica.log"
  wait_ready "$REPLICA_PORT"
  write_env
  echo "postgres: primary 127.0.0.1:$PRIMARY_PORT, streaming replica 127.0.0.1:$REPLICA_PORT ($BIN)"
}

wait_ready_db() { # port: wait for the server, then make sure the test database exists
  for _ in $(seq 1 100); do
    "$BIN/pg_isready" -q -h 127.0.0.1 -p "$1" -U postgres -d postgres && break
    sleep 0.1
  done
  if ! "$BIN/psql" -h 127.0.0.1 -p "$1" -U postgres -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
    "$BIN/createdb" -h 127.0.0.1 -p "$1" -U postgres "$DB"
  fi
  wait_ready "$1"
}

case "${1:-}" in
  start) start_all ;;
  stop)
    [ -d "$REPLICA" ] && stop_server "$REPLICA"
    [ -d "$PRIMARY" ] && stop_server "$PRIMARY"
    rm -rf "$BASE" "$ENV_FILE"
    echo "postgres: stopped"
    ;;
  stop-primary) stop_server "$PRIMARY" ;;
  start-primary)
    [ -d "$PRIMARY" ] || die "no primary: run '$SELF start' first"
    start_server "$PRIMARY" "$PRIMARY_PORT" "$BASE/primary.log"
    wait_ready "$PRIMARY_PORT"
    ;;
  stop-replica) stop_server "$REPLICA" ;;
  start-replica)
    [ -d "$REPLICA" ] || die "no replica: run '$SELF start' first"
    start_server "$REPLICA" "$REPLICA_PORT" "$BASE/replica.log"
    wait_ready "$REPLICA_PORT"
    ;;
  rebuild-replica)
    [ -d "$PRIMARY" ] || die "no primary: run '$SELF start' first"
    stop_server "$REPLICA" 2>/dev/null || true
    create_replica
    start_server "$REPLICA" "$REPLICA_PORT" "$BASE/replica.log"
    wait_ready "$REPLICA_PORT"
    ;;
  status)
    for dir in "$PRIMARY" "$REPLICA"; do
      if running "$dir"; then echo "$dir: running"; else echo "$dir: stopped"; fi
    done
    ;;
  *)
    echo "usage: $0 start|stop|stop-primary|start-primary|stop-replica|start-replica|rebuild-replica|status" >&2
    exit 2
    ;;
esac
