export {
  OPTION_LIMITS,
  SyncFilterSchema,
  SyncOptionsSchema,
  SyncOrderRuleSchema,
  SyncOrderSchema,
  SyncWalkSchema,
  type SyncFilter,
  type SyncOptions,
  type SyncOrderRule,
  type SyncWalk,
} from './schema.js';
export {
  OPEN_POLICY,
  compilePolicy,
  type CompileLimits,
  type PolicyFunctions,
  type Rank,
  type StorePolicy,
} from './policy.js';
export {
  DEFAULT_MAX_WALK_KEYS,
  DEFAULT_WALK_CHUNK_SIZE,
  WalkLimitError,
  WalkRefError,
  walkReachable,
  type ReadValues,
  type WalkLimits,
} from './walk.js';
export { compileRefs, parseRefPath, type RefExtractor } from './json-path.js';
