/**
 * `server.restart()` destroys the old server's connections, but on PGlite the
 * restart can finish without one turn of the event loop's I/O phase, so the
 * client's pool has not yet seen those sockets close and the next request
 * may go out on a dead keep-alive socket ("other side closed"). That is a
 * property of the test client, not of the server: let the pool settle.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestServer } from './server.js';

export async function restartSettled(server: TestServer): Promise<void> {
  await server.restart();
  await sleep(30);
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await server.fetch('/healthz');
      await res.arrayBuffer();
      if (res.ok) return;
    } catch (err) {
      if (attempt >= 5) throw err;
    }
  }
}
