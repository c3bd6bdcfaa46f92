/**
 * Open mode (no admin token) serves only requests addressed to this machine
 * by a loopback name. A web page cannot then reach the server by rebinding
 * its own DNS name to 127.0.0.1: the browser still sends the page's name in
 * `Host`, which is refused here, whatever the CORS settings.
 */
import { isLoopbackName } from '@keysync/protocol';
import type { MiddlewareHandler } from 'hono';
import { ProblemError } from './problem.js';

/** `localhost`, `127.x.x.x`, `[::1]` (any port), or a name in `allowed` (lower case, no port). */
export function isAllowedHost(host: string, allowed: readonly string[] = []): boolean {
  const name = hostName(host.trim().toLowerCase());
  if (name === undefined) return false;
  return isLoopbackName(name) || allowed.includes(name);
}

/** The name part of a Host value (`[v6]` kept in brackets), or undefined when it is malformed. */
function hostName(host: string): string | undefined {
  const m = /^(\[[0-9a-f:.]+\]|[^\s:[\]/@]+)(?::\d{1,5})?$/.exec(host);
  return m?.[1];
}

/** Refuses, in open mode, requests whose Host is not a loopback name or one of `allowed`. */
export function openModeHostCheck(allowed: readonly string[]): MiddlewareHandler {
  return async (c, next) => {
    // A request made in process (app.request) has no Host header; its URL names the host.
    const host = c.req.header('host') ?? new URL(c.req.url).host;
    if (!isAllowedHost(host, allowed)) {
      throw new ProblemError(
        403,
        'forbidden',
        'Forbidden',
        'Without KEYSYNC_ADMIN_TOKEN the server answers only requests addressed to localhost, 127.0.0.1 or [::1] (or a name in KEYSYNC_ALLOWED_HOSTS)',
      );
    }
    return next();
  };
}
