/**
 * The answer to a request no route takes: 405 with `Allow` when the path
 * exists under other methods, else 404; both problem+json. hono has no 405
 * of its own (its router only says whether a method and path matched), so
 * the app's routes are matched here by their patterns.
 */
import type { NotFoundHandler } from 'hono';
import type { App } from './app-env.js';
import { ProblemError, problemResponse, validationProblem } from './problem.js';

export function unmatchedRequest(app: App): NotFoundHandler {
  let patterns: { method: string; pattern: RegExp }[] | undefined;
  return (c) => {
    const path = c.req.path;
    const unencoded = unencodedKeyProblem(c.req.method, path);
    if (unencoded) return problemResponse(unencoded);
    // Built on the first unmatched request: every route is registered by then.
    patterns ??= app.routes
      .filter((route) => route.method !== 'ALL' && route.path !== '/*')
      .map((route) => ({ method: route.method, pattern: routePattern(route.path) }));
    const allowed = new Set(patterns.filter((p) => p.pattern.test(path)).map((p) => p.method));
    if (allowed.size > 0 && !allowed.has(c.req.method)) {
      if (allowed.has('GET')) allowed.add('HEAD');
      return problemResponse(
        new ProblemError(405, 'method-not-allowed', 'Method Not Allowed', `${c.req.method} is not allowed here`, undefined, {
          allow: [...allowed].sort().join(', '),
        }),
      );
    }
    return problemResponse(new ProblemError(404, 'not-found', 'Not Found', `No route for ${c.req.method} ${path}`));
  };
}

/** `/v1/stores/:storeId/keys/*` as a regular expression over a whole path. */
function routePattern(path: string): RegExp {
  return new RegExp(
    '^' +
      path
        .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
        .replace(/:[^/]+/g, '[^/]+')
        .replace(/\*/g, '.*') +
      '$',
  );
}

const SPLIT_KEY = /^(\/v1\/stores\/[^/]+\/keys\/)([^/]*\/.*)$/;

/**
 * `/keys/users/1`: a key sent with its slashes unencoded reaches no route.
 * Rather than a bare 404 (which a client could take for "no such key"),
 * say how to send it.
 */
function unencodedKeyProblem(method: string, path: string): ProblemError | undefined {
  const match = ['GET', 'HEAD', 'PUT', 'DELETE'].includes(method) ? SPLIT_KEY.exec(path) : null;
  if (!match) return undefined;
  const encoded = match[2]!.replaceAll('/', '%2F');
  const store = match[1]!.slice(0, -'keys/'.length);
  const message = `percent-encode the key as one path segment (${match[1]}${encoded}), or send it in the query (${store}key?key=${encoded})`;
  return validationProblem([{ path: 'key', message }], `A key is one path segment: its slashes must be percent-encoded as %2F (${encoded})`);
}
