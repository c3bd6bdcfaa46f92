/**
 * A real keysync server on a loopback port for tests: real HTTP, real SSE,
 * on the file's test database. `restart()` stops the HTTP server and starts
 * a new one on the same database (as a process restart would).
 */
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { createKeysync, type Keysync, type KeysyncOptions } from '../../src/keysync.js';
import type { TestDatabase } from './db.js';

export interface TestServer {
  url: string;
  keysync: Keysync;
  /** fetch relative to the server */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

export const TEST_LIMITS = { heartbeatMs: 500, batchTimeoutMs: 30_000 };

export async function startServer(db: TestDatabase, options: KeysyncOptions = {}): Promise<TestServer> {
  const make = async () => {
    const keysync = await createKeysync({
      database: db.database,
      log: false,
      housekeepingMs: 0,
      ...options,
      limits: { ...TEST_LIMITS, ...options.limits },
    });
    const server = await listen(keysync, port);
    return { keysync, server };
  };
  let port = 0;
  let current = await make();
  port = (current.server.address() as AddressInfo).port;
  const self: TestServer = {
    url: `http://127.0.0.1:${port}`,
    get keysync() {
      return current.keysync;
    },
    fetch: (path, init) => fetch(self.url + path, init),
    async restart() {
      await stop(current);
      current = await make();
    },
    close: () => stop(current),
  };
  return self;
}

function listen(keysync: Keysync, port: number): Promise<ServerType> {
  return new Promise((resolve) => {
    const server = serve({ fetch: keysync.app.fetch, port, hostname: '127.0.0.1' }, () => resolve(server));
  });
}

async function stop({ keysync, server }: { keysync: Keysync; server: ServerType }): Promise<void> {
  await keysync.close({ closeDatabase: false });
  if ('closeAllConnections' in server) server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
