/**
 * The import path of the error helpers for the layers outside the HTTP edge
 * (src/store, src/sync, src/live), which still throw ProblemError while they
 * move to DomainError; the edge itself imports http/problem.ts,
 * http/error-mapping.ts and database-errors.ts directly.
 */
export { ProblemError, notFound, validationProblem, type FieldError, type ProblemKind } from './http/problem.js';
export { isDatabaseUnavailable } from './database-errors.js';
