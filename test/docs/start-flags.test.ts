/**
 * `npm start`'s node flags (package.json): each one this node accepts (a
 * misspelt V8 flag stops node with "bad option" before the server runs, and
 * the tests start the server without them), and each one explained in
 * README.md, whose section says what it costs and saves.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/process.js';

const startScript = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
const flags = startScript.split(/\s+/).filter((word) => word.startsWith('--'));
const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');

describe('npm start flags', () => {
  it('has flags, and runs the built server', () => {
    expect(flags.length).toBeGreaterThan(0);
    expect(startScript).toMatch(/^node .* dist\/src\/index\.js$/);
  });

  it.each(flags)('%s is accepted by this node', (flag) => {
    const run = spawnSync(process.execPath, [flag, '-e', 'process.exit(0)'], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  it.each(flags)('%s is explained in README.md', (flag) => {
    expect(readme).toContain(`\n- \`${flag}\``);
  });
});
