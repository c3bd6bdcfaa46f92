/**
 * docs/client.md's example, exactly as shown (examples/mirror.ts, checked
 * identical to the doc's code block), run as its own process against a real
 * server. `--conditions=keysync-source` resolves `@keysync/client` to the
 * package's sources, so no build is needed first.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { call, json, put } from '../support/http.js';
import { useTestServer } from '../support/server.js';
import { eventually } from './support.js';

const ROOT = join(import.meta.dirname, '../..');
const config = { scope: 'a1b2c3d4-e5f6-7890-abcd-ef1234567890', backend: 'file', path: 'data/my-store' };
const STORE = '58c4b668-ca6b-5f9d-8989-3a4a0ff13619';

const env = useTestServer();

describe('the docs/client.md example', () => {
  it('is examples/mirror.ts, word for word', async () => {
    const doc = await readFile(join(ROOT, 'docs/client.md'), 'utf8');
    const example = await readFile(join(ROOT, 'examples/mirror.ts'), 'utf8');
    expect(doc).toContain(`\`\`\`ts\n${example}\`\`\``);
  });

  it('mirrors the store, reacts to changes and stops on SIGINT', async () => {
    expect((await call(env.server, '/v1/stores', json({ config }))).body.storeId).toBe(STORE);
    await put(env.server, STORE, 'users/1', { name: 'Ada' });
    await put(env.server, STORE, 'settings', { theme: 'dark' });

    const child = spawn(process.execPath, ['--conditions=keysync-source', '--import', 'tsx', 'examples/mirror.ts'], {
      cwd: ROOT,
      env: { ...process.env, KEYSYNC_URL: env.server.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      await eventually(() => expect(out).toContain('in sync: 2 keys'), 20_000);
      expect(out).toContain("settings are now { theme: 'dark' }");
      await put(env.server, STORE, 'settings', { theme: 'light' });
      await eventually(() => expect(out).toContain("settings are now { theme: 'light' }"));
      expect(out).toContain('put settings rev 3');
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
  });
});
