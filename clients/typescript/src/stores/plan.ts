/**
 * The rev-guard rules as pure functions, shared by every LocalStore so that
 * memory, file and future IndexedDB stores cannot disagree on what "newer"
 * means. A store plans against its current state, then commits the writes
 * in one atomic step of its own.
 */
import type { DeletedRecord, HaveLists, LocalRecord } from '../local-store.js';
import { plainRecord } from '../records.js';

export interface Plan<C extends LocalRecord> {
  /** Records to store (tombstones for never-seen keys included). */
  writes: LocalRecord[];
  /** Records a reader sees change; what the sync loop reports. */
  changes: C[];
}

/** What a plan needs to know of the record held for a key (stores may keep values elsewhere). */
export type Held = Pick<LocalRecord, 'rev' | 'kind'>;

type Lookup = (key: string) => Held | undefined;

/**
 * Keeps each record only if its rev is newer than what is held (or planned
 * earlier in the same batch). A tombstone for a key never seen is still
 * written, as a marker against a late older value, but is no visible change.
 */
export function planApply(lookup: Lookup, records: readonly LocalRecord[]): Plan<LocalRecord> {
  const planned = new Map<string, LocalRecord>();
  const plan: Plan<LocalRecord> = { writes: [], changes: [] };
  for (const record of records) {
    const current = planned.get(record.key) ?? lookup(record.key);
    if (current !== undefined && record.rev <= current.rev) continue;
    planned.set(record.key, record);
    plan.writes.push(record);
    const visible = record.kind !== 'deleted' || (current !== undefined && current.kind !== 'deleted');
    if (visible) plan.changes.push(record);
  }
  return plan;
}

/**
 * Tombstones for the handshake's `removed` keys that are live locally at a
 * rev older than `atRev` (the handshake's headRev). Keys we do not hold, or
 * hold deleted, need nothing.
 *
 * The tombstone's rev is 0, not `atRev`: with store options a removed key can
 * come back at its old rev without being rewritten (a PATCH includes it again,
 * or a root reaches it again), and a tombstone at headRev would refuse it
 * forever. Nothing older can arrive after the handshake (the feed starts at
 * headRev), so rev 0 loses no protection.
 */
export function planRemove(lookup: Lookup, keys: readonly string[], atRev: number): Plan<DeletedRecord> {
  const plan: Plan<DeletedRecord> = { writes: [], changes: [] };
  const seen = new Set<string>();
  for (const key of keys) {
    if (seen.has(key)) continue;
    seen.add(key);
    const current = lookup(key);
    if (current === undefined || current.kind === 'deleted' || current.rev >= atRev) continue;
    const tombstone: DeletedRecord = { key, rev: 0, ts: null, kind: 'deleted' };
    plan.writes.push(tombstone);
    plan.changes.push(tombstone);
  }
  return plan;
}

/** The live records with rev 0: the state `forgetRevisions()` leaves behind. */
export function forgetRevs(records: Iterable<LocalRecord>): LocalRecord[] {
  const out: LocalRecord[] = [];
  for (const r of records) if (r.kind !== 'deleted') out.push({ ...plainRecord(r), rev: 0 });
  return out;
}

/**
 * The `have` map of a set of records as JSON object text (LocalStore.haveJson):
 * each member written as it is found, without the object of a million
 * properties that `haveMap` builds and JSON.stringify then walks (a million
 * keys: about 0.5 s against 1-1.8 s).
 */
export function haveJsonOf(records: Iterable<LocalRecord>, prefix = ''): string {
  const members = new HaveMembers();
  for (const r of records) if (r.kind !== 'deleted' && r.key.startsWith(prefix)) members.add(r.key, r.ts);
  return members.json();
}

/** Members joined into one flat string at a time: a member held on its own costs about 155 bytes, joined 45. */
const MEMBERS_PER_JOIN = 4096;

/** The members of a `have` map's JSON text, in the order added (each key once: the caller's records are keyed). */
export class HaveMembers {
  readonly #joined: string[] = [];
  #pending: string[] = [];
  add(key: string, ts: string): void {
    this.#pending.push(`${JSON.stringify(key)}:${JSON.stringify(ts)}`);
    if (this.#pending.length === MEMBERS_PER_JOIN) {
      this.#joined.push(this.#pending.join(','));
      this.#pending = [];
    }
  }
  json(): string {
    if (this.#pending.length > 0) this.#joined.push(this.#pending.join(','));
    this.#pending = [];
    return `{${this.#joined.join(',')}}`;
  }
}

/** The `have` map of a set of records. */
export function haveListsOf(records: Iterable<LocalRecord>, prefix = ''): HaveLists {
  const lists: HaveLists = { keys: [], ts: [] };
  for (const r of records) {
    if (r.kind !== 'deleted' && r.key.startsWith(prefix)) {
      lists.keys.push(r.key);
      lists.ts.push(r.ts);
    }
  }
  return lists;
}

export function haveMap(records: Iterable<LocalRecord>, prefix = ''): Record<string, string> {
  // A null-prototype object: keys like "__proto__" are ordinary keys here.
  const have: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const r of records) {
    if (r.kind !== 'deleted' && r.key.startsWith(prefix)) have[r.key] = r.ts;
  }
  return have;
}
