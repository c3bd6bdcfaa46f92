/**
 * Which database failures are whose fault: the database's (unreachable,
 * shutting down, out of connections) or the client's (text PostgreSQL
 * cannot store). drizzle wraps driver errors in a DrizzleQueryError whose
 * `cause` holds the driver's error, so the cause chain is searched.
 */

const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/** True for errors a database driver raises when the server is unreachable, shutting down or out of connections. */
export function isDatabaseUnavailable(err: unknown): boolean {
  return causeChainHas(err, isUnavailableCode);
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
 * for `\u0000` in jsonb). Only client data gets there.
 */
export function isUnstorableText(err: unknown): boolean {
  return causeChainHas(err, (code) => code === '22021' || code === '22P05');
}

function causeChainHas(err: unknown, test: (code: unknown) => boolean): boolean {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (test((e as { code?: unknown }).code)) return true;
  }
  return false;
}
