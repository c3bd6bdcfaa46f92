/**
 * What a client wrote is what every reader gets: a JSON value's text, less
 * the whitespace between its tokens, byte for byte, written by PUT or in a
 * bulk `writes`, read by GET, in a sync batch, as a live event and from the
 * backlog of a feed opened later. Runs on PGlite and on PostgreSQL.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, keyPath, newStore } from '../support/http.js';
import { expectProblem } from '../support/problem.js';
import { openFeed, type Feed } from '../support/sse.js';
import { useTestServer } from '../support/server.js';
import { jsonText } from './json-texts.js';
import { JsonTextEntry, parseBatchLines } from '../../clients/typescript/src/wire.js';

const MAX_DEPTH = 40;
const env = useTestServer({ limits: { maxJsonDepth: MAX_DEPTH } });
let storeId: string;
let live: Feed;

beforeAll(async () => {
  storeId = await newStore(env.server);
  live = await openFeed(env.server, storeId, '?since=0');
});
afterAll(() => live?.close());

interface Written {
  key: string;
  rev: number;
  ts: string;
  min: string;
}

/** The entry text batches and events must carry (API.md: `{key, rev, ts, kind, value}`), the value spliced in as stored. */
const entryText = (w: Written) => `{"key":${JSON.stringify(w.key)},"rev":${w.rev},"ts":"${w.ts}","kind":"json","value":${w.min}}`;

const put = (key: string, body: string | Uint8Array<ArrayBuffer>) =>
  call(env.server, keyPath(storeId, key), { method: 'PUT', headers: { 'content-type': 'application/json' }, body });
const writes = (body: string | Uint8Array<ArrayBuffer>) =>
  call(env.server, `/v1/stores/${storeId}/writes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
const headRev = async () => (await call(env.server, `/v1/stores/${storeId}`)).body.headRev as number;

/** Reads every written key back through every read route and compares the value texts byte for byte. */
async function expectReadBack(written: Written[], since: number): Promise<void> {
  for (const w of written) {
    const res = await env.server.fetch(keyPath(storeId, w.key));
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.text(), w.key).toBe(w.min);
  }

  const prefix = written[0]!.key.split('/')[0]!;
  const list = await call(env.server, `/v1/stores/${storeId}/keys?prefix=${encodeURIComponent(prefix + '/')}&limit=1000`);
  expect(list.body.items).toEqual(written.map(({ key, rev, ts }) => ({ key, rev, ts })).sort((a, b) => (a.key < b.key ? -1 : 1)));

  const hs = await call(env.server, `/v1/stores/${storeId}/sync`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ since }),
  });
  expect(hs.status, JSON.stringify(hs.body)).toBe(201);
  let batches = '';
  const valueTexts = new Map<string, string>();
  for (let cursor = 0; cursor < hs.body.batches; cursor++) {
    const body = await (await env.server.fetch(`/v1/stores/${storeId}/sync/${hs.body.sessionId}/batches/${cursor}`)).text();
    for (const e of expectLaidOut(body).entries) if (e instanceof JsonTextEntry) valueTexts.set(e.key, e.text);
    batches += body;
    await call(env.server, `/v1/stores/${storeId}/sync/${hs.body.sessionId}/ack`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ cursor }),
    });
  }
  for (const w of written) expect(batches, w.key).toContain(entryText(w));
  for (const w of written) expect(valueTexts.get(w.key), w.key).toBe(w.min);

  const last = Math.max(...written.map((w) => w.rev));
  const dataOf = (feed: Feed) => new Map(feed.frames.filter((f) => f.event === 'put').map((f) => [f.id, f.data]));
  await live.waitFor((f) => f.frames.some((fr) => fr.id === String(last)), 20_000);
  const backlog = await openFeed(env.server, storeId, `?since=${since}`);
  try {
    await backlog.waitFor((f) => f.frames.some((fr) => fr.event === 'ready'), 20_000);
    for (const feed of [live, backlog]) {
      const data = dataOf(feed);
      for (const w of written) expect(data.get(String(w.rev)), w.key).toBe(entryText(w));
    }
  } finally {
    backlog.close();
  }
}

/**
 * A batch is laid out a line per entry (API.md, "Batches"): the envelope's
 * head and tail on lines of their own, each entry on one line, each json
 * entry's value its last member. The TS client's line reader takes it
 * (parseBatchLines) and finds what the whole body parses to.
 */
function expectLaidOut(body: string) {
  const lines = body.split('\n');
  expect(lines[0]).toMatch(/^\{"cursor":\d+,"entries":\[$/);
  expect(lines.at(-1)).toMatch(/^\],"next":(\d+|null)\}$/);
  const whole = JSON.parse(body) as { entries: Array<Record<string, unknown>> };
  expect(lines.length).toBe(whole.entries.length + 2);
  whole.entries.forEach((entry, i) => {
    const line = lines[i + 1]!;
    expect(JSON.parse(line.endsWith(',') ? line.slice(0, -1) : line)).toEqual(entry);
    if (entry['kind'] === 'json') expect(Object.keys(entry).at(-1)).toBe('value');
  });
  const read = parseBatchLines(body);
  expect(read, body.slice(0, 200)).toBeDefined();
  expect(read!.entries.map((e) => e.key)).toEqual(whole.entries.map((e) => e['key']));
  return read!;
}

let run = 0;

describe('JSON values come back exactly as written', () => {
  it('through PUT and bulk writes, read by GET, listing, batches, live events and the backlog', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(jsonText(MAX_DEPTH), { minLength: 1, maxLength: 4 }), async (texts) => {
        const since = await headRev();
        const prefix = `r${++run}`;
        const written: Written[] = [];
        for (const [i, t] of texts.entries()) {
          const res = await put(`${prefix}/put/${i}`, t.spaced);
          expect(res.status, `${t.spaced} -> ${JSON.stringify(res.body)}`).toBe(200);
          written.push({ ...res.body, min: t.min });
        }
        const ops = texts.map((t, i) => `{ "op" : "put" ,"key":"${prefix}/bulk/${i}", "value" :${t.spaced}}`);
        const res = await writes(`{"ops":[\n${ops.join(',\n')}\n]}`);
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        res.body.results.forEach((r: Written, i: number) => written.push({ ...r, min: texts[i]!.min }));
        await expectReadBack(written, since);
      }),
      { numRuns: 25, endOnFailure: true },
    );
  });

  it('keeps the values JavaScript numbers and objects would change', async () => {
    const since = await headRev();
    const cases = [
      '12345678901234567890',
      '-98765432109876543210',
      '1.10',
      '-0',
      '1E+2',
      '1e-400',
      '1E+400',
      '{"2":"b","1":"a","x":0,"0":[1.0,2.50]}',
      '"\\u00e9\\/\\ud83d\\ude00"',
      '"\\u0000"',
      '[0.1000000000000000055511151231257827]',
    ];
    const written: Written[] = [];
    for (const [i, text] of cases.entries()) {
      const res = await put(`exact/put/${i}`, `  ${text}\n`);
      expect(res.status, text).toBe(200);
      written.push({ ...res.body, min: text });
    }
    const res = await writes(
      JSON.stringify({ ops: [] }).replace('[]', `[${cases.map((v, i) => `{"op":"put","key":"exact/bulk/${i}","value":${v}}`).join(',')}]`),
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    res.body.results.forEach((r: Written, i: number) => written.push({ ...r, min: cases[i]! }));
    await expectReadBack(written, since);
  });

  it('accepts a value nested exactly to the limit on both write routes', async () => {
    const since = await headRev();
    const deep = '['.repeat(MAX_DEPTH) + '1' + ']'.repeat(MAX_DEPTH);
    const a = await put('deep/put', deep);
    expect(a.status, JSON.stringify(a.body)).toBe(200);
    const b = await writes(`{"ops":[{"op":"put","key":"deep/bulk","value":${deep}}]}`);
    expect(b.status, JSON.stringify(b.body)).toBe(200);
    await expectReadBack(
      [
        { ...a.body, min: deep },
        { ...b.body.results[0], min: deep },
      ],
      since,
    );
  });
});

describe('values that cannot be kept exactly are refused, never altered', () => {
  it('refuses a value naming an object member twice (400 validation), on PUT and in a bulk', async () => {
    const before = await headRev();
    for (const value of ['{"a":1,"a":2}', '{"a":1,"\\u0061":1}', '[{"x":{"k":0,"k":0}}]']) {
      expectProblem(await put('dup', value), 400, 'validation');
      expectProblem(await writes(`{"ops":[{"op":"put","key":"dup","value":${value}}]}`), 400, 'validation');
    }
    expect(await headRev()).toBe(before);
  });

  it('refuses a body that is not UTF-8 (400 bad-request) instead of storing replacement characters', async () => {
    const before = await headRev();
    const bad = (prefix: string, suffix: string) => new Uint8Array([...Buffer.from(prefix), 0xff, 0xfe, ...Buffer.from(suffix)]);
    for (const res of [await put('utf8', bad('"', '"')), await writes(bad('{"ops":[{"op":"put","key":"utf8","value":"', '"}]}'))]) {
      const body = expectProblem(res, 400, 'bad-request');
      expect(body.detail).toMatch(/UTF-8/);
    }
    expect(await headRev()).toBe(before);
  });
});
