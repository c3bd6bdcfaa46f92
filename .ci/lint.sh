#!/usr/bin/env bash
# Lint and format check (Biome, biome.json): fails on lint errors and on
# files that `npm run format` would change.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run lint -- --max-diagnostics=50
