/**
 * fast-check arbitraries from the OpenAPI document: valid-ish values from
 * each JSON schema, and malformed variants of them (wrong types, unknown
 * fields, missing fields, huge strings, extreme numbers).
 */
import fc from 'fast-check';

export type Schema = Record<string, any>;
export interface OpenApiDoc {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}
export interface Operation {
  parameters?: Array<{ name: string; in: 'path' | 'query' | 'header'; required?: boolean; schema: Schema }>;
  requestBody?: { content: Record<string, { schema: Schema }> };
}

export const HUGE = 'x'.repeat(300_000);

/** Values that break assumptions: wrong types, extremes, emptiness, nesting. */
export const weird: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    null,
    true,
    false,
    0,
    -1,
    -1.5,
    2 ** 31,
    2 ** 53,
    -(2 ** 53),
    1e308,
    -1e308,
    '',
    ' ',
    '-1',
    'NaN',
    'null',
    '\u0000',
    '\u{1F600}',
    '\uFFFD',
    [],
    {},
  ),
  fc.constant(HUGE),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.jsonValue({ maxDepth: 3 }),
  fc.integer({ min: 1, max: 5000 }).map((depth) => JSON.parse('['.repeat(depth) + ']'.repeat(depth)) as unknown),
);

export function schemaArbitrary(doc: OpenApiDoc, schema: Schema, depth = 0): fc.Arbitrary<unknown> {
  if (depth > 6) return fc.constant(null);
  if (schema.$ref) return schemaArbitrary(doc, doc.components.schemas[String(schema.$ref).split('/').pop()!]!, depth + 1);
  const options: fc.Arbitrary<unknown>[] = [];
  if (schema.example !== undefined) options.push(fc.constant(schema.example));
  const alts = schema.anyOf ?? schema.oneOf;
  if (alts) return fc.oneof(...options, ...(alts as Schema[]).map((s) => schemaArbitrary(doc, s, depth + 1)));
  if (schema.allOf) return schemaArbitrary(doc, Object.assign({}, ...(schema.allOf as Schema[])), depth + 1);
  if (schema.enum) return fc.constantFrom(...(schema.enum as unknown[]));
  if (schema.const !== undefined) return fc.constant(schema.const);
  const type = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  if (schema.nullable) type.push('null');
  const byType = (t: string): fc.Arbitrary<unknown> => {
    switch (t) {
      case 'string':
        if (schema.format === 'uuid') return fc.uuid();
        if (schema.format === 'byte' || schema.contentEncoding === 'base64' || schema.format === 'base64')
          return fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('base64'));
        return fc.string({ maxLength: Math.min(schema.maxLength ?? 40, 40), minLength: Math.min(schema.minLength ?? 0, 40) });
      case 'integer':
        return fc.integer({ min: Math.max(schema.minimum ?? -1000, -(2 ** 31)), max: Math.min(schema.maximum ?? 100_000, 2 ** 31) });
      case 'number':
        return fc.double({ min: schema.minimum ?? -1e6, max: schema.maximum ?? 1e6, noNaN: true });
      case 'boolean':
        return fc.boolean();
      case 'null':
        return fc.constant(null);
      case 'array':
        return fc.array(schema.items ? schemaArbitrary(doc, schema.items, depth + 1) : fc.jsonValue({ maxDepth: 2 }), {
          minLength: Math.min(schema.minItems ?? 0, 3),
          maxLength: Math.min(schema.maxItems ?? 4, 4),
        });
      case 'object': {
        const props = Object.entries((schema.properties ?? {}) as Record<string, Schema>);
        const required = new Set<string>(schema.required ?? []);
        const record = fc.record(Object.fromEntries(props.map(([k, s]) => [k, schemaArbitrary(doc, s, depth + 1)])), {
          requiredKeys: props.map(([k]) => k).filter((k) => required.has(k)),
        });
        const extra =
          schema.additionalProperties && typeof schema.additionalProperties === 'object'
            ? fc.dictionary(fc.string({ maxLength: 12 }), schemaArbitrary(doc, schema.additionalProperties, depth + 1), { maxKeys: 3 })
            : fc.constant({});
        return fc.tuple(record, extra).map(([r, e]) => ({ ...e, ...r }));
      }
      default:
        return fc.jsonValue({ maxDepth: 2 });
    }
  };
  options.push(...(type.length ? type.map(byType) : [schema.properties ? byType('object') : fc.jsonValue({ maxDepth: 2 })]));
  return fc.oneof(...options);
}

/** A malformed variant of a (usually valid) JSON value. */
export function mutate(value: unknown): fc.Arbitrary<unknown> {
  const isObj = typeof value === 'object' && value !== null && !Array.isArray(value);
  const keys = isObj ? Object.keys(value as object) : [];
  const variants: fc.Arbitrary<unknown>[] = [weird];
  if (isObj) {
    variants.push(fc.tuple(fc.string({ minLength: 1, maxLength: 10 }), weird).map(([k, v]) => ({ ...(value as object), [`unknown_${k}`]: v })));
    if (keys.length > 0) {
      variants.push(
        fc.constantFrom(...keys).map((k) => {
          const copy = { ...(value as Record<string, unknown>) };
          delete copy[k];
          return copy;
        }),
        fc.tuple(fc.constantFrom(...keys), weird).map(([k, v]) => ({ ...(value as object), [k]: v })),
        // One level down: corrupt a field inside a nested object or array element.
        fc.tuple(fc.constantFrom(...keys), weird).map(([k, v]) => {
          const inner = (value as Record<string, unknown>)[k];
          if (Array.isArray(inner) && inner.length > 0) return { ...(value as object), [k]: [v, ...inner.slice(1)] };
          if (inner && typeof inner === 'object') {
            const ik = Object.keys(inner)[0];
            return { ...(value as object), [k]: ik === undefined ? v : { ...inner, [ik]: v } };
          }
          return { ...(value as object), [k]: v };
        }),
      );
    }
  }
  if (Array.isArray(value)) variants.push(weird.map((v) => [...value, v]));
  return fc.oneof(...variants);
}
