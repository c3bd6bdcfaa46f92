/**
 * Browser signals that the network may be back or a connection may have died
 * while nobody watched: `online`, and a page shown again after being hidden
 * for a long time (browsers freeze or throttle hidden pages, and laptops
 * sleep, so a feed that looks open may be long dead). Outside browsers there
 * are no such events and this does nothing.
 */

export type WakeReason = 'online' | 'visible';

interface EventTargetLike {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
}

/**
 * Calls `wake` on `online`, and on `visibilitychange` to visible when the
 * page was hidden for at least `longHiddenMs()`.
 * @returns a function that removes the listeners
 * @example const stop = watchWakeups((why) => reconnect(why), () => 30_000);
 */
export function watchWakeups(wake: (reason: WakeReason) => void, longHiddenMs: () => number, now: () => number = Date.now): () => void {
  const win = globalThis as unknown as Partial<EventTargetLike>;
  const doc = (globalThis as { document?: EventTargetLike & { visibilityState?: string } }).document;
  if (typeof win.addEventListener !== 'function') return () => undefined;
  let hiddenSince: number | undefined = doc?.visibilityState === 'hidden' ? now() : undefined;
  const onOnline = () => wake('online');
  const onVisibility = () => {
    if (doc?.visibilityState === 'hidden') {
      hiddenSince ??= now();
      return;
    }
    const since = hiddenSince;
    hiddenSince = undefined;
    if (since !== undefined && now() - since >= longHiddenMs()) wake('visible');
  };
  win.addEventListener('online', onOnline);
  doc?.addEventListener('visibilitychange', onVisibility);
  return () => {
    win.removeEventListener?.('online', onOnline);
    doc?.removeEventListener('visibilitychange', onVisibility);
  };
}

/** The reason a woken connection is cut with; a reconnect follows at once. */
export class WokenError extends Error {
  override name = 'WokenError';
  constructor(readonly reason: WakeReason) {
    super(`reconnecting at once: ${reason === 'online' ? 'the browser is back online' : 'the page is visible again after a long time'}`);
  }
}
