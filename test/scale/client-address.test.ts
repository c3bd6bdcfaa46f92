/**
 * The client address behind proxies: forwarded headers count only when the
 * peer is a trusted proxy, and then the rightmost hop that is not a trusted
 * proxy is the client. Per-client limits key on that address.
 */
import { describe, expect, it } from 'vitest';
import { clientAddressResolver, forwardedHops } from '../../src/http/client-address.js';
import { readEnv } from '../../src/env.js';
import { createTestDatabase } from '../support/db.js';
import { call } from '../support/http.js';
import { expectProblem } from '../support/problem.js';
import { ADMIN, adminStore } from '../security/support.js';
import { startServer } from '../support/server.js';

const headers = (h: Record<string, string>) => (name: string) => h[name];

describe('clientAddressResolver', () => {
  const xff = clientAddressResolver({ trustedProxies: ['10.0.0.0/8', '127.0.0.1'], header: 'x-forwarded-for' });

  it('takes the rightmost untrusted hop when the peer is a trusted proxy', () => {
    expect(xff('10.0.0.5', headers({ 'x-forwarded-for': '203.0.113.7' }))).toBe('203.0.113.7');
    // The client wrote its own X-Forwarded-For; the proxy appended the real address.
    expect(xff('10.0.0.5', headers({ 'x-forwarded-for': '1.2.3.4, 203.0.113.7' }))).toBe('203.0.113.7');
    // Two trusted proxies in a row.
    expect(xff('127.0.0.1', headers({ 'x-forwarded-for': '1.2.3.4, 203.0.113.7, 10.1.1.1' }))).toBe('203.0.113.7');
    // Everything trusted: the leftmost.
    expect(xff('10.0.0.5', headers({ 'x-forwarded-for': '10.9.9.9' }))).toBe('10.9.9.9');
    // No header: the proxy itself.
    expect(xff('10.0.0.5', headers({}))).toBe('10.0.0.5');
    // IPv4-mapped peers match IPv4 ranges.
    expect(xff('::ffff:10.0.0.5', headers({ 'x-forwarded-for': '203.0.113.7' }))).toBe('203.0.113.7');
  });

  it('ignores the headers when the peer is not trusted', () => {
    expect(xff('198.51.100.1', headers({ 'x-forwarded-for': '203.0.113.7' }))).toBe('198.51.100.1');
    expect(xff('198.51.100.1', headers({ forwarded: 'for=203.0.113.7' }))).toBe('198.51.100.1');
  });

  it('trusts nobody without KEYSYNC_TRUSTED_PROXIES', () => {
    const none = clientAddressResolver({ trustedProxies: [], header: 'x-forwarded-for' });
    expect(none('127.0.0.1', headers({ 'x-forwarded-for': '203.0.113.7' }))).toBe('127.0.0.1');
  });

  it('reads only the configured header', () => {
    const fwd = clientAddressResolver({ trustedProxies: ['10.0.0.0/8'], header: 'forwarded' });
    expect(fwd('10.0.0.5', headers({ forwarded: 'for=1.2.3.4, for="[2001:db8::1]:4711";proto=https' }))).toBe('2001:db8::1');
    expect(fwd('10.0.0.5', headers({ 'x-forwarded-for': '203.0.113.7' }))).toBe('10.0.0.5');
    expect(xffIgnoresForwarded()).toBe('10.0.0.5');
    // An obfuscated hop: as far as we can see is the last trusted one.
    expect(fwd('10.0.0.5', headers({ forwarded: 'for=_hidden' }))).toBe('10.0.0.5');
  });

  it('parses Forwarded elements', () => {
    expect(forwardedHops('forwarded', 'for=192.0.2.60;proto=http;by=203.0.113.43, For="192.0.2.61:8080", proto=https')).toEqual(['192.0.2.60', '192.0.2.61']);
    expect(forwardedHops('x-forwarded-for', ' 1.1.1.1 ,2.2.2.2,, ')).toEqual(['1.1.1.1', '2.2.2.2']);
  });

  function xffIgnoresForwarded(): string {
    return clientAddressResolver({ trustedProxies: ['10.0.0.0/8'], header: 'x-forwarded-for' })('10.0.0.5', headers({ forwarded: 'for=1.2.3.4' }));
  }
});

describe('KEYSYNC_TRUSTED_PROXIES', () => {
  it('accepts addresses and CIDR ranges and refuses anything else at start-up', () => {
    expect(readEnv({ KEYSYNC_TRUSTED_PROXIES: '10.0.0.0/8, 127.0.0.1,::1' }).KEYSYNC_TRUSTED_PROXIES).toEqual(['10.0.0.0/8', '127.0.0.1', '::1']);
    expect(readEnv({}).KEYSYNC_TRUSTED_PROXIES).toEqual([]);
    expect(() => readEnv({ KEYSYNC_TRUSTED_PROXIES: '10.0.0.0/99' })).toThrow(/KEYSYNC_TRUSTED_PROXIES/);
    expect(() => readEnv({ KEYSYNC_TRUSTED_PROXIES: 'proxy.example' })).toThrow(/KEYSYNC_TRUSTED_PROXIES/);
    expect(() => readEnv({ KEYSYNC_PROXY_HEADER: 'x-real-ip' })).toThrow(/KEYSYNC_PROXY_HEADER/);
    expect(() => readEnv({ KEYSYNC_DB_POOL: '1' })).toThrow(/KEYSYNC_DB_POOL/);
  });
});

describe('per-client limits behind a trusted proxy', () => {
  const guess = (url: string, storeId: string, forwardedFor: string) =>
    fetch(`${url}/v1/stores/${storeId}`, { headers: { authorization: 'Bearer not-a-token', 'x-forwarded-for': forwardedFor } });

  it('slow down the guessing client only, not everyone behind the proxy', async () => {
    const db = await createTestDatabase();
    // The test's requests come from 127.0.0.1: that is the proxy.
    const server = await startServer(db, { adminToken: ADMIN, trustedProxies: ['127.0.0.1'], limits: { authFailureLimit: 1 } });
    try {
      const storeId = await adminStore(server);
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++) statuses.push((await guess(server.url, storeId, '203.0.113.7')).status);
      expect(statuses).toContain(429);
      // Another client behind the same proxy is not slowed down.
      expect((await guess(server.url, storeId, '203.0.113.8')).status).toBe(401);
      // A spoofed hop left of the real one changes nothing for the guesser.
      expectProblem(await call(server, `/v1/stores/${storeId}`, { headers: { authorization: 'Bearer x', 'x-forwarded-for': '9.9.9.9, 203.0.113.7' } }), 429);
    } finally {
      await server.close();
      await db.drop();
    }
  }, 60_000);

  it('key on the peer when it is not trusted, whatever the header says', async () => {
    const db = await createTestDatabase();
    const server = await startServer(db, { adminToken: ADMIN, limits: { authFailureLimit: 1 } });
    try {
      const storeId = await adminStore(server);
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++) statuses.push((await guess(server.url, storeId, `203.0.113.${i}`)).status);
      expect(statuses).toContain(429);
    } finally {
      await server.close();
      await db.drop();
    }
  }, 60_000);
});
