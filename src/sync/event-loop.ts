/**
 * Long loops on the event loop give other requests a turn every few
 * milliseconds: a handshake over a million keys must not hold up a
 * /healthz probe or a live feed for the whole loop.
 */

/** How long a loop may run before it yields. */
const TURN_MS = 4;

/** Call `due()` in a loop (cheap most of the time); await `yield()` when it says so. */
export class Turns {
  #started = performance.now();
  #calls = 0;

  /** True when the current turn has run long enough (checks the clock every 256 calls). */
  due(): boolean {
    return (++this.#calls & 255) === 0 && performance.now() - this.#started > TURN_MS;
  }

  /** Lets the event loop run whatever is waiting (I/O included), then starts a new turn. */
  async yield(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    this.#started = performance.now();
  }
}

/**
 * A turn of the event loop before a statement: started from a setImmediate
 * callback, statements are always separated by a poll for I/O (a PGlite
 * statement runs within the call, on this thread).
 */
export const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
