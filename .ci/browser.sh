#!/usr/bin/env bash
# Debian's Chromium for the browser tests (test/browser/, driven by playwright-core).
# Idempotent: installs only when /usr/bin/chromium is missing. Never downloads a
# browser build of its own (no `npx playwright install`).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  echo "chromium present: $(/usr/bin/chromium --version 2>/dev/null || true)"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
echo "chromium installed: $(/usr/bin/chromium --version 2>/dev/null || true)"
