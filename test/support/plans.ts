/** Reading executed plans (`explain (analyze, format json)`) in tests that hold statements to their plans. */

/** A node of a JSON plan, with the fields these tests read. */
export interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Heap Fetches'?: number;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  Plans?: PlanNode[];
}

/** The root of a JSON plan, as the driver hands it over (PGlite: text; postgres.js: parsed). */
export function planRoot(plan: unknown): PlanNode {
  const parsed = (typeof plan === 'string' ? JSON.parse(plan) : plan) as Array<{ Plan: PlanNode }>;
  return parsed[0]!.Plan;
}

/** The scans of `entries` under `node`. */
export const scansOfEntries = (node: PlanNode): PlanNode[] => [
  ...(node['Relation Name'] === 'entries' ? [node] : []),
  ...(node.Plans ?? []).flatMap(scansOfEntries),
];
