/**
 * Pages for the browser tests: bundled with esbuild and served from their
 * own origin (http://localhost:<port>), so every call to keysync
 * (http://127.0.0.1:<port>) is cross-origin and goes through CORS as in
 * production.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const shim = fileURLToPath(new URL('../pages/vitest-shim.ts', import.meta.url));

/** One ES module bundle of `entry` (a path), minified, for browsers. */
export async function bundle(entry: string, minify = true): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify,
    write: false,
    conditions: ['keysync-source'],
    // Shared test modules import describe/it/expect from vitest; in a page they get the shim.
    alias: { vitest: shim },
    logLevel: 'warning',
  });
  return result.outputFiles[0]!.text;
}

export interface PageServer {
  /** http://localhost:<port> */
  origin: string;
  /** Adds or replaces a file. */
  set(path: string, type: string, body: string): void;
  close(): Promise<void>;
}

export async function servePages(): Promise<PageServer> {
  const files = new Map<string, { type: string; body: string }>();
  const server: Server = createServer((req, res) => {
    const file = files.get(new URL(req.url ?? '/', 'http://x').pathname);
    if (!file) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-store' }).end(file.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    origin: `http://localhost:${port}`,
    set: (path, type, body) => void files.set(path, { type, body }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export const HTML = 'text/html; charset=utf-8';
export const JS = 'text/javascript';
