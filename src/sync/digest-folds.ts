/**
 * Folds of a store's digests, shared by the digest requests that ask for the
 * same state: one fold per store state, however many replicas ask.
 *
 * Replicas without a usable checkpoint tend to come together: an options
 * change ends every replica's checkpoint at once, a deploy or an outage sends
 * them all back. Each one's digests request folds every key of the store
 * (100,000 keys: 35-50 ms of PostgreSQL; 1,000,000 on the embedded database:
 * 0.7-0.9 s of the server's only thread), and twenty at once took the server
 * 0.6 s at 100,000 keys where one took 40 ms.
 *
 * A fold is named by everything its result depends on (`foldKey`): the store
 * and its incarnation (a store deleted and created again has the same id and
 * counts its revs from 0 again), its head rev (every write moves it; a purge
 * removes only tombstones, which no fold reads), its options version (the
 * key filter), the bucket count and the prefix. A request that finds its fold
 * running waits for it; one that finds it done takes its words. Done folds
 * are kept up to a byte budget (least recently used go first) and for at
 * most KEEP_MS, so an idle server gives the memory back.
 */

/** How long a done fold is kept: long enough for a wave of reconnects, short enough to let an idle server's memory go. */
export const KEEP_MS = 60_000;

/** What names a fold: two requests with equal keys would read the same keys at the same ts. */
export interface FoldIdentity {
  storeId: string;
  /** stores.created_us: tells a store from an earlier one with the same id */
  createdUs: number;
  headRev: number;
  optionsVersion: number;
  buckets: number;
  prefix: string | undefined;
}

export function foldKey(id: FoldIdentity): string {
  // JSON: no value can run into the next (the prefix may hold any character).
  return JSON.stringify([id.storeId, id.createdUs, id.headRev, id.optionsVersion, id.buckets, id.prefix ?? null]);
}

/** A found fold's words once it is done; undefined for none, or for one that failed. */
function wordsOf(found: Int32Array | Promise<Int32Array> | undefined): Promise<Int32Array | undefined> {
  return Promise.resolve(found).catch(() => undefined);
}

interface Kept {
  words: Int32Array;
  until: number;
}

export class DigestFolds {
  readonly #running = new Map<string, Promise<Int32Array>>();
  /** in order of last use, oldest first */
  readonly #kept = new Map<string, Kept>();
  #keptBytes = 0;
  #sweep: NodeJS.Timeout | undefined;

  /**
   * @param maxBytes the words kept together (KEYSYNC_DIGEST_CACHE_BYTES); 0
   * keeps none, and then folds are not shared either
   */
  constructor(
    readonly maxBytes: number,
    private readonly opts: { now?: () => number; onFold?: (outcome: 'folded' | 'reused') => void } = {},
  ) {}

  #now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** The words of the fold named `key` if it is done or running, else undefined. */
  find(key: string): Int32Array | Promise<Int32Array> | undefined {
    const found = this.#found(key);
    if (found) this.opts.onFold?.('reused');
    return found;
  }

  /**
   * The words of the fold named `key` once it is done, if it is kept or
   * running; undefined if it is neither, or if it failed (it failed for the
   * request that ran it: the caller folds for itself).
   */
  reuse(key: string): Promise<Int32Array | undefined> {
    return wordsOf(this.find(key));
  }

  #found(key: string): Int32Array | Promise<Int32Array> | undefined {
    const kept = this.#kept.get(key);
    if (kept && kept.until > this.#now()) {
      this.#kept.delete(key);
      this.#kept.set(key, kept); // most recently used
      return kept.words;
    }
    if (kept) this.#forget(key, kept);
    return this.#running.get(key);
  }

  /**
   * Runs `fold` as the fold named `key` (or joins it, if another request
   * started it meanwhile), and keeps its words. A joined fold that fails
   * failed for the request that ran it: this one then runs its own.
   */
  async run(key: string, fold: () => Promise<Int32Array>): Promise<Int32Array> {
    // Looked up and, when absent, registered below in the same turn: two requests never both start it.
    const found = this.maxBytes === 0 ? undefined : this.find(key);
    const words = found && (await wordsOf(found));
    if (words) return words;
    this.opts.onFold?.('folded');
    if (this.maxBytes === 0) return fold();
    // Only its own entry is removed: after a failed fold, a joiner's fold may have taken the name.
    const settled = () => this.#running.get(key) === running && this.#running.delete(key);
    const running: Promise<Int32Array> = fold().then(
      (words) => {
        settled();
        this.#keep(key, words);
        return words;
      },
      (err: unknown) => {
        settled();
        throw err;
      },
    );
    this.#running.set(key, running);
    return running;
  }

  /** Bytes of the words kept now. */
  get keptBytes(): number {
    return this.#keptBytes;
  }

  close(): void {
    clearTimeout(this.#sweep);
    this.#sweep = undefined;
    this.#kept.clear();
    this.#keptBytes = 0;
  }

  #keep(key: string, words: Int32Array): void {
    if (words.byteLength > this.maxBytes) return;
    const old = this.#kept.get(key);
    if (old) this.#forget(key, old);
    for (const [oldest, kept] of this.#kept) {
      if (this.#keptBytes + words.byteLength <= this.maxBytes) break;
      this.#forget(oldest, kept);
    }
    this.#kept.set(key, { words, until: this.#now() + KEEP_MS });
    this.#keptBytes += words.byteLength;
    this.#sweep ??= setTimeout(() => this.#sweepExpired(), KEEP_MS).unref();
  }

  #forget(key: string, kept: Kept): void {
    this.#kept.delete(key);
    this.#keptBytes -= kept.words.byteLength;
  }

  /** Drops what has expired, so a server that stops asking lets the words go. */
  #sweepExpired(): void {
    this.#sweep = undefined;
    const now = this.#now();
    for (const [key, kept] of this.#kept) if (kept.until <= now) this.#forget(key, kept);
    if (this.#kept.size > 0) this.#sweep = setTimeout(() => this.#sweepExpired(), KEEP_MS).unref();
  }
}
