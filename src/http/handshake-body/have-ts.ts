/**
 * The timestamps of a `have` map, read as instants (parseTsMicros,
 * @keysync/protocol, which the client's digests read with too). What is
 * not a timestamp is refused, naming its key.
 */
import { parseTsMicros } from '@keysync/protocol';
import { ProblemError, validationProblem } from '../problem.js';

/**
 * Each key under `prefix` with its ts as micros, in map order; a 400 naming
 * the first key whose value is not an RFC 3339 timestamp, a 413 past
 * `maxKeys` entries.
 */
export function forEachHaveTs(have: Record<string, string>, prefix: string | undefined, maxKeys: number, each: (key: string, micros: number) => void): void {
  let count = 0;
  for (const key in have) {
    if (++count > maxKeys) {
      throw new ProblemError(413, 'payload-too-large', 'Payload Too Large', `the have map holds more than ${maxKeys} keys (KEYSYNC_MAX_HAVE_KEYS)`);
    }
    const micros = parseTsMicros(have[key]!);
    if (micros === undefined) {
      throw validationProblem([
        { path: `have.${key}`, message: 'must be an RFC 3339 timestamp such as 2026-11-26T07:31:34.123456Z (send back the ts the server gave)' },
      ]);
    }
    if (!prefix || key.startsWith(prefix)) each(key, micros);
  }
}
