#!/usr/bin/env bash
# CI step of the multi-instance work. Installs nginx (Debian package) when it
# is missing, so the suite's PostgreSQL run includes
# test/scale/multi-instance.test.ts (it skips without nginx, and on PGlite).
# Run it before the tests. With --test it also runs test/scale/ on PostgreSQL
# by itself (about 40 s). Idempotent; exits non-zero on failure.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends nginx >/dev/null
  # The package's own service is not wanted: the test runs nginx with its own
  # configuration, pid file and ports on 127.0.0.1.
  $SUDO systemctl disable --now nginx >/dev/null 2>&1 || true
  if [ -f /run/nginx.pid ]; then $SUDO nginx -s stop >/dev/null 2>&1 || true; fi
fi
"$(command -v nginx || echo /usr/sbin/nginx)" -v

if [ "${1:-}" = "--test" ]; then
  export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
  npx vitest run test/scale/
fi
