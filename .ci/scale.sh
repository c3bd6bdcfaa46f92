#!/usr/bin/env bash
# CI step of the multi-instance work: installs nginx (Debian package) when
# missing, then runs the multi-instance test on a real PostgreSQL server.
# Idempotent; exits non-zero on failure.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  # The package's own service is not wanted: the test runs nginx with its own config.
  $SUDO apt-get install -y -qq --no-install-recommends nginx >/dev/null
  $SUDO systemctl disable --now nginx >/dev/null 2>&1 || true
  [ -f /run/nginx.pid ] && $SUDO nginx -s stop >/dev/null 2>&1 || true
fi

: "${TEST_DATABASE_URL:=postgres://postgres@127.0.0.1:5432/postgres}"
export TEST_DATABASE_URL
npx vitest run test/scale/
