/**
 * The one place where a failure of the store or sync layer becomes an HTTP
 * answer: status, problem type and title per kind, Retry-After for a quota.
 */
import type { DomainError, DomainErrorKind } from '../domain-errors.js';
import { ProblemError } from './problem.js';

const ANSWERS: Record<DomainErrorKind, { status: number; title: string }> = {
  'not-found': { status: 404, title: 'Not Found' },
  'precondition-failed': { status: 412, title: 'Precondition Failed' },
  'session-expired': { status: 410, title: 'Session Expired' },
  'ack-required': { status: 409, title: 'Acknowledgement Required' },
  'not-delivered': { status: 409, title: 'Not Delivered' },
  'since-purged': { status: 409, title: 'Since Purged' },
  'since-ahead': { status: 409, title: 'Since Ahead' },
  'digests-unusable': { status: 409, title: 'Digests Unusable' },
  'too-many-sessions': { status: 429, title: 'Too Many Sessions' },
  'too-many-subscribers': { status: 429, title: 'Too Many Subscribers' },
};

export function domainProblem(err: DomainError): ProblemError {
  const { status, title } = ANSWERS[err.kind];
  const quota = err.quota;
  if (!quota) return new ProblemError(status, err.kind, title, err.detail);
  return new ProblemError(quota.serverWide ? 503 : status, err.kind, title, err.detail, undefined, { 'retry-after': String(quota.retryAfterS) }, quota.limit);
}
