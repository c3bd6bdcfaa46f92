/**
 * The console's live feed: a native EventSource, as any page could use it.
 * With a token it first mints a feed token (read-only, short-lived) and
 * passes it as `?access_token=`; when the browser gives up on the stream (a
 * 401 once the feed token expired and the connection dropped) it mints a new
 * one and opens again from the last id it saw.
 */
import type { ApiClient, Entry } from './types.js';

export interface FeedEvent {
  event: 'put' | 'delete';
  entry: Entry;
}

export interface FeedCallbacks {
  event(e: FeedEvent): void;
  state(text: string): void;
}

const EVENTS = ['put', 'delete'] as const;

export function followFeed(api: ApiClient, baseUrl: string, storeId: string, hasToken: boolean, cb: FeedCallbacks): () => void {
  let source: EventSource | undefined;
  let lastId: string | undefined;
  let stopped = false;
  let retry: ReturnType<typeof setTimeout> | undefined;

  const open = async () => {
    const url = new URL(`${baseUrl}/v1/stores/${encodeURIComponent(storeId)}/events`);
    if (lastId !== undefined) url.searchParams.set('since', lastId);
    if (hasToken) {
      const minted = await api.createFeedToken(storeId, { ttlSeconds: 600 });
      if (minted.error) {
        cb.state(`cannot mint a feed token: ${minted.error.status} ${minted.error.title}`);
        retry = setTimeout(() => void open(), 5000);
        return;
      }
      url.searchParams.set('access_token', minted.data.token);
    }
    if (stopped) return;
    cb.state('connecting');
    const es = (source = new EventSource(url));
    es.addEventListener('ready', () => cb.state('live'));
    for (const name of EVENTS) {
      es.addEventListener(name, (e) => {
        const msg = e as MessageEvent<string>;
        if (msg.lastEventId) lastId = msg.lastEventId;
        cb.event({ event: name, entry: JSON.parse(msg.data) as Entry });
      });
    }
    for (const name of ['reset', 'store-deleted', 'revoked']) {
      es.addEventListener(name, () => cb.state(`ended: ${name}`));
    }
    es.onerror = () => {
      if (es.readyState === EventSource.CONNECTING) return cb.state('reconnecting');
      // CLOSED: the browser will not retry (an HTTP error such as 401); mint again and reopen.
      cb.state('closed; reopening');
      es.close();
      if (!stopped) retry = setTimeout(() => void open(), 2000);
    };
  };
  void open();
  return () => {
    stopped = true;
    clearTimeout(retry);
    source?.close();
  };
}
