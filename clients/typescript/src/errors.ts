/**
 * Errors the sync client reports through `onError`. One base class so callers
 * can tell ours from their own with a single `instanceof`; subclasses carry
 * what is needed to react (the problem body, the store id).
 */
import { problemKind, type Problem } from '@keysync/protocol';

export class KeysyncError extends Error {
  override name = 'KeysyncError';
}

/** The server answered with a problem the client cannot recover from (401, 403, 404, 400...). */
export class ProblemError extends KeysyncError {
  override name = 'ProblemError';
  readonly status: number;
  /** Problem kind (`not-found`, ...) or undefined for foreign problem types. */
  readonly kind: string | undefined;

  constructor(
    readonly problem: Problem,
    context: string,
  ) {
    super(`${context}: ${problem.status} ${problem.title}${problem.detail ? ` (${problem.detail})` : ''}`);
    this.status = problem.status;
    this.kind = problemKind(problem.type);
  }
}

/** The store was unregistered on the server (`event: store-deleted`); the client stopped. */
export class StoreDeletedError extends KeysyncError {
  override name = 'StoreDeletedError';
  constructor(readonly storeId: string) {
    super(`store ${storeId} was deleted on the server`);
  }
}

/** The client's token was revoked on the server (`event: revoked`); the client stopped. */
export class TokenRevokedError extends KeysyncError {
  override name = 'TokenRevokedError';
  constructor(readonly storeId: string) {
    super(`the token used for store ${storeId} was revoked; the client stopped`);
  }
}

/** The server sent something that breaks the contract (malformed body, bad entry). */
export class ProtocolError extends KeysyncError {
  override name = 'ProtocolError';
}

/** A user callback (onChange, on(key), onComplete...) threw; the client keeps running. */
export class CallbackError extends KeysyncError {
  override name = 'CallbackError';
  constructor(
    readonly callback: string,
    override readonly cause: unknown,
  ) {
    super(`${callback} callback threw: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

/**
 * The first requests of a client failed several times in a row and the server
 * was never reached. Reported once through `onError`; the client keeps
 * retrying. In a browser a network failure looks the same whether the server
 * is down, the URL is wrong or CORS refused the page's origin, hence the hint.
 */
export class UnreachableError extends KeysyncError {
  override name = 'UnreachableError';
  constructor(
    readonly baseUrl: string,
    readonly attempts: number,
    override readonly cause: unknown,
  ) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(
      `cannot reach keysync at ${baseUrl} after ${attempts} attempts (${why}); still retrying. ` +
        'Check the URL, that the server runs, and, from a web page, that KEYSYNC_CORS_ORIGINS allows this origin.',
    );
  }
}
