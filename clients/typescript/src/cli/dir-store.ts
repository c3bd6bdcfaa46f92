/**
 * The LocalStore of `keysync-mirror`: a FileStore holds the sync state
 * (records, tombstones, checkpoint) and every change is also written to the
 * mirror directory as one file per key (see file-names.ts).
 *
 * Files are written BEFORE the FileStore records the change, each by
 * write-temp-then-rename, so a crash leaves the directory at or ahead of the
 * state: the sync loop re-sends whatever the state lacks and rewriting a
 * file with the same content is harmless. The reverse order could leave a
 * change recorded as applied whose file never got written.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ApplyOptions, DeletedRecord, LocalRecord, LocalStore } from '../local-store.js';
import type { FileStore } from '../stores/file.js';
import { planApply, planRemove } from '../stores/plan.js';
import { fileNames } from './file-names.js';

export class DirectoryStore implements LocalStore {
  constructor(
    readonly state: FileStore,
    /** The mirror directory. */
    readonly dir: string,
    /** Where temp files go: inside `dir` (same file system, so rename is atomic). */
    readonly tmpDir: string,
  ) {}

  get(key: string): Promise<LocalRecord | undefined> {
    return this.state.get(key);
  }

  have(prefix?: string): Promise<Record<string, string>> {
    return this.state.have(prefix);
  }

  getCheckpoint(): Promise<number | undefined> {
    return this.state.getCheckpoint();
  }

  async applyBatch(records: readonly LocalRecord[], options?: ApplyOptions): Promise<LocalRecord[]> {
    // The sync loop applies one batch at a time, so planning against the
    // state here sees what the FileStore will see.
    const current = await this.#lookup(records.map((r) => r.key));
    for (const record of planApply((k) => current.get(k), records).writes) await this.#writeFile(record);
    return this.state.applyBatch(records, options);
  }

  async remove(keys: readonly string[], atRev: number): Promise<DeletedRecord[]> {
    const current = await this.#lookup(keys);
    for (const record of planRemove((k) => current.get(k), keys, atRev).writes) await this.#writeFile(record);
    return this.state.remove(keys, atRev);
  }

  forgetRevisions(): Promise<void> {
    // Values are kept, so the files stay as they are.
    return this.state.forgetRevisions();
  }

  close(): Promise<void> {
    return this.state.close();
  }

  async #lookup(keys: readonly string[]): Promise<Map<string, LocalRecord>> {
    const map = new Map<string, LocalRecord>();
    for (const key of new Set(keys)) {
      const record = await this.state.get(key);
      if (record) map.set(key, record);
    }
    return map;
  }

  async #writeFile(record: LocalRecord): Promise<void> {
    const names = fileNames(record.key);
    if (record.kind === 'deleted') {
      await rm(join(this.dir, names.json), { force: true });
      await rm(join(this.dir, names.bytes), { force: true });
      return;
    }
    const [name, other] = record.kind === 'json' ? [names.json, names.bytes] : [names.bytes, names.json];
    const data = record.kind === 'json' ? `${JSON.stringify(record.value, null, 2)}\n` : record.bytes;
    const tmp = join(this.tmpDir, `${randomBytes(8).toString('hex')}.tmp`);
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, join(this.dir, name));
    // The value changed kind (JSON <-> bytes): drop the file of the old kind.
    await rm(join(this.dir, other), { force: true });
  }
}
