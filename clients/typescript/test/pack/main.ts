/**
 * The packed @keysync/client as a user installs it (.ci/newcomer.sh copies
 * this file into a new project outside the repository, type-checks it under
 * several moduleResolution settings and runs it against a live server):
 * register a store, write JSON and bytes, replicate into a FileStore, see a
 * live change arrive, stop, and exit on its own.
 *
 *   KEYSYNC_URL=http://127.0.0.1:8787 node main.js <state-dir>
 */
import { writeFileSync } from 'node:fs';
import { createApiClient, KeysyncError, MemoryStore, storeId, subscribe, type Change, type LocalStore } from '@keysync/client';
import { FileStore } from '@keysync/client/file-store';
import { EVENTS } from '@keysync/client/protocol';

const baseUrl = process.env['KEYSYNC_URL'] ?? 'http://127.0.0.1:8787';
const stateDir = process.argv[2] ?? './replica-state';
const config = { scope: 'a1b2c3d4-e5f6-7890-abcd-ef1234567890', name: 'pack-smoke' };
const id = storeId(config);

function fail(message: string): never {
  console.error(`pack smoke test: ${message}`);
  process.exit(1);
}

const api = createApiClient({ baseUrl });
const registered = await api.registerStore({ config });
if (registered.error) fail(`register: ${registered.error.status} ${registered.error.title}`);
if (registered.data.storeId !== id) fail(`storeId(config) ${id} differs from the server's ${registered.data.storeId}`);
const put = await api.putKey(id, 'greeting', { hello: 'world' });
if (put.error) fail(`put: ${put.error.title}`);
const bytes = await api.putBytes(id, 'blob', new Uint8Array([0, 1, 2, 255]), 'application/octet-stream');
if (bytes.error) fail(`putBytes: ${bytes.error.title}`);

const store: LocalStore = await FileStore.open(stateDir);
const changes: Change[] = [];
let wentLive!: () => void;
const live = new Promise<void>((resolve) => (wentLive = resolve));
const client = subscribe({
  baseUrl,
  storeId: id,
  store,
  onChange: (c) => changes.push(c),
  onStateChange: (state) => state === 'live' && wentLive(),
  onError: (e) => fail(`${e instanceof KeysyncError ? e.name : 'error'}: ${e.message}`),
});
await live;
const seen = new Promise<Change>((resolve) => client.on('later', resolve));
await api.putKey(id, 'later', [1, 2, 3]);
const change = await seen;
if (JSON.stringify(change.value) !== '[1,2,3]') fail(`live change: ${JSON.stringify(change)}`);
const blob = changes.find((c) => c.key === 'blob');
if (!blob || blob.op !== 'put' || !blob.bytes || Array.from(blob.bytes).join() !== '0,1,2,255') fail('bytes did not arrive intact');
await client.unsubscribe();
await store.close();
if (new MemoryStore() === undefined || EVENTS === undefined) fail('exports missing');
writeFileSync(`${stateDir}.store-id`, id);
console.log(`pack smoke test: ${changes.length} changes replicated, live feed ok (store ${id})`);
