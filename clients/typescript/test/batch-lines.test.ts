/**
 * Batches read a line per entry (docs/API.md, "Batches"), with each json
 * value left as text until it is read: the line reader, the records it
 * makes, and what the stores that take them hand out.
 */
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../src/errors.js';
import { LazyJsonRecord, batchRecords } from '../src/records.js';
import { FileStore } from '../src/stores/file.js';
import { MemoryStore } from '../src/stores/memory.js';
import { JsonTextEntry, parseBatchLines } from '../src/wire.js';
import { useTmpDirs } from './support/tmp-dir.js';

const tmp = useTmpDirs();
const TS = '2026-12-04T18:00:00.123456Z';

/** Entry texts as the server writes them (src/store/entry-sql.ts). */
const json = (key: string, rev: number, value: string) => `{"key":${JSON.stringify(key)},"rev":${rev},"ts":"${TS}","kind":"json","value":${value}}`;
const tombstone = (key: string, rev: number) => `{"key":${JSON.stringify(key)},"rev":${rev},"ts":"${TS}","kind":"tombstone","deleted":true}`;
const bytes = (key: string, rev: number) => `{"key":${JSON.stringify(key)},"rev":${rev},"ts":"${TS}","kind":"bytes","base64":"AAE=","contentType":"x/y"}`;
/** A batch body as the server lays it out (src/sync/batch-body.ts). */
const laidOut = (entries: string[], next: number | null = null) =>
  `{"cursor":3,"entries":[${entries.length > 0 ? `\n${entries.join(',\n')}` : ''}\n],"next":${next}}`;

/** Keys and values that hold the text the reader looks for, inside strings. */
const TRICKY = [
  json('a,"kind":"json","value":1', 1, '{"s":"x,\\"kind\\":\\"json\\",\\"value\\":2","value":{"value":3}}'),
  json('b\n"c"', 2, '"line\\nfeed"'),
  tombstone('d', 3),
  bytes('e', 4),
  json('f', 5, '12345678901234567890'),
  json('g', 6, '[1.10,{"2":0,"1":0}]'),
];

describe('parseBatchLines', () => {
  it('reads each entry of a laid-out batch, json values as their text', () => {
    const body = laidOut(TRICKY, 4);
    const read = parseBatchLines(body)!;
    expect(read).toBeDefined();
    expect(read.cursor).toBe(3);
    expect(read.next).toBe(4);
    const whole = JSON.parse(body) as { entries: Array<Record<string, unknown>> };
    expect(read.entries.map((e) => e.key)).toEqual(whole.entries.map((e) => e['key']));
    read.entries.forEach((entry, i) => {
      const expected = whole.entries[i]!;
      if (entry instanceof JsonTextEntry) {
        expect(JSON.parse(entry.text)).toEqual(expected['value']);
        expect({ key: entry.key, rev: entry.rev, ts: entry.ts }).toEqual({ key: expected['key'], rev: expected['rev'], ts: expected['ts'] });
      } else {
        expect(entry).toEqual(expected);
      }
    });
    expect((read.entries[4] as JsonTextEntry).text).toBe('12345678901234567890');
    expect((read.entries[5] as JsonTextEntry).text).toBe('[1.10,{"2":0,"1":0}]');
  });

  it('reads an empty batch', () => {
    expect(parseBatchLines(laidOut([]))).toEqual({ cursor: 3, next: null, entries: [] });
  });

  it('leaves any other layout to the whole-body parse', () => {
    const entries = [json('a', 1, '1'), json('b', 2, '2')];
    const cases = [
      `{"cursor":3,"entries":[${entries.join(',')}],"next":null}`, // one line
      JSON.stringify(JSON.parse(laidOut(entries)), null, 2), // pretty-printed
      laidOut(entries).replace(',\n', '\n'), // no comma between entries
      laidOut(entries).replace('"rev":2', '"rev":"2"'), // a head the checks refuse
      laidOut(entries).replace('{"key":"b"', '{"rev":2,"key":"b"'), // members in another order
      laidOut([json('a', 1, '1').slice(0, -1)]), // an entry cut short
    ];
    for (const body of cases) expect(parseBatchLines(body), body).toBeUndefined();
  });

  it('reads every head as JSON.parse does, by hand or not, and refuses what JSON refuses', () => {
    const head = (key: string, rev: string, ts = TS) => `{"key":${key},"rev":${rev},"ts":"${ts}","kind":"json","value":1}`;
    const read = (line: string) => parseBatchLines(laidOut([line]))?.entries[0];
    const accepted = [
      head('"plain/key"', '0'),
      head('"plain/key"', String(Number.MAX_SAFE_INTEGER)),
      head('"q\\"uote"', '12'),
      head('"back\\\\slash"', '12'),
      head('"\\u00e9scaped"', '12'),
      head('"é raw, 🙂"', '12'),
      head('"a\\",\\"rev\\":1"', '12'), // the text after a key, inside the key
      head('"k"', '12', '2026-12-04T18:00:00\\u002e123Z'),
      head('"k"', '1.0'), // JSON's 1
    ];
    for (const line of accepted) {
      const entry = read(line);
      const expected = JSON.parse(line) as Record<string, unknown>;
      expect(entry, line).toBeInstanceOf(JsonTextEntry);
      expect({ key: entry!.key, rev: entry!.rev, ts: entry!.ts }, line).toEqual({ key: expected['key'], rev: expected['rev'], ts: expected['ts'] });
    }
    // A leading zero, a sign, an unsafe integer, a raw control character, no rev: not JSON, or not a rev.
    const refused = [head('"k"', '012'), head('"k"', '-1'), head('"k"', '9007199254740992'), head('"k\u0001"', '1'), head('"k"', '')];
    for (const line of refused) expect(read(line), line).toBeUndefined();
  });

  it('reads random keys exactly', () => {
    const alphabet = ['a', '/', '"', '\\', '\n', '\u0000', '\u001f', 'é', '🙂', ',', ':', '{', '}', ' ', '\u2028'];
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const keys = Array.from({ length: 500 }, () => Array.from({ length: 1 + random(8) }, () => alphabet[random(alphabet.length)]).join(''));
    const read = parseBatchLines(laidOut(keys.map((key, i) => json(key, i, '1'))))!;
    expect(read.entries.map((e) => e.key)).toEqual(keys);
    expect(read.entries.map((e) => e.rev)).toEqual(keys.map((_, i) => i));
  });

  it('reads a json entry whose members differ from the usual ones whole', () => {
    const odd = '{"key":"a","rev":1,"ts":"2026-12-04T18:00:00.123456Z","kind":"json","size":1,"value":7}';
    expect(parseBatchLines(laidOut([odd]))!.entries).toEqual([JSON.parse(odd)]);
  });
});

describe('batchRecords', () => {
  it('leaves values unparsed for a store that takes them so, parsing each once when read', () => {
    const calls: string[] = [];
    const parse = (text: string) => (calls.push(text), JSON.parse(text) as unknown);
    const { cursor, records } = batchRecords(laidOut(TRICKY), true, parse);
    expect(cursor).toBe(3);
    expect(calls).toEqual([]);
    const first = records[0] as LazyJsonRecord;
    expect(first).toBeInstanceOf(LazyJsonRecord);
    expect(first.text).toBe('{"s":"x,\\"kind\\":\\"json\\",\\"value\\":2","value":{"value":3}}');
    expect(first.value).toEqual({ s: 'x,"kind":"json","value":2', value: { value: 3 } });
    expect(first.value).toBe(first.value);
    expect(calls).toHaveLength(1);
    expect(first.text).toBeUndefined();
    expect(records.map((r) => r.kind)).toEqual(['json', 'json', 'deleted', 'bytes', 'json', 'json']);
  });

  it('fails a read of a value that does not parse, and a plain batch before it is applied', () => {
    const body = laidOut([json('a', 1, '{"x":'), json('b', 2, '2')]);
    const lazy = batchRecords(body, true, undefined).records;
    expect(() => lazy[0]!.kind === 'json' && lazy[0]!.value).toThrow(ProtocolError);
    expect(() => batchRecords(body, false, undefined)).toThrow(ProtocolError);
  });

  it('parses a body laid out otherwise whole, with the client parser', () => {
    const body = JSON.stringify({ cursor: 0, entries: [JSON.parse(json('a', 1, '"v"'))], next: null });
    const { records } = batchRecords(body, true, (text) => `parsed ${text}`);
    expect(records).toEqual([{ kind: 'json', key: 'a', rev: 1, ts: TS, value: 'parsed "v"' }]);
  });
});

describe('stores that take unparsed values', () => {
  it('MemoryStore hands out plain records: spread, cloned and forgotten revs keep the value', async () => {
    const store = new MemoryStore();
    const { records } = batchRecords(laidOut([json('a', 1, '{"n":1}')]), store.lazyValues, undefined);
    const changes = await store.applyBatch(records);
    expect(changes).toHaveLength(1);
    const got = await store.get('a');
    expect(got).not.toBeInstanceOf(LazyJsonRecord);
    expect({ ...got }).toEqual({ kind: 'json', key: 'a', rev: 1, ts: TS, value: { n: 1 } });
    expect(structuredClone(got)).toEqual({ kind: 'json', key: 'a', rev: 1, ts: TS, value: { n: 1 } });
    await store.forgetRevisions();
    expect(await store.get('a')).toEqual({ kind: 'json', key: 'a', rev: 0, ts: TS, value: { n: 1 } });
  });

  it('FileStore writes the text the server sent, and reads it with its parser', async () => {
    const dir = await tmp.make();
    const texts = ['{"id":12345678901234567890,"price":1.10,"2":"b","1":"a"}', '-0', '"\\u00e9"'];
    const store = await FileStore.open(dir);
    const { records } = batchRecords(laidOut(texts.map((t, i) => json(`k${i}`, i + 1, t))), store.lazyValues, () => {
      throw new Error('not parsed on the way in');
    });
    await store.applyBatch(records);
    await store.close();
    const exact = await FileStore.open(dir, { parseValue: (text) => text });
    try {
      for (const [i, text] of texts.entries()) expect(await exact.get(`k${i}`)).toMatchObject({ kind: 'json', value: text });
    } finally {
      await exact.close();
    }
  });
});
