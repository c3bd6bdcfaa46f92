/**
 * An offline-first page: the store is replicated into IndexedDB, the table is
 * drawn from IndexedDB first (so it shows at once, even offline, after a
 * reload), then kept live. One tab syncs (Web Locks); the others redraw from
 * the commits it announces.
 *
 * Configure with the query string: ?server=http://127.0.0.1:8787&store=<id>[&token=<read token>]
 * (the server must allow this page's origin in KEYSYNC_CORS_ORIGINS).
 */
import { IndexedDBStore, subscribeInOneTab, type LocalRecord, type SyncState } from '@keysync/client';

const params = new URLSearchParams(location.search);
const server = params.get('server') ?? 'http://127.0.0.1:8787';
const storeId = params.get('store') ?? '';
const token = params.get('token') ?? undefined;

const $ = (id: string) => document.getElementById(id)!;
const rows = $('rows') as HTMLTableSectionElement;

function show(record: LocalRecord): void {
  let row = rows.querySelector<HTMLTableRowElement>(`tr[data-key="${CSS.escape(record.key)}"]`);
  if (record.kind === 'deleted') {
    row?.remove();
    return;
  }
  if (!row) {
    row = document.createElement('tr');
    row.dataset['key'] = record.key;
    row.append(document.createElement('td'), document.createElement('td'), document.createElement('td'));
    row.cells[2]!.className = 'value';
    row.cells[0]!.textContent = record.key;
    // Keep rows in key order.
    const after = [...rows.rows].find((r) => (r.dataset['key'] ?? '') > record.key);
    rows.insertBefore(row, after ?? null);
  }
  row.dataset['rev'] = String(record.rev);
  row.cells[1]!.textContent = String(record.rev);
  row.cells[2]!.textContent = record.kind === 'json' ? JSON.stringify(record.value) : `${record.bytes.length} bytes of ${record.contentType}`;
}

async function summarize(store: IndexedDBStore): Promise<void> {
  const checkpoint = await store.getCheckpoint();
  $('summary').textContent = `${rows.rows.length} keys · checkpoint ${checkpoint ?? 'none'}`;
}

function setState(state: SyncState | 'waiting'): void {
  const pill = $('state');
  pill.textContent = state;
  pill.dataset['state'] = state;
}

async function main(): Promise<void> {
  if (!storeId) throw new Error('add ?store=<store id>&server=<url> to the address');
  const store = await IndexedDBStore.open(`keysync:${server}:${storeId}`);
  // Draw what IndexedDB holds before touching the network: this is the offline view.
  for (const key of Object.keys(await store.have()).sort()) {
    const record = await store.get(key);
    if (record) show(record);
  }
  await summarize(store);
  store.onChange((records) => {
    for (const r of records) show(r);
    void summarize(store);
  });

  setState('waiting');
  $('role').textContent = 'follower (another tab syncs)';
  subscribeInOneTab({
    baseUrl: server,
    token,
    storeId,
    store,
    lockName: store.name,
    onLeader: () => {
      $('role').textContent = 'leader (this tab syncs)';
    },
    onStateChange: (state) => setState(state),
    onError: (error) => {
      $('error').textContent = error.message;
    },
    onComplete: () => {
      $('error').textContent = '';
    },
  });
}

main().catch((error: unknown) => {
  $('error').textContent = error instanceof Error ? error.message : String(error);
});
