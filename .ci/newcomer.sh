#!/usr/bin/env bash
# CI step of the "newcomer" checks: @keysync/client as a user gets it from npm.
# Packs @keysync/protocol and the client (npm pack runs their builds), installs
# both tarballs into a new project outside the repository (their other
# dependencies come from the registry),
# type-checks a small program under moduleResolution node16, bundler and node
# (node10), runs it and the keysync-mirror command against a live server, and
# checks that CommonJS code can require() the package (Node >= 20.19).
# Then runs the slow test files (npm run test:slow) on PGlite and PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

WORK=$(mktemp -d "${TMPDIR:-/tmp}/keysync-newcomer-XXXXXX")
SERVER_PID=
MIRROR_PID=
cleanup() {
  [ -n "$MIRROR_PID" ] && kill "$MIRROR_PID" 2>/dev/null || true
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

[ -f dist/src/index.js ] || npm run build

# The protocol first: the client's build compiles against its dist.
echo "== npm pack @keysync/protocol"
npm pack -w @keysync/protocol --pack-destination "$WORK" --silent >/dev/null
PROTOCOL_TARBALL=$(ls "$WORK"/keysync-protocol-*.tgz)
tar -tzf "$PROTOCOL_TARBALL" > "$WORK/protocol-files.txt"
for f in README.md LICENSE package.json dist/index.js dist/index.d.ts dist/schema.d.ts; do
  grep -qx "package/$f" "$WORK/protocol-files.txt" || { echo "the packed protocol lacks $f"; exit 1; }
done
echo "packed $(basename "$PROTOCOL_TARBALL"): $(du -k "$PROTOCOL_TARBALL" | cut -f1) kB"

echo "== npm pack @keysync/client"
npm pack -w @keysync/client --pack-destination "$WORK" --silent >/dev/null
TARBALL=$(ls "$WORK"/keysync-client-*.tgz)
tar -tzf "$TARBALL" > "$WORK/files.txt"
for f in README.md LICENSE package.json dist/index.js dist/index.d.ts dist/file-store.js dist/cli/mirror.js bin/keysync-mirror.js; do
  grep -qx "package/$f" "$WORK/files.txt" || { echo "the packed client lacks $f"; exit 1; }
done
echo "packed $(basename "$TARBALL"): $(du -k "$TARBALL" | cut -f1) kB"

echo "== install the tarballs into a new project"
APP="$WORK/app"
mkdir -p "$APP"
cp clients/typescript/test/pack/main.ts clients/typescript/test/pack/require.cjs "$APP/"
cd "$APP"
cat > package.json <<'JSON'
{ "name": "keysync-client-smoke", "private": true, "type": "module" }
JSON
TS_VERSION=$(node -p "require('$ROOT/node_modules/typescript/package.json').version")
NODE_TYPES=$(node -p "require('$ROOT/node_modules/@types/node/package.json').version")
# @keysync/protocol is not on the registry yet: its tarball satisfies the
# client's dependency on it.
npm install --no-audit --no-fund --silent "$PROTOCOL_TARBALL" "$TARBALL" "typescript@$TS_VERSION" "@types/node@$NODE_TYPES"

echo "== type-check under moduleResolution node16, bundler and node10"
for mode in node16 bundler node10; do
  case $mode in
    node16) opts='"module": "node16", "moduleResolution": "node16"' ;;
    bundler) opts='"module": "esnext", "moduleResolution": "bundler"' ;;
    node10) opts='"module": "esnext", "moduleResolution": "node10", "ignoreDeprecations": "5.0"' ;;
  esac
  cat > "tsconfig.$mode.json" <<JSON
{ "compilerOptions": { $opts, "target": "es2022", "lib": ["es2022", "dom"], "types": ["node"],
  "strict": true, "skipLibCheck": false, "outDir": "out-$mode" }, "files": ["main.ts"] }
JSON
  npx tsc -p "tsconfig.$mode.json"
  echo "$mode: ok"
done

echo "== run it against a live server"
PORT=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
URL="http://127.0.0.1:$PORT"
PORT=$PORT KEYSYNC_DATA_DIR="$WORK/data" KEYSYNC_LOG=off node "$ROOT/dist/src/index.js" > "$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do curl -sf "$URL/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "$URL/readyz" >/dev/null || { cat "$WORK/server.log"; exit 1; }
KEYSYNC_URL=$URL node out-node16/main.js "$WORK/replica-state"
node require.cjs

echo "== keysync-mirror from the installed package"
./node_modules/.bin/keysync-mirror --help | grep -q 'usage: keysync-mirror'
STORE=$(cat "$WORK/replica-state.store-id")
./node_modules/.bin/keysync-mirror "$URL" "$STORE" "$WORK/mirror" 2> "$WORK/mirror.log" &
MIRROR_PID=$!
for _ in $(seq 1 300); do grep -q 'in sync' "$WORK/mirror.log" && break; sleep 0.1; done
grep -q 'in sync' "$WORK/mirror.log" || { cat "$WORK/mirror.log"; exit 1; }
test -f "$WORK/mirror/greeting.json"
kill -INT "$MIRROR_PID"
wait "$MIRROR_PID"
MIRROR_PID=
echo "keysync-mirror: ok"

cd "$ROOT"
# PACK_ONLY=1 stops here (for running the package check alone).
[ "${PACK_ONLY:-}" = 1 ] && exit 0
# The slow test files (fault injection, soaks, random models) that `npm test`
# leaves out, on both backends like the rest of the suite.
mkdir -p .ci/out
echo "== slow tests on embedded PGlite"
npm run test:slow -- --reporter=default --reporter=json --outputFile.json=.ci/out/slow-pglite.json
node .ci/summary.mjs slow-pglite .ci/out/slow-pglite.json
if pg_isready -h 127.0.0.1 -p 5432 -q; then
  echo "== slow tests on PostgreSQL"
  TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
    npm run test:slow -- --reporter=default --reporter=json --outputFile.json=.ci/out/slow-postgres.json
  node .ci/summary.mjs slow-postgres .ci/out/slow-postgres.json
else
  echo "PostgreSQL is not running at 127.0.0.1:5432 (.ci/run starts it): slow tests on PostgreSQL not run" >&2
  exit 1
fi
