#!/usr/bin/env bash
# A throwaway Redis for the backend tests: a master on 127.0.0.1:26479, a replica on 26480
# (replicaof the master) and one sentinel on 26481 watching master name `spoke` (quorum 1,
# down-after-milliseconds 1000, failover-timeout 3000). No persistence, no password.
#
#   redis.sh start            start all three (idempotent) and wait until they answer PING
#   redis.sh stop             stop all three and delete .services/redis/
#   redis.sh kill-master      SIGKILL the server on the master port (26479), for fault tests
#   redis.sh restart-master   start the server on 26479 again (after a failover, the sentinel
#                             turns it into a replica of the new master)
#   redis.sh kill-replica | restart-replica    the same for the server on 26480
#   redis.sh reset            stop everything and start the initial topology again
#   redis.sh master           print host:port of the master the sentinel currently names
#   redis.sh status
#
# Writes .services/redis.env (SPOKE_TEST_REDIS_URL, SPOKE_TEST_REDIS_SENTINEL_URL,
# SPOKE_TEST_REDIS_CTL), which tests/conftest.py reads.
set -euo pipefail

SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
ROOT="$(cd "$(dirname "$SELF")/../.." && pwd)"
SERVICES="$ROOT/.services"
BASE="$SERVICES/redis"
ENV_FILE="$SERVICES/redis.env"
MASTER_PORT="${SPOKE_REDIS_MASTER_PORT:-26479}"
REPLICA_PORT="${SPOKE_REDIS_REPLICA_PORT:-26480}"
SENTINEL_PORT="${SPOKE_REDIS_SENTINEL_PORT:-26481}"
MASTER_NAME=spoke

die() { echo "redis.sh: $*" >&2; exit 1; }

for bin in redis-server redis-cli redis-sentinel; do
  command -v "$bin" >/dev/null 2>&1 \
    || die "$bin not found; install it: apt-get install redis-server redis-sentinel" \
      "(or run scripts/install-services)"
done

cli() { redis-cli -h 127.0.0.1 -p "$1" --no-auth-warning "${@:2}"; }
answers() { [ "$(cli "$1" ping 2>/dev/null || true)" = "PONG" ]; }

wait_until() { # description command...
  local what="$1"
  shift
  for _ in $(seq 1 100); do
    "$@" && return 0
    sleep 0.1
  done
  die "timed out waiting until $what (logs in $BASE/*.log)"
}

wait_gone() { # port
  for _ in $(seq 1 50); do
    answers "$1" || return 0
    sleep 0.1
  done
  die "the server on port $1 does not stop"
}

write_server_conf() { # name port [replicaof-port]
  local dir="$BASE/$1"
  mkdir -p "$dir"
  cat >"$dir/redis.conf" <<CONF
# spoke test redis ($1)
bind 127.0.0.1
port $2
protected-mode no
daemonize yes
pidfile $dir/redis.pid
logfile $BASE/$1.log
dir $dir
save ""
appendonly no
repl-diskless-sync-delay 0
CONF
  if [ $# -ge 3 ]; then
    echo "replicaof 127.0.0.1 $3" >>"$dir/redis.conf"
  fi
}

write_sentinel_conf() {
  local dir="$BASE/sentinel"
  mkdir -p "$dir"
  cat >"$dir/sentinel.conf" <<CONF
# spoke test sentinel (rewritten by the sentinel itself)
bind 127.0.0.1
port $SENTINEL_PORT
protected-mode no
daemonize yes
pidfile $dir/sentinel.pid
logfile $BASE/sentinel.log
dir $dir
sentinel monitor $MASTER_NAME 127.0.0.1 $MASTER_PORT 1
sentinel down-after-milliseconds $MASTER_NAME 1000
sentinel failover-timeout $MASTER_NAME 3000
sentinel parallel-syncs $MASTER_NAME 1
CONF
}

start_server() { # name port
  answers "$2" && return 0
  redis-server "$BASE/$1/redis.conf" >/dev/null || die "could not start $1 (see $BASE/$1.log)"
  wait_until "$1 answers PING on port $2" answers "$2"
}

start_sentinel() {
  answers "$SENTINEL_PORT" && return 0
  redis-sentinel "$BASE/sentinel/sentinel.conf" >/dev/null \
    || die "could not start the sentinel (see $BASE/sentinel.log)"
  wait_until "the sentinel answers PING on port $SENTINEL_PORT" answers "$SENTINEL_PORT"
}

kill_port() { # name port signal
  local pidfile="$BASE/$1/redis.pid"
  [ "$1" = sentinel ] && pidfile="$BASE/sentinel/sentinel.pid"
  if [ -f "$pidfile" ]; then
    kill "-$3" "$(cat "$pidfile")" 2>/dev/null || true
  fi
  if answers "$2"; then # no pid file, or a stale one: ask the server itself
    cli "$2" shutdown nosave >/dev/null 2>&1 || true
  fi
  wait_gone "$2"
  rm -f "$pidfile"
}

replica_synced() { cli "$REPLICA_PORT" info replication 2>/dev/null | grep -q "master_link_status:up"; }
sentinel_sees_replica() {
  cli "$SENTINEL_PORT" sentinel replicas "$MASTER_NAME" 2>/dev/null | grep -q "^$REPLICA_PORT\$"
}

start() {
  mkdir -p "$BASE"
  [ -f "$BASE/master/redis.conf" ] || write_server_conf master "$MASTER_PORT"
  [ -f "$BASE/replica/redis.conf" ] || write_server_conf replica "$REPLICA_PORT" "$MASTER_PORT"
  [ -f "$BASE/sentinel/sentinel.conf" ] || write_sentinel_conf
  start_server master "$MASTER_PORT"
  start_server replica "$REPLICA_PORT"
  start_sentinel
  wait_until "the replica is in sync with the master" replica_synced
  wait_until "the sentinel knows the replica" sentinel_sees_replica
  cat >"$ENV_FILE" <<ENV
SPOKE_TEST_REDIS_URL=redis://127.0.0.1:$MASTER_PORT/0
SPOKE_TEST_REDIS_SENTINEL_URL=redis+sentinel://127.0.0.1:$SENTINEL_PORT/$MASTER_NAME/0
SPOKE_TEST_REDIS_CTL=$SELF
ENV
  echo "redis: master 127.0.0.1:$MASTER_PORT, replica :$REPLICA_PORT," \
    "sentinel :$SENTINEL_PORT (master name $MASTER_NAME)"
}

stop() {
  kill_port sentinel "$SENTINEL_PORT" TERM
  kill_port replica "$REPLICA_PORT" TERM
  kill_port master "$MASTER_PORT" TERM
  rm -rf "$BASE"
  rm -f "$ENV_FILE"
}

status() {
  for entry in "master:$MASTER_PORT" "replica:$REPLICA_PORT" "sentinel:$SENTINEL_PORT"; do
    if answers "${entry#*:}"; then
      echo "${entry%%:*} (port ${entry#*:}): up"
    else
      echo "${entry%%:*} (port ${entry#*:}): down"
    fi
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  kill-master) kill_port master "$MASTER_PORT" KILL ;;
  restart-master) start_server master "$MASTER_PORT" ;;
  kill-replica) kill_port replica "$REPLICA_PORT" KILL ;;
  restart-replica) start_server replica "$REPLICA_PORT" ;;
  reset)
    stop
    start
    ;;
  master) cli "$SENTINEL_PORT" sentinel get-master-addr-by-name "$MASTER_NAME" | paste -sd: ;;
  status) status ;;
  *)
    echo "usage: redis.sh start|stop|kill-master|restart-master|kill-replica|restart-replica|reset|master|status" >&2
    exit 2
    ;;
esac
