/**
 * Store ids are derived, not assigned: any party that knows a store's config
 * computes the same id offline (API.md, "Data model"). Server and client both
 * use this module, so they can never disagree on the derivation.
 */
import canonicalizeModule from 'canonicalize';
import { v5 as uuidv5, validate as isUuid } from 'uuid';
import { STORE_ID_NAMESPACE } from './constants.js';

/** A store config: `scope` (a UUID) plus anything else (`backend`, `path`, ...). */
export interface StoreConfig {
  scope: string;
  [key: string]: unknown;
}

type Canonicalize = (input: unknown) => string | undefined;

// canonicalize is CommonJS (`module.exports = fn`) but its .d.ts declares an
// ESM `export default`, so under NodeNext TypeScript types the default import
// as the module object while Node hands us the function itself. Bundlers vary
// too; accept both shapes rather than trusting either.
const canonicalize: Canonicalize =
  typeof canonicalizeModule === 'function' ? (canonicalizeModule as Canonicalize) : (canonicalizeModule as { default: Canonicalize }).default;

/**
 * RFC 8785 canonical JSON of a config. Exposed for diagnostics and tests.
 * @example canonicalConfig({ scope: s, a: 1 }) // '{"a":1,"scope":"..."}'
 */
export function canonicalConfig(config: StoreConfig): string {
  assertStoreConfig(config);
  const text = canonicalize(config);
  // Unreachable after the checks above; kept so a library change cannot
  // silently produce the id of the string "undefined".
  if (text === undefined) throw new TypeError('store config could not be canonicalized');
  return text;
}

/**
 * The store id of a config: UUIDv5(STORE_ID_NAMESPACE, JCS(config)).
 * @example
 * storeId({ scope: 'a1b2c3d4-e5f6-7890-abcd-ef1234567890', backend: 'file', path: 'data/my-store' })
 * // '58c4b668-ca6b-5f9d-8989-3a4a0ff13619'
 */
export function storeId(config: StoreConfig): string {
  return uuidv5(canonicalConfig(config), STORE_ID_NAMESPACE);
}

/** Throws a TypeError naming the problem unless `config` is a valid store config. */
export function assertStoreConfig(config: unknown): asserts config is StoreConfig {
  if (!isPlainObject(config)) {
    throw new TypeError('store config must be a JSON object with a "scope" UUID');
  }
  if (!('scope' in config)) throw new TypeError('store config must contain "scope" (a UUID string)');
  const scope = config['scope'];
  if (typeof scope !== 'string' || !isUuid(scope)) {
    throw new TypeError(`store config "scope" must be a UUID string, got ${JSON.stringify(scope)}`);
  }
  assertJson(config, '$');
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

// JSON.stringify (and so canonicalize) quietly turns NaN into null and drops
// functions; two different configs would then share an id. RFC 8785 forbids
// such values, so refuse them.
function assertJson(v: unknown, path: string): void {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new TypeError(`store config ${path} is not a finite number`);
    return;
  }
  if (Array.isArray(v)) {
    v.forEach((item, i) => assertJson(item, `${path}[${i}]`));
    return;
  }
  if (isPlainObject(v)) {
    for (const [k, item] of Object.entries(v)) assertJson(item, `${path}.${k}`);
    return;
  }
  throw new TypeError(`store config ${path} is not a JSON value (${typeof v})`);
}
