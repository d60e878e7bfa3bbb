#!/usr/bin/env bash
# Make sure the services the test suite talks to are up: PostgreSQL and Redis on loopback.
# Starts a stopped one with the machine's own commands; fails loudly if it still cannot be reached.
set -uo pipefail

reachable() { timeout 3 bash -c "</dev/tcp/127.0.0.1/$1" 2>/dev/null; }

ensure() {
  local name="$1" port="$2" start="$3"
  if reachable "$port"; then return 0; fi
  echo "services: $name is not answering on 127.0.0.1:$port; starting it"
  bash -c "$start" || true
  for _ in $(seq 1 30); do
    reachable "$port" && { echo "services: $name is up"; return 0; }
    sleep 1
  done
  echo "services: FATAL: $name is still unreachable on 127.0.0.1:$port" >&2
  exit 1
}

ensure PostgreSQL 5432 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start'
ensure Redis 6379 'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log'
if ! psql -h 127.0.0.1 -U postgres -d test -c 'select 1' >/dev/null 2>&1; then
  echo "services: FATAL: PostgreSQL database 'test' is not usable at 127.0.0.1:5432" >&2
  exit 1
fi
