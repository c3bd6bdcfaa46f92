/**
 * The check every JSON request body passes (see json-body.ts), as a pure
 * function of its bytes so it can also run off the event loop
 * (handshake-body/input.ts): UTF-8, syntax and nesting, each failure a
 * ProblemError with the answer the API gives for it.
 */
import { JsonTextError, scanJson, type JsonSpan } from '@keysync/protocol';
import { ProblemError, validationProblem } from './problem.js';

/** A checked body: its text, and the raw text of each value at the capture path. */
export interface ScannedBody {
  text: string;
  spans: JsonSpan[];
}

export interface JsonCheckOptions {
  /** nesting allowed in the body (the limit plus the route's envelope) */
  maxDepth: number;
  /** KEYSYNC_MAX_JSON_DEPTH, named in the answer */
  limit: number;
  /** values kept as text: their path in the body (see scanJson) */
  capture: readonly string[];
  /** refuse an object inside a captured value that names a member twice */
  uniqueKeys: boolean;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The body's text and spans, or a ProblemError saying what is wrong with it. */
export function checkJsonBody(bytes: Uint8Array, o: JsonCheckOptions): ScannedBody {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw malformed('the body is not valid UTF-8 (JSON text must be UTF-8)');
  }
  try {
    return { text, spans: scanJson(text, { maxDepth: o.maxDepth, capture: o.capture, uniqueKeys: o.uniqueKeys }) };
  } catch (err) {
    if (!(err instanceof JsonTextError)) throw err;
    if (err.problem === 'depth') {
      throw new ProblemError(
        400,
        'json-too-deep',
        'JSON Too Deep',
        `JSON values, configs and options may nest at most ${o.limit} arrays and objects (KEYSYNC_MAX_JSON_DEPTH); ` +
          `this body goes deeper at line ${err.line}, column ${err.column}`,
      );
    }
    if (err.problem === 'duplicate-key') {
      throw validationProblem(
        [{ path: '(body)', message: `${err.message}: a JSON value must name each member of an object once` }],
        'The body names an object member twice',
      );
    }
    throw malformed(err.message);
  }
}

const malformed = (why: string) => new ProblemError(400, 'bad-request', 'Malformed JSON', `The body is not valid JSON: ${why}`);
