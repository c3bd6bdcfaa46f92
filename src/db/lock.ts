/**
 * PGlite does not lock its data folder, and two processes writing one folder
 * corrupt it. The server therefore holds `keysync.lock` in the folder: created
 * exclusively with its pid, and taken over only when that pid is gone.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export class DataDirLockedError extends Error {}

// Locks this process holds: a lock file naming our own pid is stale (e.g. a
// container restarted as pid 1) unless it is in here.
const held = new Set<string>();

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the folder's lock or throws DataDirLockedError; returns the release function. */
export function lockDataDir(dir: string): () => void {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'keysync.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      held.add(file);
      return () => {
        held.delete(file);
        rmSync(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(file, 'utf8').trim());
      const ours = pid === process.pid;
      if ((ours && held.has(file)) || (!ours && Number.isInteger(pid) && pid > 0 && processAlive(pid))) {
        throw new DataDirLockedError(`data folder ${dir} is in use by another keysync process (pid ${pid}); stop it or set KEYSYNC_DATA_DIR to another folder`);
      }
      // A stale lock from a crashed process: remove it and try once more.
      rmSync(file, { force: true });
    }
  }
  throw new DataDirLockedError(`could not lock data folder ${dir}`);
}
