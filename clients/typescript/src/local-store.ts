/**
 * The replica's storage, behind one small async interface so memory, file
 * (Node) and IndexedDB (browser, later) stores are interchangeable.
 *
 * Invariants every implementation keeps (the shared tests check them):
 * - A record is applied only when its rev is newer than the one held for its
 *   key. Revs decide, never clocks: timestamps come from different machines
 *   and cannot order writes.
 * - Deletes stay behind as tombstones (rev markers), so an older value that
 *   arrives late (batch vs live feed race) cannot resurrect a deleted key.
 * - `applyBatch` is atomic: all of its records and its checkpoint become
 *   visible (and, for durable stores, durable) together, or none of them.
 *   The sync loop acks a batch only after it resolves.
 * - The checkpoint is the highest rev up to which every change is applied. It
 *   moves only through `applyBatch`, so it can never get ahead of the data it
 *   covers. The sync loop decides its value; stores do not second-guess it.
 *
 * A store holds one replica: one store id and one prefix. Share it between
 * two subscriptions and their checkpoints will corrupt each other.
 */

interface RecordBase {
  key: string;
  /** Server rev of this version; 0 after `forgetRevisions()`. */
  rev: number;
}

/** A JSON value as the server sent it. */
export interface JsonRecord extends RecordBase {
  kind: 'json';
  ts: string;
  value: unknown;
}

export interface BytesRecord extends RecordBase {
  kind: 'bytes';
  ts: string;
  bytes: Uint8Array;
  contentType: string;
}

/**
 * A tombstone. `ts` is null when the delete came from a handshake's `removed`
 * list, which carries no timestamp (we never invent one from the local clock).
 */
export interface DeletedRecord extends RecordBase {
  kind: 'deleted';
  ts: string | null;
}

export type LiveRecord = JsonRecord | BytesRecord;
export type LocalRecord = LiveRecord | DeletedRecord;

export interface ApplyOptions {
  /** Move the checkpoint to this rev together with the records. */
  checkpoint?: number | undefined;
}

/** A `have` map as two lists: `ts[i]` is the server ts of `keys[i]`. */
export interface HaveLists {
  keys: string[];
  ts: string[];
}

export interface LocalStore {
  /** The record of a key, tombstones included; undefined if never seen. */
  get(key: string): Promise<LocalRecord | undefined>;

  /**
   * The handshake's `have` map: key → server ts of every live key (no
   * tombstones) under `prefix`. The server compares ts values for equality.
   */
  have(prefix?: string): Promise<Record<string, string>>;

  /**
   * Optional: the same map as `have(prefix)`, as JSON object text
   * (`{"users/1":"2026-…Z",…}`), which the handshake sends as it is. A store
   * that writes it member by member spares the sync loop an object of a
   * property per key and its JSON.stringify (a million keys: about 0.5 s
   * against 1-1.8 s). Each key once; any order, though key order spares the
   * server a sort.
   */
  haveJson?(prefix?: string): Promise<string>;

  /**
   * Optional: the same map as `have(prefix)` as two lists, each key's ts at
   * its index, for the digest handshake, which reads every key once (a
   * hundred thousand keys: 20 ms for the lists against 50 for the object
   * and its key list).
   */
  haveLists?(prefix?: string): Promise<HaveLists>;

  /**
   * Optional: true when `applyBatch` takes json records whose value is parsed
   * on first read (LazyJsonRecord, records.ts) and the store reads `value`
   * only when it must, handing out plain records (plainRecord). The sync
   * loop then leaves batch values unparsed until someone reads them. Without
   * it a store gets plain records only.
   */
  readonly lazyValues?: boolean;

  /** Highest rev fully applied, or undefined before the first complete sync. */
  getCheckpoint(): Promise<number | undefined>;

  /**
   * Applies, atomically, each record whose rev is newer than the one held for
   * its key, and moves the checkpoint if asked. Resolves once the result is
   * durable. Returns the records that changed what a reader sees (puts, and
   * deletes of live keys), in input order; the sync loop emits callbacks for
   * exactly these.
   */
  applyBatch(records: readonly LocalRecord[], options?: ApplyOptions): Promise<LocalRecord[]>;

  /**
   * Deletes the handshake's `removed` keys, unless the key is held at `atRev`
   * (the handshake's headRev) or later. The tombstones have rev 0, so any
   * later server entry of the key is accepted (see planRemove). Returns the
   * records that were live and are now deleted.
   */
  remove(keys: readonly string[], atRev: number): Promise<DeletedRecord[]>;

  /**
   * Forgets server revisions: drops tombstones, sets every live record's rev
   * to 0 and clears the checkpoint, keeping values and ts. Used when the
   * server's revs are behind ours (restored from a backup: `since-ahead`), so
   * its new, lower revs are not rejected as old. Values are kept, so the
   * following `have` handshake re-downloads only what differs.
   */
  forgetRevisions(): Promise<void>;

  /** Releases resources (file handles, locks). Further calls reject. */
  close(): Promise<void>;
}
