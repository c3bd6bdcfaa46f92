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
  decidesByKeyPrefix,
  type CompileLimits,
  type PolicyFunctions,
  type Rank,
  type StorePolicy,
} from './policy.js';
export {
  DEFAULT_MAX_WALK_DEPTH,
  DEFAULT_MAX_WALK_KEYS,
  DEFAULT_MAX_WALK_STEPS,
  DEFAULT_MAX_WALK_VALUE_STEPS,
  DEFAULT_WALK_CHUNK_SIZE,
  DEFAULT_WALK_TIMEOUT_MS,
  WalkLimitError,
  walkReachable,
  type ReadSome,
  type ReadValues,
  type WalkLimitName,
  type WalkLimits,
} from './walk.js';
export { compileRefs, parseRefPath, type RefExtractor } from './json-path.js';
export { evaluateRefs, type ValueBudget, type ValueRefs } from './ref-eval.js';
