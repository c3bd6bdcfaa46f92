/**
 * Outside Node (browsers, workers, Deno and Bun as browsers do): no transport
 * of our own, every request goes through fetch. package.json's `imports`
 * picks this file or node.ts (`#text-transport`).
 */
import type { FetchText } from './text-response.js';

export const fetchText: FetchText | undefined = undefined;
