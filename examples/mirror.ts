import { MemoryStore, storeId, subscribe } from '@keysync/client';

const store = new MemoryStore(); // durable: FileStore.open(dir) from '@keysync/client/file-store'
const client = subscribe({
  baseUrl: process.env.KEYSYNC_URL ?? 'http://127.0.0.1:8787',
  token: process.env.KEYSYNC_TOKEN,
  storeId: storeId({ scope: 'a1b2c3d4-e5f6-7890-abcd-ef1234567890', backend: 'file', path: 'data/my-store' }),
  store,
  onComplete: async () => console.log('in sync:', Object.keys(await store.have()).length, 'keys'),
  onChange: (c) => console.log(c.op, c.key, 'rev', c.rev),
  onError: (e) => console.error(e),
});
client.on('settings', (c) => console.log('settings are now', c.value));
process.on('SIGINT', () => void client.unsubscribe());
