/**
 * One directory mirrors one (store, prefix), recorded in `.keysync/mirror.json`,
 * or the checkpoint and tombstones of one store would be applied to another.
 * The record is written only when the first change is about to be applied,
 * that is after the server answered for that store: a run with a mistyped
 * store id, or with no server, never claims the directory.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ApplyOptions, DeletedRecord, LocalRecord } from '../local-store.js';
import { DirectoryStore } from './dir-store.js';

export interface MirrorIdentity {
  storeId: string;
  prefix: string;
}

/** The directory already holds a replica of another store or prefix. */
export class DirectoryInUseError extends Error {}

const describe = (id: MirrorIdentity) => `store ${id.storeId}${id.prefix ? ` (prefix "${id.prefix}")` : ''}`;

/**
 * Throws DirectoryInUseError when `dir` holds data of another store or prefix.
 * A record left without any data (an older version pinned before syncing)
 * does not count.
 */
export async function checkIdentity(dir: string, stateDir: string, wanted: MirrorIdentity, store: DirectoryStore): Promise<void> {
  const text = await readFile(join(stateDir, 'mirror.json'), 'utf8').catch(() => undefined);
  if (text === undefined) return;
  const held = JSON.parse(text) as MirrorIdentity;
  if (held.storeId === wanted.storeId && held.prefix === wanted.prefix) return;
  const empty = (await store.getCheckpoint()) === undefined && Object.keys(await store.have()).length === 0;
  if (empty) return;
  throw new DirectoryInUseError(`${dir} already mirrors ${describe(held)}, not ${describe(wanted)}: use another directory (or delete ${dir} to start over)`);
}

/** A DirectoryStore that records the mirror's identity before its first change. */
export class PinnedDirectoryStore extends DirectoryStore {
  #pinned: Promise<void> | undefined;
  #identity: MirrorIdentity | undefined;
  #stateDir = '';

  pinOnFirstWrite(stateDir: string, identity: MirrorIdentity): this {
    this.#stateDir = stateDir;
    this.#identity = identity;
    return this;
  }

  override async applyBatch(records: readonly LocalRecord[], options?: ApplyOptions): Promise<LocalRecord[]> {
    await this.#pin();
    return super.applyBatch(records, options);
  }

  override async remove(keys: readonly string[], atRev: number): Promise<DeletedRecord[]> {
    await this.#pin();
    return super.remove(keys, atRev);
  }

  override async forgetRevisions(): Promise<void> {
    await this.#pin();
    return super.forgetRevisions();
  }

  #pin(): Promise<void> {
    const identity = this.#identity;
    if (!identity) return Promise.resolve();
    this.#pinned ??= (async () => {
      const file = join(this.#stateDir, 'mirror.json');
      await writeFile(`${file}.tmp`, `${JSON.stringify(identity)}\n`);
      await rename(`${file}.tmp`, file);
    })();
    return this.#pinned;
  }
}
