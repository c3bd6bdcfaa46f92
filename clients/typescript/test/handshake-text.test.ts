/**
 * A handshake answer read as text (wire.ts splitHandshakeText): an inline
 * batch, its last member (docs/API.md, "Inline batch"), is cut off without
 * parsing its values, however the keys before it are spelled.
 */
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../src/errors.js';
import { batchRecords } from '../src/records.js';
import { splitHandshakeText } from '../src/wire.js';

const TS = '2026-12-06T18:00:00.123456Z';
const HEAD = { sessionId: 's', headRev: 9, batchSize: 2000, batches: 1, window: 4, expiresAt: TS };
/** Keys that spell the member the reader looks for, and a value that holds it. */
const KEYS = [',"batch":', 'batch', '"batch":{"cursor":0}', 'x\n'];
const BATCH = `{"cursor":0,"entries":[\n{"key":"a","rev":8,"ts":"${TS}","kind":"json","value":{"batch":{"n":12345678901234567890}}},\n{"key":",\\"batch\\":","rev":9,"ts":"${TS}","kind":"json","value":1.10}\n],"next":null}`;

/** An answer as the server writes it (src/sync/stale-list.ts): stale, removed, the rest, the batch last. */
const answer = (batch?: string) => {
  const { sessionId, ...rest } = HEAD;
  const head = JSON.stringify({ sessionId, stale: KEYS, removed: KEYS, ...rest });
  return batch === undefined ? head : `${head.slice(0, -1)},"batch":${batch}}`;
};

describe('splitHandshakeText', () => {
  it('cuts the batch off as its text, whatever the keys before it and the values in it spell', () => {
    const { handshake, batchText } = splitHandshakeText(answer(BATCH));
    expect(handshake).toEqual({ ...HEAD, stale: KEYS, removed: KEYS });
    expect(batchText).toBe(BATCH);
    const read = batchRecords(batchText!, false, (text) => `raw:${text}`);
    expect(read.records.map((r) => [r.key, 'value' in r && r.value])).toEqual([
      ['a', 'raw:{"batch":{"n":12345678901234567890}}'],
      [',"batch":', 'raw:1.10'],
    ]);
  });

  it('reads an answer without a batch as it is', () => {
    expect(splitHandshakeText(answer())).toEqual({ handshake: { ...HEAD, stale: KEYS, removed: KEYS }, batchText: undefined });
  });

  it('refuses a batch that is not the last member, and an answer cut short', () => {
    const first = `{"batch":${BATCH},${answer().slice(1)}`;
    expect(() => splitHandshakeText(first)).toThrow(ProtocolError);
    // Cut after the batch's own closing brace: the batch then does not read.
    const cut = splitHandshakeText(answer(BATCH).slice(0, -1));
    expect(() => batchRecords(cut.batchText!, false, undefined)).toThrow(ProtocolError);
    expect(() => splitHandshakeText(answer(BATCH).slice(0, -2))).toThrow(ProtocolError);
    expect(() => splitHandshakeText(answer().slice(0, 40))).toThrow(ProtocolError);
  });
});
