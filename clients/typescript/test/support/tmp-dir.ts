import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';

/** A fresh temp directory per call, removed after the test (with whatever `cleanup` closes first). */
export function useTmpDirs(): { make(): Promise<string>; onCleanup(fn: () => Promise<unknown>): void } {
  const dirs: string[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const fn of cleanups.splice(0)) await fn().catch(() => undefined);
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });
  return {
    make: async () => {
      const dir = await mkdtemp(join(tmpdir(), 'keysync-client-'));
      dirs.push(dir);
      return dir;
    },
    onCleanup: (fn) => cleanups.push(fn),
  };
}
