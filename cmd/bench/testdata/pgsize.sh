#!/usr/bin/env bash
# Sizing PostgreSQL for the compose service: PostgreSQL's defaults (A) against the
# settings of docker-compose.yml (B), each on a fresh PostgreSQL 15 server of its own on
# port 5441 (run as root: the server runs as the postgres user), seeded with a million
# articles and loaded twice. From the repository root:
#
#   bash cmd/bench/testdata/pgsize.sh
set -euo pipefail
BIN=/usr/lib/postgresql/15/bin
repo=$(pwd)
work=$(mktemp -d)
chown postgres "$work"
D=$work/data
URL='postgres://postgres@127.0.0.1:5441/perf?sslmode=disable'
A="-c port=5441 -c listen_addresses=127.0.0.1 -c unix_socket_directories=$work"
B="$A -c shared_buffers=1GB -c effective_cache_size=3GB -c maintenance_work_mem=256MB -c wal_compression=lz4 -c max_wal_size=4GB -c checkpoint_timeout=15min"
pgstart() { runuser -u postgres -- "$BIN/pg_ctl" -D "$D" -l "$work/log" -w -o "$1" start >/dev/null; }
pgstop() { runuser -u postgres -- "$BIN/pg_ctl" -D "$D" -m fast -w stop >/dev/null; }
trap 'pgstop 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/articlesd" "$repo"
runuser -u postgres -- "$BIN/initdb" -D "$D" -A trust -U postgres >/dev/null
bench() {
  "$work/articlesd" bench --database-url "$URL" --count 1000000 --duration 15s --warmup 3s --rounds 1 \
    --no-limitsrv --no-ceiling --scenarios get-by-id,popular,create 2>&1 | grep -E '^(get-by-id|popular|create) +articlesd'
}
for cfg in A B; do
  opts=$A
  [ "$cfg" = B ] && opts=$B
  pgstart "$opts"
  psql -h 127.0.0.1 -p 5441 -U postgres -qc 'drop database if exists perf' -c 'create database perf'
  "$work/articlesd" migrate up --database-url "$URL" >/dev/null
  start=$(date +%s.%N)
  "$work/articlesd" seed --count 1000000 --database-url "$URL" | tail -n 1
  echo "$cfg seed: $(echo "$(date +%s.%N) - $start" | bc) s"
  echo "$cfg bench:"; bench
  echo "$cfg bench again:"; bench
  pgstop
done
