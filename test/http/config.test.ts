import { afterAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { isLoopback, limitsFrom, readEnv } from '../../src/env.js';
import { exitWithin, spawnServer, tempDir } from '../support/process.js';

const dirs: string[] = [];
const dir = () => {
  const d = tempDir('keysync-config-');
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('reading the environment', () => {
  it('gives the documented defaults for an empty environment', () => {
    const env = readEnv({});
    expect(env).toMatchObject({ PORT: 8787, HOST: '127.0.0.1', KEYSYNC_DATA_DIR: './.keysync', KEYSYNC_BATCH_SIZE: 100, KEYSYNC_BATCH_WINDOW: 4 });
    expect(env.DATABASE_URL).toBeUndefined();
    expect(env.KEYSYNC_ADMIN_TOKEN).toBeUndefined();
    expect(limitsFrom(env)).toMatchObject({
      batchTimeoutMs: 30_000,
      heartbeatMs: 15_000,
      maxValueBytes: 8 * 1024 * 1024,
      tombstoneRetentionMs: 7 * 24 * 3_600_000,
      maxBatchSize: 10_000,
      batchBytes: 4 * 1024 * 1024,
    });
    // The largest batch a client may ask for follows the default batch size unless set.
    expect(limitsFrom(readEnv({ KEYSYNC_BATCH_SIZE: '5' })).maxBatchSize).toBe(10_000);
    expect(limitsFrom(readEnv({ KEYSYNC_BATCH_SIZE: '5', KEYSYNC_MAX_BATCH_SIZE: '7' })).maxBatchSize).toBe(7);
  });

  it('parses good values, durations included', () => {
    const env = readEnv({
      PORT: '0',
      KEYSYNC_BATCH_SIZE: '5',
      KEYSYNC_TOMBSTONE_RETENTION: '12h',
      DATABASE_URL: 'postgres://u@h/db',
      KEYSYNC_MAX_VALUE_BYTES: '1024',
    });
    expect(env.PORT).toBe(0);
    expect(env.KEYSYNC_BATCH_SIZE).toBe(5);
    expect(env.KEYSYNC_TOMBSTONE_RETENTION).toBe(12 * 3_600_000);
    expect(env.DATABASE_URL).toBe('postgres://u@h/db');
    expect(limitsFrom(env).maxValueBytes).toBe(1024);
    expect(readEnv({ KEYSYNC_TOMBSTONE_RETENTION: '30m' }).KEYSYNC_TOMBSTONE_RETENTION).toBe(30 * 60_000);
    expect(readEnv({ DATABASE_URL: 'postgresql://h/db' }).DATABASE_URL).toBe('postgresql://h/db');
  });

  const bad: Array<[string, string]> = [
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['KEYSYNC_BATCH_SIZE', '0'],
    ['KEYSYNC_BATCH_SIZE', '1.5'],
    ['KEYSYNC_BATCH_WINDOW', '0'],
    ['KEYSYNC_MAX_BATCH_SIZE', '0'],
    ['KEYSYNC_BATCH_BYTES', '100'],
    ['KEYSYNC_BATCH_TIMEOUT_MS', 'soon'],
    ['KEYSYNC_HEARTBEAT_MS', '1e3'],
    ['KEYSYNC_MAX_VALUE_BYTES', '0'],
    ['KEYSYNC_TOMBSTONE_RETENTION', '7x'],
    ['KEYSYNC_TOMBSTONE_RETENTION', '-7d'],
    ['DATABASE_URL', 'mysql://x'],
    ['DATABASE_URL', 'not a url'],
    ['KEYSYNC_ADMIN_TOKEN', 'short'],
  ];
  for (const [name, value] of bad) {
    it(`refuses ${name}=${value} with one line naming the variable`, () => {
      let message = '';
      try {
        readEnv({ [name]: value });
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).not.toBe('');
      expect(message).toContain(name);
      expect(message).not.toContain('\n');
    });
  }

  it('knows which hosts are loopback', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', '[::1]']) expect(isLoopback(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.1', 'example.com', '128.0.0.1']) expect(isLoopback(host), host).toBe(false);
  });
});

describe('starting the process', () => {
  const oneLine = (text: string) =>
    text
      .trim()
      .split('\n')
      .filter((l) => l.trim() !== '');

  for (const [name, value] of [
    ['PORT', 'abc'],
    ['KEYSYNC_TOMBSTONE_RETENTION', '7x'],
    ['DATABASE_URL', 'mysql://x'],
  ] as const) {
    it(`exits non-zero printing one line naming ${name} when ${name}=${value}`, async () => {
      const proc = spawnServer({ KEYSYNC_DATA_DIR: dir(), [name]: value });
      const code = await exitWithin(proc, 15_000);
      expect(code).not.toBe(0);
      expect(typeof code).toBe('number');
      const lines = oneLine(proc.stderr());
      expect(lines, proc.stderr()).toHaveLength(1);
      expect(lines[0]).toContain(name);
      expect(proc.stdout()).not.toMatch(/listening/);
    });
  }

  it('refuses to start open (no KEYSYNC_ADMIN_TOKEN) on a non-loopback HOST', async () => {
    const proc = spawnServer({ KEYSYNC_DATA_DIR: dir(), HOST: '0.0.0.0' });
    const code = await exitWithin(proc, 15_000);
    expect(code).not.toBe(0);
    expect(typeof code).toBe('number');
    const lines = oneLine(proc.stderr());
    expect(lines, proc.stderr()).toHaveLength(1);
    expect(lines[0]).toContain('KEYSYNC_ADMIN_TOKEN');
    expect(proc.stdout()).not.toMatch(/listening/);
  });
});
