/**
 * Cuts a session's stale keys, in delivery order, into batches (chunks) and
 * writes them to `sync_chunks` as they fill, so a handshake over a million
 * keys never holds them all. A batch closes at `maxKeys` keys, or before its
 * entries would pass `maxBytes` (a single larger value gets a batch of its
 * own): with large values a batch of the requested size would hold
 * gigabytes on both ends.
 */
import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';

/** Wire bytes of an entry besides its value: key, rev, ts and punctuation (about). */
const ENTRY_OVERHEAD = 100;

/**
 * Where batches begin, entry by entry in delivery order: the rule shared by
 * the ChunkWriter and the handshake that cuts chunks in the database
 * (all-served.sql.ts), so both cut the same batches.
 */
export class BatchCuts {
  #keys = 0;
  #bytes = 0;

  constructor(
    private readonly maxKeys: number,
    private readonly maxBytes: number,
  ) {}

  /**
   * True when no batch can reach `maxBytes` before `maxKeys` closes it, with
   * no value larger than `largest`: then every size given to `begins` may be
   * 0 and the cuts come out the same.
   */
  static countsAlone(maxKeys: number, maxBytes: number, largest: number): boolean {
    return maxKeys * (largest + ENTRY_OVERHEAD) <= maxBytes;
  }

  /** Takes the next entry (`size`: its value's wire size, as scanMeta gives it); true when it begins a batch. */
  begins(size: number): boolean {
    const bytes = size + ENTRY_OVERHEAD;
    const begins = this.#keys === 0 || this.#keys >= this.maxKeys || this.#bytes + bytes > this.maxBytes;
    if (begins) {
      this.#keys = 0;
      this.#bytes = 0;
    }
    this.#keys++;
    this.#bytes += bytes;
    return begins;
  }
}
/** Chunks per INSERT: few statements, bounded parameter lists. */
const CHUNKS_PER_INSERT = 100;
/** Up to this many stale keys the chunks are also kept here, so the response needs no read back. */
const RETAIN_KEYS = 50_000;

/** A closed chunk: its keys, and their revs' range when they follow each other (see ChunkWriter.add). */
interface Chunk {
  k: string[];
  f?: number;
  t?: number;
}

export class ChunkWriter {
  /** stale keys added so far */
  keys = 0;
  /** chunks closed so far (the session's `batches` once finished) */
  batches = 0;
  #current: string[] = [];
  /** the current chunk's first and last rev, while each key's rev was the one before's plus one */
  #fromRev: number | undefined;
  #toRev: number | undefined;
  readonly #cuts: BatchCuts;
  /** closed chunks not yet written: the last of the `batches` closed so far */
  #pending: Chunk[] = [];
  /** every chunk so far, while there are at most RETAIN_KEYS keys; then undefined */
  retained: string[][] | undefined = [];

  constructor(
    private readonly tx: Db,
    private readonly storeId: string,
    private readonly sessionId: string,
    maxKeys: number,
    maxBytes: number,
  ) {
    this.#cuts = new BatchCuts(maxKeys, maxBytes);
  }

  /**
   * Adds the next stale key; `size` is its value's wire size (scanMeta),
   * `rev` its rev where the caller has it. A chunk whose keys come with
   * consecutive revs records that range, and its batch is read by it (one
   * scan of the rev index, batch.sql.ts joinedInRange) rather than by a
   * probe of the primary key per key: a replica that missed a bulk write
   * lacks keys of consecutive revs. Every rev of the range is then one of
   * the chunk's keys, so the range held exactly those keys at the
   * handshake, which is what a read by range needs.
   */
  async add(key: string, size: number, rev?: number): Promise<void> {
    if (this.#cuts.begins(size) && this.#current.length > 0) await this.#close();
    if (this.#current.length === 0) this.#fromRev = this.#toRev = rev;
    else if (rev !== undefined && this.#toRev !== undefined && rev === this.#toRev + 1) this.#toRev = rev;
    else this.#fromRev = this.#toRev = undefined;
    this.#current.push(key);
    this.keys++;
  }

  /** Closes the last chunk and writes what is still pending. */
  async finish(): Promise<void> {
    if (this.#current.length > 0) await this.#close();
    await this.#flush();
  }

  async #close(): Promise<void> {
    const inRange = this.#fromRev !== undefined && this.#toRev !== undefined;
    this.#pending.push(inRange ? { k: this.#current, f: this.#fromRev, t: this.#toRev } : { k: this.#current });
    this.batches++;
    if (this.retained && this.keys <= RETAIN_KEYS) this.retained.push(this.#current);
    else this.retained = undefined;
    this.#current = [];
    if (this.#pending.length >= CHUNKS_PER_INSERT) await this.#flush();
  }

  async #flush(): Promise<void> {
    if (this.#pending.length === 0) return;
    const chunks = this.#pending;
    const firstCursor = this.batches - chunks.length;
    this.#pending = [];
    // The chunks travel as one JSON text (JSON.stringify is native) rather than
    // as text[] literals, which the query builder assembles key by key.
    await this.tx.execute(sql`insert into sync_chunks (store_id, session_id, cursor, keys, from_rev, to_rev)
      select ${this.storeId}::uuid, ${this.sessionId}::uuid, ${firstCursor}::int + c.ord::int - 1,
        array(select k from json_array_elements_text(c.chunk -> 'k') with ordinality as e(k, i) order by i),
        (c.chunk ->> 'f')::bigint, (c.chunk ->> 't')::bigint
      from json_array_elements(${JSON.stringify(chunks)}::json) with ordinality as c(chunk, ord)`);
  }
}
