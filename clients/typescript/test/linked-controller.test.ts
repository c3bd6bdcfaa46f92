import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { linkedController } from '../src/sync-context.js';

describe('linkedController', () => {
  it('aborts the children still linked when the parent aborts, with one listener on the parent however many there are', () => {
    const parent = new AbortController();
    // A session's fetches and acks in flight: a window of 16 batches and more.
    const children = Array.from({ length: 20 }, () => linkedController(parent.signal));
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(1);
    children[0]!.detach();
    children[1]!.abort('own reason');
    parent.abort('gone');
    expect(children[0]!.signal.aborted).toBe(false);
    expect(children[1]!.signal.reason).toBe('own reason');
    for (const child of children.slice(2)) expect(child.signal.reason).toBe('gone');
    // Linked after the parent aborted: aborted from the start.
    expect(linkedController(parent.signal).signal.reason).toBe('gone');
  });

  it('lets a child that finished go: it is no longer aborted with its parent', () => {
    const parent = new AbortController();
    const done = linkedController(parent.signal);
    done.detach();
    const running = linkedController(parent.signal);
    parent.abort();
    expect(done.signal.aborted).toBe(false);
    expect(running.signal.aborted).toBe(true);
  });

  it('leaves no listener on the parent once every child is unlinked, and links anew after', () => {
    const parent = new AbortController();
    const first = [linkedController(parent.signal), linkedController(parent.signal)];
    for (const child of first) child.detach();
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(0);
    const later = linkedController(parent.signal);
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(1);
    parent.abort();
    expect(later.signal.aborted).toBe(true);
  });
});
