/**
 * One error type for every failure the API reports, turned into an RFC 9457
 * `application/problem+json` response in exactly one place (`problemResponse`).
 */
import { DrizzleQueryError } from 'drizzle-orm';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { routePath } from 'hono/route';

import { PROBLEM_TYPE_BASE, MEDIA_TYPES, type ProblemKind } from '../clients/typescript/src/protocol.js';
import { DomainError } from './domain-errors.js';
import { domainProblem } from './http/domain-problem.js';
import { WalkLimitError } from './options/walk.js';

export type { ProblemKind };
export const PROBLEM_CONTENT_TYPE = MEDIA_TYPES.problem;

export interface FieldError {
  path: string;
  message: string;
}

export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly kind: ProblemKind,
    readonly title: string,
    readonly detail?: string,
    readonly errors?: FieldError[],
    readonly headers?: Record<string, string>,
    /** the setting whose limit refused the request (a 429 or 503), for the metrics */
    readonly limit?: string,
  ) {
    super(detail ?? title);
  }
}

export const notFound = (what: string) => new ProblemError(404, 'not-found', 'Not Found', `${what} does not exist`);

export function validationProblem(errors: FieldError[], detail = 'The request is not valid'): ProblemError {
  return new ProblemError(400, 'validation', 'Validation Failed', detail, errors);
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: FieldError[];
}

export function problemBody(err: ProblemError): ProblemBody {
  const body: ProblemBody = { type: PROBLEM_TYPE_BASE + err.kind, title: err.title, status: err.status };
  if (err.detail !== undefined) body.detail = err.detail;
  if (err.errors !== undefined) body.errors = err.errors;
  return body;
}

export function problemResponse(err: ProblemError): Response {
  return new Response(JSON.stringify(problemBody(err)), {
    status: err.status,
    headers: { 'content-type': PROBLEM_CONTENT_TYPE, ...err.headers },
  });
}

const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/**
 * True for errors a database driver raises when the server is unreachable,
 * shutting down or out of connections. drizzle wraps driver errors in a
 * DrizzleQueryError whose `cause` holds the driver's error, so the cause
 * chain is searched too.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (isUnavailableCode((e as { code?: unknown }).code)) return true;
  }
  return false;
}

function isUnavailableCode(code: unknown): boolean {
  if (typeof code !== 'string') return false;
  return (
    UNAVAILABLE_CODES.has(code) ||
    code.startsWith('08') || // connection_exception class
    code === '53300' || // too_many_connections
    code === '57P02' || // crash_shutdown
    code === 'CONNECTION_CLOSED' ||
    code === 'CONNECTION_ENDED' ||
    code === 'CONNECT_TIMEOUT' ||
    code === 'CONNECTION_DESTROYED' ||
    code === '57P01' || // admin_shutdown
    code === '57P03' // cannot_connect_now
  );
}

/**
 * True when PostgreSQL refused a value of the request as text: U+0000 in a
 * string (22021 character_not_in_repertoire, 22P05 untranslatable_character
 * for `\u0000` in jsonb). Only client data gets there, so it is a 400.
 */
export function isUnstorableText(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === '22021' || code === '22P05') return true;
  }
  return false;
}

/** Maps anything thrown by a handler onto a problem response. */
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
