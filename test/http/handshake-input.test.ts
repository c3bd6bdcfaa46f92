/**
 * A large `have` handshake is read off the body's text on the worker
 * (src/http/handshake-body/input.ts) when it holds only fields that reader
 * knows; any other body is parsed whole against the route's schema, which
 * costs far more (and, first in a process, loads the route's modules on the
 * worker). Every field a `have` handshake may carry must be one the text
 * reader knows, or the clients that send it pay the slow path every time.
 * (test/adversarial/handshake.test.ts checks that both paths answer alike.)
 */
import { describe, expect, it } from 'vitest';
import { PLAIN_FIELDS, readHandshakeInput } from '../../src/http/handshake-body/input.js';
import { HandshakeRequestSchema } from '../../src/routes/sync.routes.js';

const options = { maxJsonDepth: 64, maxHaveKeys: 1_000_000 };

describe('the handshake body reader', () => {
  it('reads every field of a `have` handshake off the text', () => {
    const byHave = HandshakeRequestSchema.options.find((o) => 'have' in o.shape)!;
    expect([...PLAIN_FIELDS].sort()).toEqual(Object.keys(byHave.shape).sort());
  });

  it('reads a body as the TS client sends it, `inline` and `digest` included, to the sorted `have` list', async () => {
    const ts = '2026-12-06T20:00:00.000001Z';
    const digest = { rev: 7, optionsVersion: 1, buckets: 4, listed: [1, 3] };
    const body = `{"have":{"b":"${ts}","a":"${ts}"},"digest":${JSON.stringify(digest)},"listStale":false,"inline":true}`;
    const input = await readHandshakeInput(new TextEncoder().encode(body), options);
    if (!input.ok) throw new Error(JSON.stringify(input.problem));
    expect(JSON.parse(input.body)).toEqual({ have: {}, digest, listStale: false, inline: true });
    expect(input.have?.keysJson).toBe(`"a","b"`);
  });

  it('refuses an `inline` that is no boolean, as the route does', async () => {
    const input = await readHandshakeInput(new TextEncoder().encode('{"have":{},"inline":"yes"}'), options);
    expect(input.ok).toBe(false);
    if (!input.ok) expect(input.problem.status).toBe(400);
  });
});
