/**
 * The compiled sync policy of each store: its `options` document plus, for
 * people who embed keysync as a library, plain functions registered per store.
 * Compiled once per options document and reused by handshakes and feeds.
 */
import { compilePolicy, type CompileLimits, type PolicyFunctions, type StorePolicy, type SyncOptions } from '../options/index.js';

export class PolicyRegistry {
  private readonly cache = new Map<string, { text: string; policy: StorePolicy }>();

  constructor(
    private readonly functions: Record<string, PolicyFunctions> = {},
    private readonly limits: CompileLimits = {},
  ) {}

  policyFor(storeId: string, options: SyncOptions | Record<string, unknown>): StorePolicy {
    const text = JSON.stringify(options ?? {});
    const cached = this.cache.get(storeId);
    if (cached && cached.text === text) return cached.policy;
    const policy = compilePolicy(options as SyncOptions, this.functions[storeId], this.limits);
    this.cache.set(storeId, { text, policy });
    return policy;
  }

  /**
   * The store had no options when its policy was last compiled, and no library
   * value filter is registered: every entry of a batch goes out as it is.
   * A hint only (the options may have changed since); callers recheck.
   */
  isOpen(storeId: string): boolean {
    return this.cache.get(storeId)?.text === '{}' && !this.functions[storeId]?.filter;
  }

  forget(storeId: string): void {
    this.cache.delete(storeId);
  }
}
