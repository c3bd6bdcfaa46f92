/**
 * The TS client keeps exactness available: with a `parseValue` option, every
 * JSON value it receives (batches, live events, getKey) reaches that
 * function as the exact text the server stores; by default it parses as
 * JSON.parse would.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isLosslessNumber, parse as losslessParse, stringify as losslessStringify } from 'lossless-json';
import { describe, expect, it } from 'vitest';
import { createApiClient } from '../../clients/typescript/src/api.js';
import { FileStore } from '../../clients/typescript/src/stores/file.js';
import { MemoryStore } from '../../clients/typescript/src/stores/memory.js';
import { call, keyPath, newStore } from '../support/http.js';
import { useTestServer } from '../support/server.js';
import { eventually, start, traffic } from './support.js';

const env = useTestServer();

const BIG = '12345678901234567890';
/** Values JSON.parse would change, as the client writes them (whitespace included). */
const TEXTS: Record<string, string> = {
  id: BIG,
  order: `{ "id" : ${BIG}, "2": "b", "1": "a", "price": 1.10, "zero": -0 }`,
  list: `[ ${BIG}, 1E+400, 0.1000000000000000055511151231257827 ]`,
};
/** The texts above hold no whitespace inside strings. */
const minified = (text: string) => text.replace(/\s+/g, '');

async function putText(storeId: string, key: string, text: string): Promise<void> {
  const res = await call(env.server, keyPath(storeId, key), { method: 'PUT', headers: { 'content-type': 'application/json' }, body: text });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

describe('parseValue', () => {
  // One batch comes inside the handshake (inline); batches of one key are fetched.
  it.each([
    ['an inline batch', undefined],
    ['fetched batches', 1],
  ])('receives each value as written, through %s and live events (raw text in, raw text held)', async (_, batchSize) => {
    const storeId = await newStore(env.server);
    for (const [key, text] of Object.entries(TEXTS)) await putText(storeId, key, text);
    const seen: string[] = [];
    const store = new MemoryStore();
    const t = traffic();
    const run = start(env.server, { storeId, store, batchSize, fetch: t.fetch, parseValue: (text) => (seen.push(text), text) });
    await run.completed;
    for (const [key, text] of Object.entries(TEXTS)) expect(await store.get(key)).toMatchObject({ kind: 'json', value: minified(text) });

    // Live events: written after the client went live.
    await eventually(() => expect(run.client.state).toBe('live'));
    await putText(storeId, 'live', `{"n": ${BIG}, "2": 0, "1": 0}`);
    await eventually(async () => expect(await store.get('live')).toMatchObject({ value: `{"n":${BIG},"2":0,"1":0}` }));
    run.client.unsubscribe();
    expect(seen).toEqual([...Object.values(TEXTS).map(minified), `{"n":${BIG},"2":0,"1":0}`]);
    expect(t.answers.filter((a) => a.path.includes('/batches/')).length).toBe(batchSize ? Object.keys(TEXTS).length : 0);
  });

  it('keeps int64 values exact with a lossless JSON parser (docs/client.md)', async () => {
    const storeId = await newStore(env.server);
    await putText(storeId, 'user', `{"id": ${BIG}, "name": "Ada"}`);
    const store = new MemoryStore();
    const run = start(env.server, { storeId, store, parseValue: (text) => losslessParse(text) });
    await run.completed;
    const batchValue = (await store.get('user')) as { value: { id: unknown } };
    expect(isLosslessNumber(batchValue.value.id)).toBe(true);
    expect(String(batchValue.value.id)).toBe(BIG);
    expect(losslessStringify(batchValue.value)).toBe(`{"id":${BIG},"name":"Ada"}`);

    await eventually(() => expect(run.client.state).toBe('live'));
    await putText(storeId, 'user', `{"id": -98765432109876543210}`);
    await eventually(async () => expect(String(((await store.get('user')) as { value: { id: unknown } }).value.id)).toBe('-98765432109876543210'));
    run.client.unsubscribe();
  });

  it('a FileStore replica keeps each value as the server sent it, from batches and live events', async () => {
    const storeId = await newStore(env.server);
    for (const [key, text] of Object.entries(TEXTS)) await putText(storeId, key, text);
    const dir = await mkdtemp(join(tmpdir(), 'keysync-exact-'));
    try {
      // What the client's parser makes of a value is not what the store writes (it writes the value's text) ...
      const store = await FileStore.open(dir);
      const run = start(env.server, { storeId, store, parseValue: (text) => `client:${text}` });
      await run.completed;
      await eventually(() => expect(run.client.state).toBe('live'));
      await putText(storeId, 'live', `{"n": ${BIG}, "2": 0, "1": 0}`);
      await eventually(() => expect(run.changes.map((c) => c.value)).toContain(`client:{"n":${BIG},"2":0,"1":0}`));
      await run.client.unsubscribe();
      await store.close();
      // ... and a store opened with a parser of its own reads them back exact.
      const exact = await FileStore.open(dir, { parseValue: (text) => `raw:${text}` });
      for (const [key, text] of Object.entries(TEXTS)) expect(await exact.get(key)).toMatchObject({ kind: 'json', value: `raw:${minified(text)}` });
      expect(await exact.get('live')).toMatchObject({ value: `raw:{"n":${BIG},"2":0,"1":0}` });
      await exact.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('applies to getKey and to batches fetched through the API client', async () => {
    const storeId = await newStore(env.server);
    await putText(storeId, 'order', TEXTS.order!);
    const exact = createApiClient({ baseUrl: env.server.url, parseValue: (text) => `raw:${text}` });
    const got = await exact.getKey(storeId, 'order');
    expect(got.data).toMatchObject({ kind: 'json', value: `raw:${minified(TEXTS.order!)}` });

    const hs = await exact.handshake(storeId, { have: {} });
    const batch = await exact.batch(storeId, hs.data!.sessionId, 0);
    expect(batch.data!.entries).toEqual([expect.objectContaining({ key: 'order', value: `raw:${minified(TEXTS.order!)}` })]);
    const inline = await exact.handshake(storeId, { have: {}, inline: true });
    expect(inline.data!.batch!.entries).toEqual(batch.data!.entries);
  });

  it('putJsonText stores a value given as text exactly (a lossless round trip)', async () => {
    const storeId = await newStore(env.server);
    const api = createApiClient({ baseUrl: env.server.url, parseValue: (text) => losslessParse(text) });
    const user = losslessParse(`{"id": ${BIG}, "score": 1.10}`);
    expect((await api.putJsonText(storeId, 'users/1', losslessStringify(user)!)).data).toMatchObject({ key: 'users/1', rev: 1 });
    expect(await (await env.server.fetch(keyPath(storeId, 'users/1'))).text()).toBe(`{"id":${BIG},"score":1.10}`);
    const got = await api.getKey(storeId, 'users/1');
    expect(losslessStringify((got.data as { value: unknown }).value)).toBe(`{"id":${BIG},"score":1.10}`);
  });

  it('defaults to JSON.parse', async () => {
    const storeId = await newStore(env.server);
    await putText(storeId, 'order', TEXTS.order!);
    const plain = createApiClient({ baseUrl: env.server.url });
    expect((await plain.getKey(storeId, 'order')).data).toMatchObject({ value: JSON.parse(TEXTS.order!) });
    const store = new MemoryStore();
    const run = start(env.server, { storeId, store });
    await run.completed;
    expect((await store.get('order')) as { value: unknown }).toMatchObject({ value: JSON.parse(TEXTS.order!) });
    run.client.unsubscribe();
  });
});
