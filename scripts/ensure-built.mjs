// `npm start` runs the compiled server (dist/), built by `npm install`
// (the root `prepare` script) or `npm run build`. This check (prestart) only
// rebuilds when a source file is newer than the build, e.g. after a git pull,
// so a start never runs the compiler needlessly and never runs stale code.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const BUILT = 'dist/src/index.js';
const SOURCES = ['src', 'packages/protocol/src', 'clients/typescript/src', 'tsconfig.json', 'tsconfig.build.json'];

function newest(path) {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))));
}

const built = newest(BUILT);
const reason = built === 0 ? `${BUILT} is missing` : SOURCES.some((p) => newest(p) > built) ? 'sources changed since the last build' : undefined;
if (reason) {
  console.error(`keysync: ${reason}; building (npm run build)`);
  const run = spawnSync('npm', ['run', 'build'], { stdio: 'inherit', shell: process.platform === 'win32' });
  process.exit(run.status ?? 1);
}
