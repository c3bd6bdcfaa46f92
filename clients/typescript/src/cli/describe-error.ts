/**
 * One line for a failure, with its root cause: `fetch failed` alone says
 * nothing, so the system error under it (code and address, e.g.
 * `ECONNREFUSED 127.0.0.1:8787`, or `ENOTFOUND sync.example`) is added.
 *
 * @example describeError(err) // 'fetch failed (ECONNREFUSED 127.0.0.1:8787)'
 */
export function describeError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const causes: string[] = [];
  let cause = error instanceof Error ? error.cause : undefined;
  for (let depth = 0; cause !== undefined && cause !== null && depth < 5; depth++) {
    const text = systemError(cause);
    if (text && !message.includes(text)) causes.push(text);
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return causes.length > 0 ? `${message} (${causes.join('; ')})` : message;
}

interface SystemErrorLike {
  code?: unknown;
  address?: unknown;
  port?: unknown;
  hostname?: unknown;
  message?: unknown;
  errors?: unknown;
}

function systemError(cause: unknown): string | undefined {
  if (typeof cause !== 'object') return String(cause);
  const e = cause as SystemErrorLike;
  // Happy eyeballs (several addresses tried): one entry per address.
  if (Array.isArray(e.errors) && e.errors.length > 0) {
    return [...new Set(e.errors.map((inner) => systemError(inner)).filter(Boolean))].join(', ');
  }
  if (typeof e.code === 'string') {
    const where =
      typeof e.address === 'string' ? `${e.address}${e.port !== undefined ? `:${String(e.port)}` : ''}` : typeof e.hostname === 'string' ? e.hostname : '';
    return where ? `${e.code} ${where}` : typeof e.message === 'string' ? e.message : e.code;
  }
  return typeof e.message === 'string' && e.message ? e.message : undefined;
}
