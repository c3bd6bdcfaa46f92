/**
 * A durable LocalStore for Node: an in-memory map backed by an append-only,
 * fsynced log plus a snapshot that is replaced by write-temp-then-rename.
 * Imported from `@keysync/client/file-store` so the core stays browser-safe.
 *
 * Why this shape: a batch must be durable before the sync loop acks it, and a
 * crash at any instant must leave a state the loop can resume from. One log
 * line per applyBatch, fsynced before the call resolves, gives atomic batches
 * (a torn last line is cut off on open, taking the whole batch with it) and a
 * checkpoint that never outruns its data (it is written in the same line).
 * Compaction writes the whole map to `snapshot.json.tmp`, fsyncs, renames it
 * over `snapshot.json` (atomic on POSIX) and starts the next generation's log;
 * see file-format.ts.
 *
 * Limits: the whole replica lives in memory; one process per directory (a
 * second FileStore on the same directory in this process is refused, across
 * processes it is on you).
 */
import { mkdir, open, readdir, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ApplyOptions, DeletedRecord, LocalRecord, LocalStore } from '../local-store.js';
import {
  decodeLog, decodeSnapshot, encodeLogLine, encodeSnapshot, LOG_PATTERN, logName, SNAPSHOT, SNAPSHOT_TMP,
} from './file-format.js';
import { forgetRevs, haveMap, planApply, planRemove } from './plan.js';

export interface FileStoreOptions {
  /** Compact once the log grows past this many bytes. Default 8 MiB. */
  compactAfterBytes?: number;
}

const openDirs = new Set<string>();

export class FileStore implements LocalStore {
  #records = new Map<string, LocalRecord>();
  #checkpoint: number | undefined;
  #gen = 0;
  #log!: FileHandle;
  #logBytes = 0;
  #queue: Promise<unknown> = Promise.resolve();
  #failure: Error | undefined;
  #closed = false;

  private constructor(
    readonly dir: string,
    readonly options: Required<FileStoreOptions>,
  ) {}

  /**
   * Opens (creating if needed) the store in `dir`, recovering from any crash.
   * @example const store = await FileStore.open('./replica');
   */
  static async open(dir: string, options: FileStoreOptions = {}): Promise<FileStore> {
    const path = resolve(dir);
    if (openDirs.has(path)) throw new Error(`FileStore: ${path} is already open in this process`);
    openDirs.add(path);
    const store = new FileStore(path, { compactAfterBytes: options.compactAfterBytes ?? 8 * 1024 * 1024 });
    try {
      await store.#recover();
    } catch (error) {
      openDirs.delete(path);
      throw error;
    }
    return store;
  }

  async get(key: string): Promise<LocalRecord | undefined> {
    this.#check();
    return this.#records.get(key);
  }

  async have(prefix?: string): Promise<Record<string, string>> {
    this.#check();
    return haveMap(this.#records.values(), prefix);
  }

  async getCheckpoint(): Promise<number | undefined> {
    this.#check();
    return this.#checkpoint;
  }

  applyBatch(records: readonly LocalRecord[], options: ApplyOptions = {}): Promise<LocalRecord[]> {
    return this.#exclusive(async () => {
      const plan = planApply((k) => this.#records.get(k), records);
      const moves = options.checkpoint !== undefined && options.checkpoint !== this.#checkpoint;
      if (plan.writes.length === 0 && !moves) return plan.changes;
      await this.#append(plan.writes, moves ? options.checkpoint : undefined);
      for (const r of plan.writes) this.#records.set(r.key, r);
      if (moves) this.#checkpoint = options.checkpoint;
      await this.#maybeCompact();
      return plan.changes;
    });
  }

  remove(keys: readonly string[], atRev: number): Promise<DeletedRecord[]> {
    return this.#exclusive(async () => {
      const plan = planRemove((k) => this.#records.get(k), keys, atRev);
      if (plan.writes.length === 0) return plan.changes;
      await this.#append(plan.writes, undefined);
      for (const r of plan.writes) this.#records.set(r.key, r);
      await this.#maybeCompact();
      return plan.changes;
    });
  }

  forgetRevisions(): Promise<void> {
    // A snapshot, not a log line: replaying "forget" is easy to get wrong,
    // and the rename makes the whole rewrite atomic.
    return this.#exclusive(async () => {
      const records = forgetRevs(this.#records.values());
      await this.#writeSnapshot(records, undefined);
      this.#records = new Map(records.map((r) => [r.key, r]));
      this.#checkpoint = undefined;
    });
  }

  /** Rewrites the snapshot and starts an empty log. Runs by itself past `compactAfterBytes`. */
  compact(): Promise<void> {
    return this.#exclusive(() => this.#writeSnapshot([...this.#records.values()], this.#checkpoint));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#queue.catch(() => undefined);
    this.#closed = true;
    openDirs.delete(this.dir);
    await this.#log.close();
  }

  async #recover(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    // A temp snapshot is a compaction that never reached its rename: the
    // previous snapshot plus its log are still the truth.
    await rm(join(this.dir, SNAPSHOT_TMP), { force: true });
    const snapshotText = await readFile(join(this.dir, SNAPSHOT), 'utf8').catch(ifMissing(undefined));
    if (snapshotText !== undefined) {
      const snapshot = decodeSnapshot(snapshotText);
      this.#gen = snapshot.gen;
      this.#checkpoint = snapshot.checkpoint;
      for (const r of snapshot.records) this.#records.set(r.key, r);
    }
    // Logs of other generations are leftovers of a compaction that renamed
    // its snapshot but crashed before deleting the old log.
    for (const name of await readdir(this.dir)) {
      const m = LOG_PATTERN.exec(name);
      if (m && Number(m[1]) !== this.#gen) await rm(join(this.dir, name), { force: true });
    }
    const logPath = join(this.dir, logName(this.#gen));
    const bytes = await readFile(logPath).catch(ifMissing(undefined));
    const { lines, validBytes } = bytes ? decodeLog(bytes) : { lines: [], validBytes: 0 };
    for (const line of lines) {
      for (const r of line.records) this.#records.set(r.key, r);
      if (line.checkpoint !== undefined) this.#checkpoint = line.checkpoint;
    }
    this.#log = await open(logPath, 'a');
    if (bytes && validBytes < bytes.length) {
      // Cut the torn tail, or the next append would be glued onto it.
      await this.#log.truncate(validBytes);
      await this.#log.sync();
    }
    this.#logBytes = validBytes;
    await syncDir(this.dir);
  }

  async #append(records: LocalRecord[], checkpoint: number | undefined): Promise<void> {
    const line = Buffer.from(encodeLogLine({ records, checkpoint }), 'utf8');
    try {
      await this.#log.write(line);
      await this.#log.datasync();
      this.#logBytes += line.length;
    } catch (error) {
      // Roll the file back to the last committed line; if even that fails,
      // stop: appending after a partial line would corrupt the log.
      await this.#log.truncate(this.#logBytes).catch((e: unknown) => {
        this.#failure = new Error('FileStore: log is damaged; reopen the store', { cause: e });
      });
      throw error;
    }
  }

  async #maybeCompact(): Promise<void> {
    if (this.#logBytes >= this.options.compactAfterBytes) {
      await this.#writeSnapshot([...this.#records.values()], this.#checkpoint);
    }
  }

  /** Snapshot of generation gen+1, then the empty log of gen+1, then drop log gen. */
  async #writeSnapshot(records: LocalRecord[], checkpoint: number | undefined): Promise<void> {
    const gen = this.#gen + 1;
    const tmp = join(this.dir, SNAPSHOT_TMP);
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(encodeSnapshot({ gen, checkpoint, records }), 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, join(this.dir, SNAPSHOT));
    // From here on generation gen is the truth, even if we crash right now.
    // Failing past this point would leave us appending to a log that the
    // next open deletes, so any error stops the store instead.
    const oldLog = this.#log;
    const oldGen = this.#gen;
    try {
      await syncDir(this.dir);
      this.#log = await open(join(this.dir, logName(gen)), 'a');
      this.#gen = gen;
      this.#logBytes = 0;
      await syncDir(this.dir);
    } catch (error) {
      this.#failure = new Error('FileStore: compaction failed; reopen the store', { cause: error });
      throw error;
    }
    // Leftovers are harmless: the next open deletes logs of other generations.
    await oldLog.close().catch(() => undefined);
    await rm(join(this.dir, logName(oldGen)), { force: true }).catch(() => undefined);
  }

  /** Runs `fn` after every earlier write; a failed write does not block later ones. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(() => {
      this.#check();
      return fn();
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #check(): void {
    if (this.#closed) throw new Error('FileStore is closed');
    if (this.#failure) throw this.#failure;
  }
}

function ifMissing<T>(fallback: T): (error: unknown) => T {
  return (error) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return fallback;
    throw error;
  };
}

/** Makes a created or renamed directory entry durable; Windows cannot open directories, so skip there. */
async function syncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
