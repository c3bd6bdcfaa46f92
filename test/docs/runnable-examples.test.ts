/**
 * Every shell example of README.md and docs/*.md runs as written: the ```sh
 * blocks of each file, in order, in one bash session (variables carry from
 * block to block), against a fresh server of its own. A block preceded by a
 * line `<!-- not-runnable: reason -->` is skipped (a long-running command,
 * a fragment that needs state the page does not create, another machine).
 *
 * Conventions the harness applies, so the docs can stay plain:
 * - `set -euo pipefail`: any failing command fails the file;
 * - `curl` fails on any HTTP error answer (a wrapper adds --fail-with-body), so
 *   an example that shows an error must say so with `|| true`;
 * - the documented address http://127.0.0.1:8787 is replaced by the test
 *   server's (a random loopback port), nothing else is touched;
 * - the working directory is a fresh temporary folder; KEYSYNC_ADMIN_TOKEN
 *   and ADMIN hold a token (the server runs in open mode, which ignores it).
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { REPO_ROOT } from '../support/process.js';
import { startServer, type TestServer } from '../support/server.js';

export interface ShellBlock {
  line: number;
  code: string;
  skip: string | undefined;
}

/** The ```sh blocks of a markdown text, with the reason when marked not-runnable. */
export function shellBlocks(markdown: string): ShellBlock[] {
  const lines = markdown.split('\n');
  const blocks: ShellBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^(\s*)(`{3,}|~{3,})\s*(\S*)/.exec(lines[i]!);
    if (!fence) continue;
    const [, indent, marks, lang] = fence;
    let end = i + 1;
    while (end < lines.length && !lines[end]!.startsWith(`${indent}${marks}`)) end++;
    if (lang === 'sh' || lang === 'bash' || lang === 'shell') {
      let prev = i - 1;
      while (prev >= 0 && lines[prev]!.trim() === '') prev--;
      const marker = prev >= 0 ? /^<!--\s*not-runnable:\s*(.*?)\s*-->$/.exec(lines[prev]!.trim()) : null;
      blocks.push({ line: i + 1, code: lines.slice(i + 1, end).join('\n'), skip: marker ? marker[1] || 'no reason given' : undefined });
    }
    i = end;
  }
  return blocks;
}

const DOCS = [
  'README.md',
  ...readdirSync(join(REPO_ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
];

const PRELUDE = `set -euo pipefail
export KEYSYNC_ADMIN_TOKEN=docs-example-admin-token-0123456789 ADMIN=docs-example-admin-token-0123456789
`;

/**
 * A `curl` first on PATH that execs the real one with --fail-with-body: an
 * exec, not a shell function, so `curl … &` then `kill $!` stops curl itself.
 */
function failingCurl(dir: string): string {
  const bin = join(dir, '.bin');
  mkdirSync(bin);
  const real = spawnSync('bash', ['-c', 'command -v curl'], { encoding: 'utf8' }).stdout.trim();
  writeFileSync(join(bin, 'curl'), `#!/bin/sh\nexec ${real} --fail-with-body "$@"\n`);
  chmodSync(join(bin, 'curl'), 0o755);
  return bin;
}

function runBash(script: string, cwd: string, timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const env = { ...process.env, PATH: `${failingCurl(cwd)}:${process.env['PATH'] ?? ''}` };
    const child = spawn('bash', ['-c', script], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      output += `\n[killed after ${timeoutMs} ms]`;
      process.kill(-child.pid!, 'SIGKILL');
    }, timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      // Background jobs a block forgot to stop must not outlive it.
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* the group is gone */
      }
      resolve({ code, output });
    });
  });
}

const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe('runnable examples in the docs', () => {
  it('finds the shell blocks, and the README walk-through is one of them', () => {
    const readme = shellBlocks(readFileSync(join(REPO_ROOT, 'README.md'), 'utf8'));
    expect(readme.some((b) => !b.skip && b.code.includes('/sync/$SESSION/batches/0'))).toBe(true);
    expect(shellBlocks('<!-- not-runnable: needs X -->\n\n```sh\nfalse\n```\n```sh\ntrue\n```\n')).toEqual([
      { line: 3, code: 'false', skip: 'needs X' },
      { line: 6, code: 'true', skip: undefined },
    ]);
  });

  it("README.md's TypeScript example is examples/mirror.ts word for word (test/client/example.test.ts runs it)", () => {
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    const example = readFileSync(join(REPO_ROOT, 'examples/mirror.ts'), 'utf8');
    expect(readme).toContain(`\`\`\`ts\n${example}\`\`\``);
  });

  for (const file of DOCS) {
    const blocks = shellBlocks(readFileSync(join(REPO_ROOT, file), 'utf8'));
    const runnable = blocks.filter((b) => !b.skip);
    if (runnable.length === 0) continue;
    it(`${file}: ${runnable.length} shell block(s) run in order against a fresh server`, async () => {
      let db: TestDatabase | undefined;
      let server: TestServer | undefined;
      const cwd = mkdtempSync(join(tmpdir(), 'keysync-docs-'));
      cleanups.push(async () => {
        await server?.close();
        await db?.drop();
        rmSync(cwd, { recursive: true, force: true });
      });
      db = await createTestDatabase();
      server = await startServer(db);
      const host = new URL(server.url).host;
      const script = PRELUDE + runnable.map((b) => `echo '### ${file}:${b.line}'\n${b.code.replaceAll('127.0.0.1:8787', host)}`).join('\n');
      const { code, output } = await runBash(script, cwd, 120_000);
      if (process.env.SHOW_DOC_OUTPUT) console.log(`--- ${file}\n${output}`);
      expect(code, `${file} failed; output so far:\n${output}`).toBe(0);
    }, 180_000);
  }
});
