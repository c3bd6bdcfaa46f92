/**
 * Group commit for unconditional writes of one store.
 *
 * Every write of a store takes the store row's lock and holds it through its
 * commit (revs in commit order), so one store commits one transaction at a
 * time, each waiting for its own WAL flush. Concurrent writers of a store
 * would queue on that lock anyway; here they queue in this process instead,
 * and the writes that arrived while earlier ones were in flight go to the
 * database together as one statement: one lock, one flush, one round trip.
 *
 * Each request keeps its own guarantees: its ops are contiguous in the batch,
 * so they get consecutive revs in op order, and the batch commits or fails as
 * a whole, so a request is never half applied. A request is answered only
 * after the batch commits. A lone writer waits only for the end of the current
 * turn of the event loop: a batch goes out then, or as soon as fewer than
 * `inFlight` batches of the store are running.
 */
import type { Db } from '../db/client.js';
import { isDatabaseUnavailable } from '../database-errors.js';
import { applyWrites, type CommitNotice, type WriteOp, type WriteResult } from './writes.js';

interface Pending {
  ops: WriteOp[];
  resolve: (results: WriteResult[]) => void;
  reject: (err: unknown) => void;
}

interface StoreQueue {
  waiting: Pending[];
  running: number;
  /** a pump is due at the end of this turn of the event loop */
  scheduled: boolean;
}

export interface WriteBatchOptions {
  /**
   * Batches of one store sent at once. One by default: the next batch then
   * takes every request that arrived while the last one committed. A second
   * batch in flight would only wait at the row lock (the database commits one
   * write of a store at a time) and split those requests into more, smaller
   * commits, each with its own flush and notice.
   */
  inFlight?: number;
  /** a batch takes requests up to this many ops (a larger request goes alone) */
  maxOps?: number;
}

export class WriteBatcher {
  private readonly stores = new Map<string, StoreQueue>();
  private readonly inFlight: number;
  private readonly maxOps: number;

  constructor(
    private readonly db: Db,
    private readonly onCommit?: (notice: CommitNotice) => void,
    opts: WriteBatchOptions = {},
  ) {
    this.inFlight = opts.inFlight ?? 1;
    this.maxOps = opts.maxOps ?? 1000;
  }

  /** Applies `ops` atomically, possibly in one transaction with other requests' writes of the store. */
  write(storeId: string, ops: WriteOp[]): Promise<WriteResult[]> {
    if (ops.length === 0) return Promise.resolve([]);
    let queue = this.stores.get(storeId);
    if (!queue) this.stores.set(storeId, (queue = { waiting: [], running: 0, scheduled: false }));
    const done = new Promise<WriteResult[]>((resolve, reject) => queue.waiting.push({ ops, resolve, reject }));
    if (!queue.scheduled) {
      // After the requests that arrived in this turn of the event loop: an embedded
      // database runs in this thread, so no request could arrive while a batch runs.
      queue.scheduled = true;
      setImmediate(() => {
        queue.scheduled = false;
        this.pump(storeId, queue);
      });
    }
    return done;
  }

  private pump(storeId: string, queue: StoreQueue): void {
    while (queue.running < this.inFlight && queue.waiting.length > 0) {
      const batch = this.take(queue);
      queue.running++;
      void this.run(storeId, batch).finally(() => {
        queue.running--;
        if (queue.running === 0 && queue.waiting.length === 0 && !queue.scheduled) this.stores.delete(storeId);
        else this.pump(storeId, queue);
      });
    }
  }

  /** The waiting requests, oldest first, up to `maxOps` ops (always at least one request). */
  private take(queue: StoreQueue): Pending[] {
    let n = 0;
    let count = 0;
    while (count < queue.waiting.length && (count === 0 || n + queue.waiting[count]!.ops.length <= this.maxOps)) {
      n += queue.waiting[count]!.ops.length;
      count++;
    }
    return queue.waiting.splice(0, count);
  }

  private async run(storeId: string, batch: Pending[]): Promise<void> {
    const ops = batch.length === 1 ? batch[0]!.ops : batch.flatMap((p) => p.ops);
    try {
      const results = await applyWrites(this.db, storeId, ops, {}, this.onCommit);
      let at = 0;
      for (const p of batch) {
        p.resolve(results.slice(at, at + p.ops.length));
        at += p.ops.length;
      }
    } catch (err) {
      // The statement failed as a whole, so nothing of the batch was written. One
      // request's data (e.g. a string PostgreSQL cannot store) must not fail the
      // others: each request is tried on its own. An unreachable database fails them all.
      if (batch.length === 1 || isDatabaseUnavailable(err)) {
        for (const p of batch) p.reject(err);
        return;
      }
      for (const p of batch) {
        await applyWrites(this.db, storeId, p.ops, {}, this.onCommit).then(p.resolve, p.reject);
      }
    }
  }
}
