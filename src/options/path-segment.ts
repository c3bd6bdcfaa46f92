/** A parsed JSONPath: what the parser (json-path.ts) produces and the evaluator (ref-eval.ts) walks. */

export type Selector =
  | { type: 'name'; name: string }
  | { type: 'wildcard' }
  | { type: 'index'; index: number }
  | { type: 'slice'; start?: number; end?: number; step?: number };

export interface PathSegment {
  /** true for `..` (this node and all its descendants) */
  descendant: boolean;
  selector: Selector;
}
