/**
 * Outside Node (browsers, workers; Bun and Deno too, which also answer to the
 * `node` condition but whose fetch is their own, native one): no transport
 * of our own, every request goes through fetch. package.json's `imports`
 * picks this file or node.ts (`#text-transport`).
 */
import type { FetchText } from './text-response.js';

export const fetchText: FetchText | undefined = undefined;
