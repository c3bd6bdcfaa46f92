/**
 * ProblemError: every failure the API reports, as the RFC 9457
 * `application/problem+json` response it becomes (`problemResponse`).
 */
import { PROBLEM_TYPE_BASE, MEDIA_TYPES, type ProblemKind } from '@keysync/protocol';

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
