#!/usr/bin/env bash
# Starts the machine's PostgreSQL 15 cluster if it is stopped, makes sure
# the `calbridge` test role exists, drops scratch databases left by earlier
# runs (not those in use), and prints the URL the integration tests create databases from.
set -euo pipefail

as_postgres() { if [ "$(id -u)" = 0 ]; then su postgres -c "$1"; else sudo -u postgres sh -c "$1"; fi; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! pg_lsclusters -h 2>/dev/null | awk '$1 == "15" && $2 == "main" { print $4 }' | grep -q online; then
  as_root pg_ctlcluster 15 main start >&2
fi
for _ in $(seq 1 30); do
  as_postgres "pg_isready -q" && break
  sleep 1
done

as_postgres "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname = 'calbridge'\"" | grep -q 1 ||
  as_postgres "psql -qc \"CREATE ROLE calbridge LOGIN CREATEDB PASSWORD 'calbridge'\"" >&2

# Only databases nobody is connected to: another checkout's tests may be
# running on theirs. One that gets a connection meanwhile refuses the drop;
# it is left for the next run.
leftovers="SELECT datname FROM pg_database WHERE datname LIKE 'cb\\_test\\_%'
  AND datname NOT IN (SELECT datname FROM pg_stat_activity WHERE datname IS NOT NULL)"
for db in $(as_postgres "psql -qtAc \"$leftovers\""); do
  as_postgres "psql -qc 'DROP DATABASE IF EXISTS \"$db\"'" >&2 || true
done

echo "postgres://calbridge:calbridge@127.0.0.1:5432/postgres"
