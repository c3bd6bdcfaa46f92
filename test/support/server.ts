/**
 * A real keysync server on a loopback port for tests: real HTTP, real SSE,
 * on the file's test database. `restart()` stops the HTTP server and starts
 * a new one on the same database (as a process restart would).
 */
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { afterAll, beforeAll } from 'vitest';
import { createKeysync, type Keysync, type KeysyncOptions } from '../../src/keysync.js';
import { createTestDatabase, type TestDatabase } from './db.js';

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

/**
 * Registers beforeAll/afterAll that give this test file its own database and
 * server (started with `options`). Read `server` and `db` from the result in
 * hooks and tests; they are there once beforeAll has run.
 */
export function useTestServer(options?: KeysyncOptions): { readonly server: TestServer; readonly db: TestDatabase } {
  let db: TestDatabase | undefined;
  let server: TestServer | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
    server = await startServer(db, options);
  });
  afterAll(async () => {
    await server?.close();
    await db?.drop();
  });
  return {
    get server() {
      if (!server) throw new Error('useTestServer: no server before beforeAll has run');
      return server;
    },
    get db() {
      if (!db) throw new Error('useTestServer: no database before beforeAll has run');
      return db;
    },
  };
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
