/**
 * The browser bundle of @keysync/client: everything the root entry exports,
 * bundled and minified by esbuild, must stay within its gzip budget and
 * contain no Node built-ins (it needs no polyfills).
 */
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { bundle } from './support/pages.js';

/**
 * min+gzip bytes of the whole root entry (IndexedDBStore, tab lock and
 * wake-ups included). 18 KiB until batches were read a line per entry with
 * their values parsed on first read (about 0.5 KB: the line reader and the
 * lazy record), which cut the client's CPU for an initial sync by a third.
 * 19 KiB until the digest handshake (about 1.9 KB: PostgreSQL's hash, the
 * folding, the digests call, and the server's RFC 3339 parser, shared so
 * that both sides read a ts as the same instant), which cuts a reconnect
 * without checkpoint from a `have` map of every key to a few bytes per
 * bucket. 21 KiB until the inline batch (about 0.4 KB: the handshake read
 * as text and cut before its batch), which makes a reconnect of up to a
 * batch of changes one round trip instead of three.
 */
export const BUNDLE_BUDGET_BYTES = 22 * 1024;

describe('@keysync/client browser bundle', () => {
  it(`stays within ${BUNDLE_BUDGET_BYTES / 1024} KiB min+gzip and imports nothing from Node`, async () => {
    const js = await bundle(fileURLToPath(new URL('../../clients/typescript/src/index.ts', import.meta.url)));
    const gzipped = gzipSync(js).length;
    console.log(`@keysync/client browser bundle: ${js.length} bytes minified, ${gzipped} bytes min+gzip (budget ${BUNDLE_BUDGET_BYTES})`);
    expect(gzipped).toBeLessThanOrEqual(BUNDLE_BUDGET_BYTES);
    expect(js).not.toMatch(/\bnode:|require\(["'](fs|path|crypto|buffer)["']\)/);
  });
});
