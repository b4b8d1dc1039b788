#!/usr/bin/env bash
# A throwaway S3-compatible server for the backend tests: moto in server mode on 127.0.0.1:25000
# (real HTTP, state in memory: a restart loses every bucket, so tests create what they need).
#
#   s3.sh start          start it in the background (idempotent) and wait until it answers HTTP
#   s3.sh stop           stop it and delete .services/s3/ and .services/s3.env
#   s3.sh pause          SIGSTOP the server: connections are accepted by the kernel but never
#                        answered, i.e. an outage that keeps the buckets (for fault tests)
#   s3.sh resume         SIGCONT it: the same server answers again, with its state
#   s3.sh stop-server    stop only the process (keeps .services/s3.env; buckets are lost)
#   s3.sh start-server   start the process again after stop-server
#   s3.sh status
#
# moto comes from the Python environment that runs the tests: $PYTHON when set, else the
# project's .venv/bin/python, else the first python3 on PATH that has moto (e.g. /work/venv).
# Writes .services/s3.env (SPOKE_TEST_S3_ENDPOINT, SPOKE_TEST_S3_CTL), which tests/conftest.py reads.
set -euo pipefail

SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
ROOT="$(cd "$(dirname "$SELF")/../.." && pwd)"
SERVICES="$ROOT/.services"
BASE="$SERVICES/s3"
ENV_FILE="$SERVICES/s3.env"
PID_FILE="$BASE/moto.pid"
LOG_FILE="$BASE/moto.log"
HOST=127.0.0.1
PORT="${SPOKE_S3_TEST_PORT:-25000}"
ENDPOINT="http://$HOST:$PORT"

die() { echo "s3.sh: $*" >&2; exit 1; }

has_moto() { "$1" -c 'import moto.server' >/dev/null 2>&1; }

find_python() {
  local candidate
  for candidate in "${PYTHON:-}" "$ROOT/.venv/bin/python" "$(command -v python3 || true)" \
    "$(command -v python || true)" /work/venv/bin/python; do
    [ -n "$candidate" ] && [ -x "$candidate" ] && has_moto "$candidate" && {
      echo "$candidate"
      return 0
    }
  done
  die "no python with moto found; install it: pip install 'moto[server]>=5' (or run scripts/install-services)"
}

# Any HTTP answer counts (moto answers / with 200); curl is optional, python is not.
answers() {
  "$PY" - "$ENDPOINT" <<'PYCODE' >/dev/null 2>&1
import sys, urllib.error, urllib.request
try:
    urllib.request.urlopen(sys.argv[1] + "/", timeout=1).read()
except urllib.error.HTTPError:
    pass
PYCODE
}

running_pid() {
  [ -f "$PID_FILE" ] || return 1
  local pid
  pid="$(cat "$PID_FILE")"
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

start_server() {
  mkdir -p "$BASE"
  if running_pid >/dev/null; then
    kill -CONT "$(running_pid)" 2>/dev/null || true # a paused server counts as started
    answers && return 0
  fi
  answers && die "port $PORT is taken by another process"
  # The port is below Linux's ephemeral range (32768-60999), but a server that just stopped may
  # leave it in TIME_WAIT for a while, so a bind failure is retried before giving up.
  for _ in $(seq 1 75); do
    # A new session, so the server survives the shell and ignores its terminal's signals.
    setsid "$PY" -m moto.server -H "$HOST" -p "$PORT" >"$LOG_FILE" 2>&1 </dev/null &
    echo $! >"$PID_FILE"
    for _ in $(seq 1 150); do
      answers && return 0
      running_pid >/dev/null || break
      sleep 0.1
    done
    running_pid >/dev/null && die "timed out waiting for moto on $ENDPOINT (see $LOG_FILE)"
    grep -q "in use" "$LOG_FILE" || die "moto exited at startup (see $LOG_FILE)"
    sleep 1
  done
  die "port $PORT stays in use (set SPOKE_S3_TEST_PORT to another port)"
}

stop_server() {
  local pid
  if pid="$(running_pid)"; then
    kill -CONT "$pid" 2>/dev/null || true # a stopped process cannot act on SIGTERM
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PID_FILE"
}

signal_server() { # signal
  local pid
  pid="$(running_pid)" || die "moto is not running (s3.sh start)"
  kill "-$1" "$pid"
}

start() {
  start_server
  cat >"$ENV_FILE" <<ENV
SPOKE_TEST_S3_ENDPOINT=$ENDPOINT
SPOKE_TEST_S3_CTL=$SELF
ENV
  echo "s3: moto on $ENDPOINT (pid $(running_pid))"
}

stop() {
  stop_server
  rm -rf "$BASE"
  rm -f "$ENV_FILE"
}

status() {
  if ! pid="$(running_pid)"; then
    echo "s3 (moto, port $PORT): down"
  elif [ "$(ps -o stat= -p "$pid" | cut -c1)" = T ]; then
    echo "s3 (moto, port $PORT): paused (pid $pid)"
  else
    echo "s3 (moto, port $PORT): up (pid $pid)"
  fi
}

case "${1:-}" in
  start | start-server | stop | stop-server | pause | resume | status) ;;
  *)
    echo "usage: s3.sh start|stop|pause|resume|stop-server|start-server|status" >&2
    exit 2
    ;;
esac

PY="$(find_python)"
case "$1" in
  start) start ;;
  stop) stop ;;
  start-server) start_server ;;
  stop-server) stop_server ;;
  pause) signal_server STOP ;;
  resume) signal_server CONT ;;
  status) status ;;
esac
