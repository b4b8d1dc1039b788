#!/usr/bin/env bash
# Restore a dump made by scripts/backup-postgres.sh into a PostgreSQL database.
#
#   scripts/restore-postgres.sh --yes-overwrite backups/spoke-pg-20261127T052900Z.sql.gz
#   RESTORE_CONFIRM=yes scripts/restore-postgres.sh FILE
#
# Environment:
#   RESTORE_TARGET_URL   database to restore into (default: SPOKE_POSTGRES_URL)
#   RESTORE_CONFIRM=yes  same as --yes-overwrite
#
# The dump is replayed by psql with ON_ERROR_STOP=1 in a single transaction: the first error
# rolls everything back and the script exits non-zero. Restore into an EMPTY database (create
# it first, `createdb spoke_restored`), or one whose Spoke tables were dropped: the dump creates
# the tables and would fail on existing ones. Because it replaces what a live registry serves,
# the script refuses to run without --yes-overwrite (or RESTORE_CONFIRM=yes).
#
# With SPOKE_BLOB_TYPE=s3 the blobs are NOT in this dump: restore the bucket as well (or use
# `spoke restore`, see docs/backup.md). Run `spoke migrate` afterwards to bring an older dump's
# schema up to date.
set -euo pipefail

log() { printf '%s restore-postgres: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
usage() { echo "usage: $0 [--yes-overwrite] DUMP.sql.gz   (target: RESTORE_TARGET_URL or SPOKE_POSTGRES_URL)" >&2; exit 2; }

confirmed="${RESTORE_CONFIRM:-}"
dump=""
for arg in "$@"; do
  case "$arg" in
    --yes-overwrite) confirmed=yes ;;
    -h|--help) usage ;;
    -*) echo "unknown option: $arg" >&2; usage ;;
    *) [ -z "$dump" ] || usage; dump="$arg" ;;
  esac
done
[ -n "$dump" ] || usage
[ -f "$dump" ] || die "no such dump: $dump"
url="${RESTORE_TARGET_URL:-${SPOKE_POSTGRES_URL:-}}"
[ -n "$url" ] || die "set RESTORE_TARGET_URL (or SPOKE_POSTGRES_URL) to the database to restore into"
url="${url/postgresql+psycopg2:\/\//postgresql://}"
shown="$(printf '%s' "$url" | sed -E 's#//([^:/@]+):[^@]*@#//\1:***@#')"
if [ "$confirmed" != "yes" ]; then
  die "restoring overwrites $shown; pass --yes-overwrite or set RESTORE_CONFIRM=yes to proceed"
fi
command -v psql >/dev/null || die "psql not found (install the PostgreSQL client tools)"

log "verifying $dump"
gzip -t "$dump" || die "gzip integrity check failed: $dump"
gunzip -c "$dump" | head -n 20 | grep -q '^-- PostgreSQL database dump' \
  || die "$dump is not a pg_dump output"
gunzip -c "$dump" | tail -n 5 | grep -q '^-- PostgreSQL database dump complete' \
  || die "$dump is incomplete (no end marker)"

log "restoring into $shown (one transaction; any error rolls back)"
gunzip -c "$dump" | psql --quiet --no-psqlrc -v ON_ERROR_STOP=1 --single-transaction \
  --dbname="$url" >/dev/null || die "restore failed; the target database was left unchanged"
log "ok: restored $dump; run 'spoke migrate' if the dump predates the running version"
