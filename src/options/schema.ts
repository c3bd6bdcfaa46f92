/**
 * Sync options of a store: the data form of konserve-sync's filter-fn,
 * key-sort-fn and walk-fn. Every object is strict (unknown fields are
 * errors) and every list and string has an explicit bound, so a stored
 * options document is always cheap to compile and to evaluate.
 */
import { z } from '@hono/zod-openapi';
import { parseRefPath } from './json-path.js';
import { MAX_KEY_BYTES, isKeyText } from '@keysync/protocol';

export const OPTION_LIMITS = {
  prefixes: 100,
  excludePrefixes: 100,
  orderRules: 100,
  roots: 100,
  refs: 20,
  /** UTF-8 bytes of every prefix, root and ref path */
  stringBytes: MAX_KEY_BYTES,
} as const;

const TEXT_MESSAGE = `must be valid Unicode without U+0000, at most ${MAX_KEY_BYTES} bytes of UTF-8`;

/** A key prefix; the empty prefix matches every key. */
const PrefixSchema = z
  .string()
  .max(MAX_KEY_BYTES)
  .refine(isKeyText, TEXT_MESSAGE)
  .openapi({ description: 'A key prefix (may be empty, which matches every key).', example: 'users/' });

const KeySchema = z.string().min(1).max(MAX_KEY_BYTES).refine(isKeyText, TEXT_MESSAGE).openapi({ description: 'A key of the store.', example: 'root' });

const RefPathSchema = z
  .string()
  .min(1)
  .max(MAX_KEY_BYTES)
  .superRefine((path, ctx) => {
    const parsed = parseRefPath(path);
    if (!parsed.ok) {
      ctx.addIssue({
        code: 'custom',
        input: path,
        message: `invalid JSON path ${JSON.stringify(path)}: ${parsed.message} (at character ${parsed.index})`,
      });
    }
  })
  .openapi({
    description:
      "A JSON path over a reached value; every string it selects names another key. Supported: `$`, `.name`, `['name']`, `.*`, `[*]`, `[n]`, `[start:end:step]` and `..` before any of them; no filters or scripts.",
    example: '$.children[*]',
  });

export const SyncFilterSchema = z
  .object({
    prefixes: z
      .array(PrefixSchema)
      .max(OPTION_LIMITS.prefixes)
      .optional()
      .openapi({ description: 'Sync only keys starting with one of these (absent or empty: every key).', example: ['users/', 'db/'] }),
    excludePrefixes: z
      .array(PrefixSchema)
      .max(OPTION_LIMITS.excludePrefixes)
      .optional()
      .openapi({ description: 'Never sync keys starting with one of these; wins over `prefixes`.', example: ['users/tmp/'] }),
  })
  .strict()
  .openapi('SyncFilter', {
    description: 'Which keys are synced: a key passes when (no `prefixes` or it starts with one) and it starts with none of `excludePrefixes`.',
  });

export const SyncOrderRuleSchema = z
  .object({
    prefix: PrefixSchema,
    rank: z
      .number()
      .int() // zod's int() is the safe-integer range
      .openapi({
        description: 'Higher ranks are delivered later; keys no rule matches have rank 0.',
        minimum: Number.MIN_SAFE_INTEGER,
        maximum: Number.MAX_SAFE_INTEGER,
        example: 1,
      }),
  })
  .strict()
  .openapi('SyncOrderRule', { description: 'Keys starting with `prefix` take `rank` (the longest matching prefix wins).' });

export const SyncOrderSchema = z
  .array(SyncOrderRuleSchema)
  .max(OPTION_LIMITS.orderRules)
  .superRefine((rules, ctx) => {
    const first = new Map<string, number>();
    rules.forEach((rule, i) => {
      const earlier = first.get(rule.prefix);
      if (earlier === undefined) first.set(rule.prefix, i);
      else ctx.addIssue({ code: 'custom', input: rule.prefix, path: [i, 'prefix'], message: `duplicate prefix, already ranked by rule ${earlier}` });
    });
  })
  .openapi({
    description: 'Delivery order of the initial sync: ranks ascending, then rev ascending within a rank.',
    example: [{ prefix: 'db', rank: 1 }],
  });

export const SyncWalkSchema = z
  .object({
    roots: z
      .array(KeySchema)
      .min(1)
      .max(OPTION_LIMITS.roots)
      .openapi({ description: 'Keys the walk starts from (they need not exist yet).', example: ['root'] }),
    refs: z
      .array(RefPathSchema)
      .max(OPTION_LIMITS.refs)
      .openapi({ description: 'JSON paths whose string values name further keys.', example: ['$.children[*]', '$..address'] }),
  })
  .strict()
  .openapi('SyncWalk', {
    description: 'Only keys reachable from `roots` are synced. Cycles and names of absent keys are fine; byte values have no refs.',
  });

export const SyncOptionsSchema = z
  .object({
    filter: SyncFilterSchema.optional(),
    order: SyncOrderSchema.optional(),
    walk: SyncWalkSchema.optional(),
  })
  .strict()
  .openapi('SyncOptions', {
    description: 'Which keys replicas receive and in what order. A key is synced when it passes `filter` and, with a `walk`, is reachable from its roots.',
    example: {
      filter: { prefixes: ['app/'], excludePrefixes: ['app/tmp/'] },
      order: [{ prefix: 'app/db', rank: 1 }],
      walk: { roots: ['app/root'], refs: ['$.children[*]', '$..address'] },
    },
  });

export type SyncFilter = z.infer<typeof SyncFilterSchema>;
export type SyncOrderRule = z.infer<typeof SyncOrderRuleSchema>;
export type SyncWalk = z.infer<typeof SyncWalkSchema>;
export type SyncOptions = z.infer<typeof SyncOptionsSchema>;
