/**
 * The commands of the model test as plain data (so fast-check prints and
 * shrinks them well). Commands that need client state (a session, a feed)
 * name it relatively ("the next batch") and are no-ops when it is missing.
 */
import fc from 'fast-check';

/** A small key space, so writes collide; slashes, spaces, unicode, URL-special characters, non-BMP. */
export const KEYS = ['a', 'a/b', 'a b', 'dir/sub/leaf', 'ключ', '😀 emoji/x', '%2F?#&+', 'ｆｕｌｌ'] as const;

export const CONTENT_TYPES = ['application/octet-stream', 'image/png', 'text/plain; charset=utf-8'] as const;

export type BulkOp =
  | { op: 'put'; key: string; value: unknown }
  | { op: 'put'; key: string; bytes: Uint8Array; contentType: string }
  | { op: 'delete'; key: string };

export type Cmd =
  | { t: 'put'; key: string; value: unknown }
  | { t: 'putBytes'; key: string; bytes: Uint8Array; contentType: string }
  | { t: 'del'; key: string }
  | { t: 'bulk'; ops: BulkOp[] }
  | { t: 'get'; key: string }
  /** writes sent at once (revs must still be consecutive, in commit order), maybe while a client opens its feed */
  | { t: 'burst'; ops: BulkOp[]; feedOpen: number | null }
  /** a whole sync of one client: handshake, every batch, acks */
  | { t: 'sync'; c: number; mode: 'have' | 'since'; inline: boolean }
  | { t: 'handshake'; c: number; mode: 'have' | 'since'; batchSize: number; inline: boolean }
  /** next: the batch after the last fetched; again: refetch the last fetched; ahead: beyond the window */
  | { t: 'fetch'; c: number; which: 'next' | 'again' | 'ahead' }
  /** fetched: the last fetched batch; next: the batch after the last acked (maybe not fetched yet) */
  | { t: 'ack'; c: number; which: 'fetched' | 'next' }
  /** forget: the client just walks away (the session expires); delete: DELETE the session */
  | { t: 'cancel'; c: number; how: 'forget' | 'delete' }
  /** resume: reconnect with Last-Event-ID when the client has a position, else open from its checkpoint */
  | { t: 'feedOpen'; c: number; resume: boolean }
  | { t: 'feedRead'; c: number; n: number }
  | { t: 'feedClose'; c: number }
  | { t: 'purge' }
  | { t: 'restart' }
  /** sleep past the session timeout, then maybe touch the client's session (expect 410 unless it was complete) */
  | { t: 'wait'; c: number; then: 'nothing' | 'fetch' | 'ack' };

/** fc.record without null-prototype objects, so counterexamples print plainly */
const rec = <T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> => fc.record(model as never, { noNullPrototype: true }) as fc.Arbitrary<T>;

const key = fc.constantFrom(...KEYS);
const client = fc.integer({ min: 0, max: 2 });
const value: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 2, stringUnit: 'grapheme' }),
  fc.jsonValue({ maxDepth: 1, stringUnit: 'binary' }),
  fc.constantFrom('', 'ключ/значение', '😀', { 'a/b': [1, 'ü'] }),
);
const bytes = fc.uint8Array({ maxLength: 12 });
const contentType = fc.constantFrom(...CONTENT_TYPES);

const bulkOp: fc.Arbitrary<BulkOp> = fc.oneof(
  { arbitrary: rec({ op: fc.constant('put' as const), key, value }), weight: 3 },
  { arbitrary: rec({ op: fc.constant('put' as const), key, bytes, contentType }), weight: 1 },
  { arbitrary: rec({ op: fc.constant('delete' as const), key }), weight: 2 },
);

export const command: fc.Arbitrary<Cmd> = fc.oneof(
  { arbitrary: rec({ t: fc.constant('put' as const), key, value }), weight: 6 },
  { arbitrary: rec({ t: fc.constant('putBytes' as const), key, bytes, contentType }), weight: 2 },
  { arbitrary: rec({ t: fc.constant('del' as const), key }), weight: 3 },
  { arbitrary: rec({ t: fc.constant('bulk' as const), ops: fc.array(bulkOp, { minLength: 1, maxLength: 4 }) }), weight: 3 },
  { arbitrary: rec({ t: fc.constant('get' as const), key }), weight: 1 },
  {
    arbitrary: rec({
      t: fc.constant('burst' as const),
      ops: fc.array(bulkOp, { minLength: 2, maxLength: 4 }),
      feedOpen: fc.option(client, { nil: null }) as fc.Arbitrary<number | null>,
    }),
    weight: 2,
  },
  {
    arbitrary: rec({ t: fc.constant('sync' as const), c: client, mode: fc.constantFrom('since' as const, 'have' as const), inline: fc.boolean() }),
    weight: 2,
  },
  {
    arbitrary: rec({
      t: fc.constant('handshake' as const),
      c: client,
      mode: fc.constantFrom('since' as const, 'have' as const),
      batchSize: fc.integer({ min: 1, max: 3 }),
      inline: fc.boolean(),
    }),
    weight: 4,
  },
  { arbitrary: rec({ t: fc.constant('fetch' as const), c: client, which: fc.constantFrom('next' as const, 'again' as const, 'ahead' as const) }), weight: 6 },
  { arbitrary: rec({ t: fc.constant('ack' as const), c: client, which: fc.constantFrom('fetched' as const, 'next' as const) }), weight: 4 },
  { arbitrary: rec({ t: fc.constant('cancel' as const), c: client, how: fc.constantFrom('forget' as const, 'delete' as const) }), weight: 1 },
  { arbitrary: rec({ t: fc.constant('feedOpen' as const), c: client, resume: fc.boolean() }), weight: 3 },
  { arbitrary: rec({ t: fc.constant('feedRead' as const), c: client, n: fc.integer({ min: 1, max: 6 }) }), weight: 4 },
  { arbitrary: rec({ t: fc.constant('feedClose' as const), c: client }), weight: 1 },
  { arbitrary: fc.constant({ t: 'purge' as const }), weight: 2 },
  { arbitrary: fc.constant({ t: 'restart' as const }), weight: 1 },
  { arbitrary: rec({ t: fc.constant('wait' as const), c: client, then: fc.constantFrom('fetch' as const, 'ack' as const, 'nothing' as const) }), weight: 1 },
);

export const scenario = rec({
  clients: fc.integer({ min: 2, max: 3 }),
  commands: fc.noBias(fc.array(command, { maxLength: 40, size: 'max' })),
});

/** One line per command for the failure trace. */
export function describe(cmd: Cmd): string {
  const { t, ...rest } = cmd;
  return `${t} ${JSON.stringify(rest, (_k, v) => (v instanceof Uint8Array ? `bytes[${v.length}]` : v))}`;
}
