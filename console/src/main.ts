/**
 * keysync console: stores, keys (prefix search, paging), values, open sync
 * sessions and the live feed of one store. Served by keysync at /console and
 * talking to the same origin through the typed client.
 */
import { createApiClient, type ApiClient } from '@keysync/client';
import { followFeed } from './feed.js';
import { hexDump, preview, prettyJson } from './format.js';
import type { KeyMeta, SessionStatus } from './types.js';

const PAGE = 50;
const FEED_ROWS = 500;
const SESSIONS_EVERY_MS = 1000;
const TOKEN_KEY = 'keysync-console-token';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const baseUrl = location.origin;

let token = sessionStorage.getItem(TOKEN_KEY) ?? '';
let api: ApiClient = createApiClient({ baseUrl, token: token || undefined });
let storeId: string | undefined;
let pageStarts: Array<string | undefined> = [undefined];
let nextAfter: string | null = null;
let stopFeed: (() => void) | undefined;
let sessionsTimer: ReturnType<typeof setInterval> | undefined;

function status(text: string): void {
  $('status').textContent = text;
}

function cell(row: HTMLTableRowElement, text: string): void {
  row.insertCell().textContent = text;
}

async function loadStores(): Promise<void> {
  const list = $('stores');
  list.replaceChildren();
  const res = await api.listStores({ limit: 200 });
  if (res.error) {
    $('stores-hint').textContent =
      res.error.status === 403 ? 'Listing stores needs the admin token: enter the store id of your read token.' : `${res.error.status} ${res.error.title}`;
    return;
  }
  $('stores-hint').textContent = res.data.items.length === 0 ? 'No stores yet.' : '';
  for (const store of res.data.items) {
    const li = document.createElement('li');
    li.textContent = store.storeId;
    li.title = JSON.stringify(store.config);
    li.dataset['storeId'] = store.storeId;
    li.onclick = () => void openStore(store.storeId);
    list.append(li);
  }
}

async function openStore(id: string): Promise<void> {
  storeId = id;
  $<HTMLInputElement>('store-id').value = id;
  for (const li of $('stores').querySelectorAll('li')) li.classList.toggle('selected', li.dataset['storeId'] === id);
  $('store-title').textContent = id;
  pageStarts = [undefined];
  await loadKeys();
  startFeed();
  startSessions();
}

async function loadKeys(): Promise<void> {
  if (!storeId) return;
  const prefix = $<HTMLInputElement>('prefix').value || undefined;
  const after = pageStarts.at(-1);
  const res = await api.listKeys(storeId, { prefix, after, limit: PAGE });
  const body = $<HTMLTableElement>('keys').tBodies[0]!;
  body.replaceChildren();
  if (res.error) {
    status(`keys: ${res.error.status} ${res.error.title}`);
    return;
  }
  status('');
  for (const meta of res.data.items) body.append(keyRow(meta));
  nextAfter = res.data.next;
  $<HTMLButtonElement>('next-page').disabled = nextAfter === null;
  $<HTMLButtonElement>('first-page').disabled = pageStarts.length === 1;
}

function keyRow(meta: KeyMeta): HTMLTableRowElement {
  const row = document.createElement('tr');
  if (meta.deleted) row.className = 'deleted';
  cell(row, meta.key);
  cell(row, String(meta.rev));
  cell(row, meta.ts);
  row.onclick = () => void showValue(meta.key);
  return row;
}

async function showValue(key: string): Promise<void> {
  if (!storeId) return;
  $('value-key').textContent = key;
  const res = await api.getKey(storeId, key);
  if (res.error) {
    $('value-meta').textContent = `${res.error.status} ${res.error.title}`;
    $('value').textContent = '';
    return;
  }
  const v = res.data;
  if (v.kind === 'not-modified') return;
  if (v.kind === 'json') {
    $('value-meta').textContent = `rev ${v.rev} · ${v.ts} · application/json`;
    $('value').textContent = prettyJson(v.value);
  } else {
    $('value-meta').textContent = `rev ${v.rev} · ${v.ts} · ${v.contentType} · ${v.bytes.length} bytes`;
    $('value').textContent = hexDump(v.bytes);
  }
}

function startFeed(): void {
  stopFeed?.();
  const body = $<HTMLTableElement>('feed').tBodies[0]!;
  body.replaceChildren();
  if (!storeId) return;
  stopFeed = followFeed(api, baseUrl, storeId, token !== '', {
    state: (text) => {
      $('feed-state').textContent = text;
    },
    event: ({ event, entry }) => {
      const row = document.createElement('tr');
      row.className = 'fresh';
      row.dataset['key'] = entry.key;
      row.dataset['rev'] = String(entry.rev);
      cell(row, String(entry.rev));
      cell(row, event);
      cell(row, entry.key);
      cell(row, entry.ts);
      cell(row, preview(entry));
      row.onclick = () => void showValue(entry.key);
      body.prepend(row);
      while (body.rows.length > FEED_ROWS) body.deleteRow(-1);
    },
  });
}

function startSessions(): void {
  clearInterval(sessionsTimer);
  const pane = $('sessions');
  const poll = async () => {
    if (!storeId) return;
    const res = await api.listSessions(storeId);
    if (res.error) {
      pane.textContent = res.error.status === 403 ? 'Sessions are shown to the admin token only.' : `${res.error.status} ${res.error.title}`;
      clearInterval(sessionsTimer);
      return;
    }
    pane.replaceChildren(...(res.data.items.length === 0 ? [text('No sync in progress.')] : res.data.items.map(sessionView)));
  };
  void poll();
  sessionsTimer = setInterval(() => void poll(), SESSIONS_EVERY_MS);
}

function text(s: string): HTMLElement {
  const p = document.createElement('p');
  p.className = 'hint';
  p.textContent = s;
  return p;
}

function sessionView(s: SessionStatus): HTMLElement {
  const div = document.createElement('div');
  div.className = 'session';
  const acked = s.acked + 1;
  const label = document.createElement('div');
  label.textContent = `${s.sessionId.slice(0, 8)}… · ${acked}/${s.batches} batches acked · ${s.total - s.remaining}/${s.total} keys · head ${s.headRev}`;
  const bar = document.createElement('progress');
  bar.max = s.batches;
  bar.value = acked;
  div.append(label, bar);
  return div;
}

$('auth').onsubmit = (e) => {
  e.preventDefault();
  token = $<HTMLInputElement>('token').value.trim();
  sessionStorage.setItem(TOKEN_KEY, token);
  api = createApiClient({ baseUrl, token: token || undefined });
  void loadStores();
  if (storeId) void openStore(storeId);
};
$('store-form').onsubmit = (e) => {
  e.preventDefault();
  const id = $<HTMLInputElement>('store-id').value.trim();
  if (id) void openStore(id);
};
$('key-search').onsubmit = (e) => {
  e.preventDefault();
  pageStarts = [undefined];
  void loadKeys();
};
$('next-page').onclick = () => {
  if (nextAfter === null) return;
  pageStarts.push(nextAfter);
  void loadKeys();
};
$('first-page').onclick = () => {
  pageStarts = [undefined];
  void loadKeys();
};

$<HTMLInputElement>('token').value = token;
const fromHash = new URLSearchParams(location.hash.slice(1)).get('store');
void loadStores().then(() => (fromHash ? openStore(fromHash) : undefined));
