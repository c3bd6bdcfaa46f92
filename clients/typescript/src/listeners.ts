/**
 * Change listeners: one global `onChange` plus per-key callbacks. A throwing
 * listener must not stop replication or starve the other listeners, so each
 * call is isolated and its error reported as a CallbackError.
 */
import { CallbackError } from './errors.js';
import type { LocalRecord } from './local-store.js';
import { toChange, type Change } from './records.js';

export type ChangeListener = (change: Change) => void;

export class Listeners {
  readonly #byKey = new Map<string, Set<ChangeListener>>();

  constructor(
    readonly onChange: ChangeListener | undefined,
    readonly onCallbackError: (error: CallbackError) => void,
  ) {}

  /** Adds a per-key listener; returns the function that removes it. */
  on(key: string, listener: ChangeListener): () => void {
    let set = this.#byKey.get(key);
    if (!set) this.#byKey.set(key, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.#byKey.get(key) === set) this.#byKey.delete(key);
    };
  }

  /** Emits the records a store reported as applied, in the order given. */
  emit(records: readonly LocalRecord[]): void {
    // A replica read only through its store has no listeners: a change object
    // per record (100,000 of them in an initial sync) would be garbage at once.
    if (!this.onChange && this.#byKey.size === 0) return;
    for (const record of records) {
      if (!this.onChange && !this.#byKey.has(record.key)) continue;
      const change = toChange(record);
      if (this.onChange) this.call('onChange', this.onChange, change);
      const set = this.#byKey.get(record.key);
      // Copy: a listener may unsubscribe itself while we iterate.
      if (set) for (const listener of [...set]) this.call(`on("${record.key}")`, listener, change);
    }
  }

  call<A extends unknown[]>(name: string, fn: (...args: A) => void, ...args: A): void {
    try {
      fn(...args);
    } catch (error) {
      this.onCallbackError(new CallbackError(name, error));
    }
  }
}
