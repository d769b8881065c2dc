#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the test suite: `source .ci/postgres.sh` starts one on
# 127.0.0.1 (own port, own temp dir, run as the `postgres` user since initdb/pg_ctl refuse root),
# exports PMC_TEST_PG_DSN, and stops and removes it when the sourcing shell exits.
# Needs Debian's `postgresql` package (installed by .ci/run).

pmc_pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
if [ -z "$pmc_pg_bin" ]; then
  echo "postgres.sh: no /usr/lib/postgresql/*/bin; apt-get install postgresql" >&2
  return 1 2>/dev/null || exit 1
fi
pmc_pg_dir="$(mktemp -d /tmp/pmc-pg.XXXXXX)"
pmc_pg_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
chown postgres "$pmc_pg_dir"
pmc_pg_as() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
pmc_pg_fail() { echo "postgres.sh: $1 failed:" >&2; tail -n 30 "$2" >&2 2>/dev/null; exit 1; }
pmc_pg_as "'$pmc_pg_bin/initdb' -D '$pmc_pg_dir/data' -U postgres -A trust -E UTF8 --no-sync >'$pmc_pg_dir/initdb.log' 2>&1" \
  || pmc_pg_fail initdb "$pmc_pg_dir/initdb.log"
pmc_pg_as "'$pmc_pg_bin/pg_ctl' -D '$pmc_pg_dir/data' -l '$pmc_pg_dir/server.log' -w -s \
  -o \"-c listen_addresses=127.0.0.1 -p $pmc_pg_port -c unix_socket_directories='$pmc_pg_dir' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200\" start" \
  || pmc_pg_fail "pg_ctl start" "$pmc_pg_dir/server.log"
pmc_pg_stop() {
  pmc_pg_as "'$pmc_pg_bin/pg_ctl' -D '$pmc_pg_dir/data' -m immediate -w -s stop" || true
  rm -rf "$pmc_pg_dir"
}
trap pmc_pg_stop EXIT
pmc_pg_as "'$pmc_pg_bin/psql' -h 127.0.0.1 -p $pmc_pg_port -U postgres -q -c 'CREATE DATABASE pmc_test'"
export PMC_TEST_PG_DSN="postgresql://postgres@127.0.0.1:$pmc_pg_port/pmc_test"
echo "PostgreSQL $("$pmc_pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$pmc_pg_port (PMC_TEST_PG_DSN)" >&2
