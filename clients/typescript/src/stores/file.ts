/**
 * The durable LocalStore for Node, on LMDB (through the `lmdb` package,
 * which ships its prebuilt binaries). Imported from
 * `@keysync/client/file-store` so the core stays browser-safe.
 *
 * Why LMDB: the sync loop's rev guard reads the held rev of every key of a
 * batch, and LMDB's reads are synchronous, so a batch is planned (plan.ts)
 * and written inside one write transaction, with no window between the two.
 * Its copy-on-write B-tree commits by writing the changed pages and then one
 * meta page; a crash before the meta page leaves the previous commit intact,
 * so there is nothing to replay on open. Each applyBatch is one transaction
 * holding the records and the checkpoint, fsynced before the call resolves:
 * atomic, durable before the ack, and a checkpoint that never outruns its data.
 *
 * Memory: values stay on disk (see file-records.ts for the layout); `have()`
 * builds the handshake's key → ts map, which the contract asks for whole.
 * Older directories (format 1: snapshot.json plus a log) are migrated on
 * open; a directory written by a newer format is refused.
 *
 * One process per directory: a second FileStore on the same directory in
 * this process is refused; across processes it is on you.
 */
import { mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { keyProblem } from '@keysync/protocol';
import { asBinary, open as openLmdb, type Database, type RootDatabase } from 'lmdb';
import type { ApplyOptions, DeletedRecord, HaveLists, LocalRecord, LocalStore } from '../local-store.js';
import { decodeSnapshot, LEGACY_FILE, LEGACY_SNAPSHOT, legacyLogName, replayLog } from './file-format.js';
import { decodeHead, decodeRecord, encodeMeta, encodeValue, type RecordHead } from './file-records.js';
import { HaveMembers, planApply, planRemove } from './plan.js';
import type { ValueParser } from '../wire.js';

export interface FileStoreOptions {
  /** @deprecated Ignored: the database reuses freed pages by itself, there is no log to compact. */
  compactAfterBytes?: number;
  /**
   * Reads each JSON value `get` returns from its stored text: values that
   * came from the server (batches, live events) are stored exactly as it
   * sent them, so a lossless parser (the client's `parseValue`) gets them
   * back exact. Default: JSON.parse.
   */
  parseValue?: ValueParser | undefined;
}

/** The database file inside the store's directory (LMDB adds `replica.lmdb-lock` beside it). */
export const DATA_FILE = 'replica.lmdb';
/** Format 1 was snapshot.json plus log-<gen>.jsonl; format 2 is LMDB. */
const FORMAT = 2;
/** Meta entries read per step when `forgetRevisions` rewrites them all. */
const PAGE = 4096;
/** Commits after which the database is closed and reopened, to unmap the pages its writes read (see #remap). */
export const REMAP_AFTER_COMMITS = 64;
/**
 * Bytes of values written after which it is reopened as well: what stays
 * mapped grows with the bytes written, not with the commits (200 MiB in 25
 * commits left 70 MB of the file mapped), so large batches reopen sooner.
 * The sync loop's batches of 2,000 keys of 1 KiB are 2 MB a commit.
 */
export const REMAP_AFTER_BYTES = 32 * 1024 * 1024;

/** The open environment and its three tables. */
interface Tables {
  env: RootDatabase;
  meta: Database<unknown, Buffer>;
  values: Database<string, Buffer>;
  state: Database<unknown, string>;
}

function openTables(path: string): Tables {
  // overlappingSync off: a commit resolves only once it is fsynced, which is what the ack waits for.
  const env = openLmdb({ path: join(path, DATA_FILE), overlappingSync: false });
  return {
    env,
    meta: env.openDB({ name: 'meta', keyEncoding: 'binary' }),
    values: env.openDB({ name: 'values', keyEncoding: 'binary', encoding: 'string' }),
    state: env.openDB({ name: 'state' }),
  };
}

const openDirs = new Set<string>();

export class FileStore implements LocalStore {
  /** Values from the server are written as their text, never parsed on the way in. */
  readonly lazyValues = true;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  #closing: Promise<void> | undefined;
  #tables: Tables;
  /** Set while #remap has the database closed; reads wait for it. */
  #remapping: Promise<void> | undefined;
  #commitsSinceOpen = 0;
  /** bytes of values written since, rolled-back writes included (they read pages too) */
  #bytesSinceOpen = 0;

  private constructor(
    readonly dir: string,
    tables: Tables,
    private readonly parseValue: ValueParser,
  ) {
    this.#tables = tables;
  }

  private get env(): RootDatabase {
    return this.#tables.env;
  }
  private get meta(): Database<unknown, Buffer> {
    return this.#tables.meta;
  }
  private get values(): Database<string, Buffer> {
    return this.#tables.values;
  }
  private get state(): Database<unknown, string> {
    return this.#tables.state;
  }

  /**
   * Opens (creating if needed) the store in `dir`, migrating a format-1 directory.
   * @example const store = await FileStore.open('./replica');
   */
  static async open(dir: string, options: FileStoreOptions = {}): Promise<FileStore> {
    const path = resolve(dir);
    if (openDirs.has(path)) throw new Error(`FileStore: ${path} is already open in this process`);
    openDirs.add(path);
    let tables: Tables | undefined;
    try {
      await mkdir(path, { recursive: true });
      tables = openTables(path);
      const store = new FileStore(path, tables, options.parseValue ?? JSON.parse);
      await store.#prepare();
      return store;
    } catch (error) {
      openDirs.delete(path);
      await tables?.env.close().catch(() => undefined);
      throw error;
    }
  }

  async get(key: string): Promise<LocalRecord | undefined> {
    await this.#remapping;
    this.#check();
    const k = keyBytes(key);
    const meta = this.meta.get(k);
    if (meta === undefined) return undefined;
    const head = decodeHead(key, meta);
    const value = head.kind === 'bytes' ? this.values.getBinary(k) : head.kind === 'json' ? this.values.get(k) : undefined;
    return decodeRecord(key, meta, value, this.parseValue);
  }

  async have(prefix = ''): Promise<Record<string, string>> {
    // A null-prototype object: keys like "__proto__" are ordinary keys here.
    const have: Record<string, string> = Object.create(null) as Record<string, string>;
    await this.#eachLive(prefix, (key, ts) => {
      have[key] = ts;
    });
    return have;
  }

  async haveJson(prefix = ''): Promise<string> {
    const members = new HaveMembers();
    await this.#eachLive(prefix, (key, ts) => members.add(key, ts));
    // In key order (UTF-8 byte order is code point order), which the server then need not sort.
    return members.json();
  }

  async haveLists(prefix = ''): Promise<HaveLists> {
    const lists: HaveLists = { keys: [], ts: [] };
    await this.#eachLive(prefix, (key, ts) => {
      lists.keys.push(key);
      lists.ts.push(ts);
    });
    return lists;
  }

  /** Each live key under `prefix` with its ts, in key order. */
  async #eachLive(prefix: string, each: (key: string, ts: string) => void): Promise<void> {
    await this.#remapping;
    this.#check();
    // Keys are UTF-8 bytes in byte order, so the keys under a prefix are one contiguous range.
    for (const { key, value } of this.meta.getRange(prefix === '' ? {} : { start: keyBytes(prefix) })) {
      const k = key.toString('utf8');
      if (!k.startsWith(prefix)) break;
      const head = decodeHead(k, value);
      if (head.kind !== 'deleted') each(k, head.ts as string);
    }
  }

  async getCheckpoint(): Promise<number | undefined> {
    await this.#remapping;
    this.#check();
    return this.#checkpoint();
  }

  applyBatch(records: readonly LocalRecord[], options: ApplyOptions = {}): Promise<LocalRecord[]> {
    return this.#write(() => {
      const plan = planApply((k) => this.#head(k), records);
      for (const r of plan.writes) this.#put(r);
      if (options.checkpoint !== undefined && options.checkpoint !== this.#checkpoint()) {
        this.state.putSync('checkpoint', options.checkpoint);
      }
      return plan.changes;
    });
  }

  remove(keys: readonly string[], atRev: number): Promise<DeletedRecord[]> {
    return this.#write(() => {
      const plan = planRemove((k) => this.#head(k), keys, atRev);
      for (const r of plan.writes) this.#put(r);
      return plan.changes;
    });
  }

  forgetRevisions(): Promise<void> {
    // One transaction, so a crash leaves either the old revs or none; the
    // meta entries are read a page at a time to keep memory flat.
    return this.#write(() => {
      let start: Buffer | undefined;
      for (;;) {
        const page = [...this.meta.getRange({ start, exclusiveStart: start !== undefined, limit: PAGE })];
        for (const { key, value } of page) {
          const head = decodeHead(key.toString('utf8'), value);
          if (head.kind === 'deleted') {
            this.meta.removeSync(key);
          } else {
            const meta = value as unknown[];
            this.meta.putSync(key, [0, ...meta.slice(1)]);
          }
        }
        if (page.length < PAGE) break;
        start = page.at(-1)!.key;
      }
      this.state.removeSync('checkpoint');
    });
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#queue.catch(() => undefined);
      this.#closed = true;
      try {
        await this.env.close();
      } finally {
        openDirs.delete(this.dir);
      }
    })();
    return this.#closing;
  }

  /** Creates the format marker, migrates a format-1 directory, refuses a newer format. */
  async #prepare(): Promise<void> {
    const format = this.state.get('format');
    if (format !== undefined && format !== FORMAT) {
      throw new Error(`FileStore: ${this.dir} holds format ${String(format)}, written by a newer @keysync/client; this version reads format ${FORMAT}`);
    }
    const legacy = (await readdir(this.dir)).filter((name) => LEGACY_FILE.test(name));
    if (format === undefined) {
      if (legacy.length > 0) await this.#migrate();
      else await this.env.transaction(() => this.state.putSync('format', FORMAT));
    }
    // Format-1 files that are left after the migration committed (it deletes them only then).
    if (legacy.length > 0) {
      for (const name of legacy) await rm(join(this.dir, name), { force: true });
      await syncDir(this.dir);
    }
  }

  /**
   * Loads a format-1 directory (snapshot plus the committed lines of its log,
   * as that store did on every open) and writes it, with the format marker,
   * in one transaction: a crash before its commit leaves the old files to
   * migrate again.
   */
  async #migrate(): Promise<void> {
    const snapshotText = await readFile(join(this.dir, LEGACY_SNAPSHOT), 'utf8').catch(ifMissing(undefined));
    const state = decodeSnapshot(snapshotText);
    replayLog(state, await readFile(join(this.dir, legacyLogName(state.gen))).catch(ifMissing(undefined)));
    await this.env.childTransaction(() => {
      for (const r of state.records.values()) this.#put(r);
      if (state.checkpoint !== undefined) this.state.putSync('checkpoint', state.checkpoint);
      this.state.putSync('format', FORMAT);
    });
    await this.env.flushed;
  }

  #head(key: string): RecordHead | undefined {
    const meta = this.meta.get(keyBytes(key));
    return meta === undefined ? undefined : decodeHead(key, meta);
  }

  #checkpoint(): number | undefined {
    const cp = this.state.get('checkpoint');
    return typeof cp === 'number' ? cp : undefined;
  }

  /** Writes one record inside the current transaction. */
  #put(record: LocalRecord): void {
    // Only what the wire allows for a key (what the server sends): it fits LMDB's own key limit
    // (1978 bytes with 4 KiB pages, above MAX_KEY_BYTES), and its UTF-8 is exact, where a lone
    // surrogate would be written as U+FFFD and two keys would share one database key.
    const problem = keyProblem(record.key);
    if (problem) throw new Error(`FileStore: cannot store ${JSON.stringify(record.key.slice(0, 40))}: ${problem}`);
    const k = keyBytes(record.key);
    const value = encodeValue(record);
    this.meta.putSync(k, encodeMeta(record));
    if (value !== undefined) this.#bytesSinceOpen += value.length;
    if (value === undefined) this.values.removeSync(k);
    else if (typeof value === 'string') this.values.putSync(k, value);
    // asBinary stores the bytes as they are, past the table's string encoding (its typing knows only strings).
    else this.values.putSync(k, asBinary(value) as unknown as string);
  }

  /**
   * Runs `fn` in its own write transaction after every earlier write, and
   * resolves once the commit is on disk. A throw inside `fn` rolls back
   * everything it wrote (a child transaction) and rejects.
   */
  #write<T>(fn: () => T): Promise<T> {
    const run = this.#queue.then(async () => {
      this.#check();
      if (this.#commitsSinceOpen >= REMAP_AFTER_COMMITS || this.#bytesSinceOpen >= REMAP_AFTER_BYTES) await this.#remap();
      const result = await this.env.childTransaction(fn);
      await this.env.flushed;
      this.#commitsSinceOpen++;
      return result;
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Closes and reopens the database, before a write. Each commit reads the
   * pages it rewrites (the right edge of the B-trees) through LMDB's
   * read-only memory map, and the kernel maps the freshly written page-cache
   * pages around each of those reads along with them. They stay mapped, and
   * counted in the process's RSS, until the map goes, so during a long sync
   * the RSS would grow with every commit; a reopen every few dozen commits
   * keeps it flat. Reads wait for the reopen. If the database cannot be
   * opened again, the store is closed and this write fails before writing.
   */
  async #remap(): Promise<void> {
    let done!: () => void;
    this.#remapping = new Promise<void>((resolve) => (done = resolve));
    try {
      await this.env.close();
      this.#tables = openTables(this.dir);
      this.#commitsSinceOpen = 0;
      this.#bytesSinceOpen = 0;
    } catch (error) {
      this.#closed = true;
      throw new Error(`FileStore: could not reopen ${this.dir}, the store is closed`, { cause: error });
    } finally {
      this.#remapping = undefined;
      done();
    }
  }

  #check(): void {
    if (this.#closed) throw new Error('FileStore is closed');
  }
}

const keyBytes = (key: string): Buffer => Buffer.from(key, 'utf8');

function ifMissing<T>(fallback: T): (error: unknown) => T {
  return (error) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return fallback;
    throw error;
  };
}

/** Makes deleted directory entries durable; Windows cannot open directories, so skip there. */
async function syncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
