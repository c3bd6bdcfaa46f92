/**
 * watchWakeups: `online` always wakes; a page shown again wakes only after
 * being hidden for at least the given time. The browser globals are played
 * by EventTargets here; test/browser/replica.test.ts uses the real ones.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { watchWakeups, type WakeReason } from '../src/wake.js';

const g = globalThis as Record<string, unknown>;

function fakeBrowser() {
  const win = new EventTarget();
  const doc = Object.assign(new EventTarget(), { visibilityState: 'visible' });
  g['addEventListener'] = win.addEventListener.bind(win);
  g['removeEventListener'] = win.removeEventListener.bind(win);
  g['document'] = doc;
  return {
    online: () => win.dispatchEvent(new Event('online')),
    visibility: (state: 'visible' | 'hidden') => {
      doc.visibilityState = state;
      doc.dispatchEvent(new Event('visibilitychange'));
    },
  };
}

afterEach(() => {
  delete g['addEventListener'];
  delete g['removeEventListener'];
  delete g['document'];
});

describe('watchWakeups', () => {
  it('wakes on online, and on visible after a long hidden time only; stops when removed', () => {
    const browser = fakeBrowser();
    let now = 0;
    const woken: WakeReason[] = [];
    const stop = watchWakeups(
      (why) => woken.push(why),
      () => 30_000,
      () => now,
    );
    browser.online();
    browser.visibility('hidden');
    now += 5_000;
    browser.visibility('visible'); // short: a tab switch
    browser.visibility('hidden');
    now += 30_000;
    browser.visibility('visible'); // long: the connection may be long dead
    expect(woken).toEqual(['online', 'visible']);
    stop();
    browser.online();
    expect(woken).toHaveLength(2);
  });

  it('does nothing outside browsers', () => {
    const woken: WakeReason[] = [];
    const stop = watchWakeups(
      (why) => woken.push(why),
      () => 1,
    );
    stop();
    expect(woken).toEqual([]);
  });
});
