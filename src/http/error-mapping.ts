/**
 * The one place where whatever a request's handling threw becomes an HTTP
 * status and problem type. A new kind of error gets its answer here, in
 * `toProblem`, and nowhere else.
 */
import { DrizzleQueryError } from 'drizzle-orm';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { routePath } from 'hono/route';
import { isDatabaseUnavailable, isUnstorableText } from '../database-errors.js';
import { WalkLimitError } from '../options/walk.js';
import { DomainError } from '../domain-errors.js';
import { domainProblem } from './domain-problem.js';
import { ProblemError, problemResponse } from './problem.js';

/** Maps anything thrown by a handler onto a problem. */
export function toProblem(err: unknown): ProblemError {
  if (err instanceof ProblemError) return err;
  if (err instanceof DomainError) return domainProblem(err);
  if (err instanceof HTTPException) {
    if (err.status === 400) return new ProblemError(400, 'bad-request', 'Malformed JSON', 'The body is not valid JSON');
    if (err.status === 415) return new ProblemError(415, 'unsupported-media-type', 'Unsupported Media Type', 'Send the body as application/json');
    if (err.status === 413) return new ProblemError(413, 'payload-too-large', 'Payload Too Large', err.message || undefined);
    return new ProblemError(err.status, err.status === 404 ? 'not-found' : 'bad-request', err.message || 'Bad Request');
  }
  // The store's walk option cannot be evaluated on its data: a problem of the
  // store's configuration, not of the server, and retrying will not help.
  if (err instanceof WalkLimitError) {
    return new ProblemError(422, 'walk-failed', 'Walk Failed', err.message);
  }
  if (isUnstorableText(err)) {
    return new ProblemError(400, 'validation', 'Validation Failed', 'A string of the request cannot be stored: it contains U+0000', [
      { path: '(request)', message: 'strings must not contain U+0000' },
    ]);
  }
  if (isDatabaseUnavailable(err)) {
    return new ProblemError(503, 'unavailable', 'Service Unavailable', 'The database is not reachable; retry later', undefined, {
      'retry-after': '1',
    });
  }
  return new ProblemError(500, 'internal', 'Internal Server Error', 'An unexpected error occurred');
}

/** The app's error handler: the problem response, and a log line for what nobody anticipated. */
export function handleError(err: unknown, c: Context): Response {
  const problem = toProblem(err);
  if (problem.status >= 500 && problem.kind === 'internal') {
    // Log the cause without request data (values and tokens stay out of logs).
    // drizzle's wrapper message carries the query parameters (values, token hashes): log its cause instead.
    const logged = err instanceof DrizzleQueryError && err.cause ? err.cause : err;
    // The route pattern, not the path: a path carries keys.
    const route = routePath(c, -1);
    console.error(JSON.stringify({ level: 'error', msg: 'unhandled', method: c.req.method, route, error: String((logged as Error)?.stack ?? logged) }));
  }
  return problemResponse(problem);
}
