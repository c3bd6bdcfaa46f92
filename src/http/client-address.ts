/**
 * The client's address. Without trusted proxies it is the peer of the
 * connection, and Forwarded / X-Forwarded-For are ignored (anyone can send
 * them). Behind trusted proxies (KEYSYNC_TRUSTED_PROXIES) the chain of hops
 * is the header's addresses followed by the peer; walking it from the right,
 * the first address that is not a trusted proxy is the client. Hops left of
 * it were written by the client itself and count for nothing.
 *
 * Only one header is read (KEYSYNC_PROXY_HEADER): a proxy appends to the one
 * it is configured for and passes the other through unchanged, so reading
 * both would let a client choose its own address.
 */
import { compile } from 'proxy-addr';
import type { AppContext } from './app-env.js';

export type ProxyHeader = 'x-forwarded-for' | 'forwarded';

export interface ClientAddressSettings {
  /** addresses or CIDR ranges of the proxies in front of this server; empty: trust none */
  trustedProxies: string[];
  header: ProxyHeader;
}

export type AddressOf = (peer: string | undefined, header: (name: string) => string | undefined) => string;

/**
 * Builds the resolver; throws on an address or range proxy-addr cannot parse.
 * @example clientAddressResolver({ trustedProxies: ['10.0.0.0/8'], header: 'x-forwarded-for' })('10.0.0.5', h) // '203.0.113.7' for `X-Forwarded-For: 203.0.113.7`
 */
export function clientAddressResolver(settings: ClientAddressSettings): AddressOf {
  if (settings.trustedProxies.length === 0) return (peer) => peer ?? 'unknown';
  const trusted = compile(settings.trustedProxies);
  return (peer, header) => {
    if (peer === undefined) return 'unknown';
    const hops = forwardedHops(settings.header, header(settings.header));
    let address = peer;
    let i = 0;
    // Step left while the current hop is a proxy we trust and someone stands before it.
    for (let h = hops.length - 1; h >= 0 && trusted(address, i); h--, i++) {
      const hop = hops[h]!;
      if (!isIp(hop)) return address; // `unknown` or an obfuscated name: the last trusted hop is as far as we can see
      address = hop;
    }
    return address;
  };
}

/** The addresses a header lists, leftmost first (the client's own claim first). */
export function forwardedHops(kind: ProxyHeader, value: string | undefined): string[] {
  if (!value) return [];
  if (kind === 'x-forwarded-for')
    return value
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  // RFC 7239: `for=192.0.2.60;proto=http, for="[2001:db8::1]:4711"`; elements without `for` name no hop.
  const hops: string[] = [];
  for (const element of value.split(',')) {
    for (const pair of element.split(';')) {
      const eq = pair.indexOf('=');
      if (eq < 0 || pair.slice(0, eq).trim().toLowerCase() !== 'for') continue;
      hops.push(
        nodeOf(
          pair
            .slice(eq + 1)
            .trim()
            .replace(/^"(.*)"$/, '$1'),
        ),
      );
    }
  }
  return hops;
}

/** `[2001:db8::1]:4711` -> `2001:db8::1`, `192.0.2.1:80` -> `192.0.2.1`; names stay as they are. */
function nodeOf(node: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(node);
  if (bracketed) return bracketed[1]!;
  const v4 = /^(\d+\.\d+\.\d+\.\d+)(?::\d+)?$/.exec(node);
  return v4 ? v4[1]! : node;
}

const isIp = (s: string) => /^[0-9.]+$/.test(s) || (s.includes(':') && /^[0-9a-fA-F:.]+$/.test(s));

/**
 * The client's address of this request: the peer of the connection, or, when
 * the peer is a trusted proxy, the address it forwarded.
 */
export function clientAddress(c: AppContext): string {
  // `c.env` is undefined for a request made in process (app.request without bindings).
  const peer = c.env?.incoming?.socket?.remoteAddress;
  return c.var.services.clientAddress(peer, (name) => c.req.header(name));
}
