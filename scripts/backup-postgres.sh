#!/usr/bin/env bash
# Back up Spoke's PostgreSQL database with pg_dump: a gzipped, timestamped, verified dump.
#
#   SPOKE_POSTGRES_URL=postgresql://spoke:...@db:5432/spoke scripts/backup-postgres.sh
#
# Environment:
#   SPOKE_POSTGRES_URL       database to dump (required)
#   BACKUP_DIR               where dumps go (default ./backups); created when missing
#   BACKUP_RETENTION_DAYS    delete this script's dumps older than this many days (default 14;
#                            0 keeps everything). Only files named spoke-pg-*.sql.gz are touched.
#   BACKUP_S3_URI            optional: also upload the dump there with `aws s3 cp`
#                            (e.g. s3://my-backups/spoke/); uses the AWS CLI's own credentials
#   BACKUP_PREFIX            file name prefix (default spoke-pg)
#
# The dump is plain SQL (pg_dump --format=plain --no-owner --no-privileges), gzipped, written
# under a temporary name and renamed only after `gzip -t` and a check of the dump's header and
# trailer passed. Restore it with scripts/restore-postgres.sh.
#
# IMPORTANT: this dump holds the metadata (and the blobs only with SPOKE_BLOB_TYPE=postgres).
# When the blobs live in S3 (SPOKE_BLOB_TYPE=s3) or on a filesystem, back up that bucket or
# directory too (bucket versioning or replication, or `aws s3 sync`), or use `spoke backup`,
# whose archive holds modules, versions AND every referenced blob. See docs/backup.md.
set -euo pipefail

log() { printf '%s backup-postgres: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

url="${SPOKE_POSTGRES_URL:-}"
[ -n "$url" ] || die "SPOKE_POSTGRES_URL is not set"
# pg_dump understands postgresql:// but not SQLAlchemy's driver suffix.
url="${url/postgresql+psycopg2:\/\//postgresql://}"
backup_dir="${BACKUP_DIR:-./backups}"
retention="${BACKUP_RETENTION_DAYS:-14}"
prefix="${BACKUP_PREFIX:-spoke-pg}"
[[ "$retention" =~ ^[0-9]+$ ]] || die "BACKUP_RETENTION_DAYS must be a whole number of days, got '$retention'"
[[ "$prefix" =~ ^[A-Za-z0-9._-]+$ ]] || die "BACKUP_PREFIX may hold only letters, digits, '.', '_' and '-'"
command -v pg_dump >/dev/null || die "pg_dump not found (install the PostgreSQL client tools)"

mkdir -p "$backup_dir"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
final="$backup_dir/$prefix-$stamp.sql.gz"
partial="$backup_dir/.$prefix-$stamp.sql.gz.partial"
trap 'rm -f "$partial"' EXIT

log "dumping database to $final"
pg_dump --format=plain --no-owner --no-privileges --dbname="$url" | gzip -9 >"$partial"

log "verifying"
gzip -t "$partial" || die "gzip integrity check failed for $partial"
gunzip -c "$partial" | head -n 20 | grep -q '^-- PostgreSQL database dump' \
  || die "dump header missing: not a pg_dump output"
# pg_dump writes this line last: its absence means the dump was cut short.
gunzip -c "$partial" | tail -n 5 | grep -q '^-- PostgreSQL database dump complete' \
  || die "dump trailer missing: the dump is incomplete"
tables="$(gunzip -c "$partial" | grep -c '^CREATE TABLE ' || true)"
mv "$partial" "$final"
trap - EXIT
size="$(wc -c <"$final" | tr -d ' ')"
log "ok: $final ($size bytes, $tables tables)"

if [ -n "${BACKUP_S3_URI:-}" ]; then
  command -v aws >/dev/null || die "BACKUP_S3_URI is set but the aws CLI is not installed"
  target="${BACKUP_S3_URI%/}/$(basename "$final")"
  log "uploading to $target"
  aws s3 cp --only-show-errors "$final" "$target" || die "upload to $target failed"
fi

if [ "$retention" -gt 0 ]; then
  # Only this script's own dumps: prefix, timestamp, .sql.gz.
  while IFS= read -r old; do
    log "retention: deleting $old (older than $retention days)"
    rm -f -- "$old"
  done < <(find "$backup_dir" -maxdepth 1 -type f -name "$prefix-*T*Z.sql.gz" -mtime "+$((retention - 1))" ! -newer "$final" ! -samefile "$final")
fi

echo "$final"
