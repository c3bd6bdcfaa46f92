/**
 * Schema validation failures as the API reports them: problem+json 400
 * `validation` with every offending path. Shared by the app's validator hook
 * and by checks that run off the event loop (handshake-body/input.ts), so both
 * give the same answer.
 */
import { type ProblemError, validationProblem } from './problem.js';

/** The 400 for a failed schema parse (zod issues). */
export function issuesProblem(issues: readonly Issue[]): ProblemError {
  return validationProblem(unionBranchIssues(issues).map((issue) => ({ path: issue.path.map(String).join('.') || '(body)', message: issue.message })));
}

interface Issue {
  code: string;
  path: PropertyKey[];
  message: string;
  errors?: Issue[][];
  keys?: string[];
}

/**
 * A body that matches no branch of a union (the handshake's have | since)
 * fails with one "Invalid input" at the root. Report instead the issues of
 * the branch the body meant: the one that does not reject its keys as
 * unrecognized, else the one with the fewest issues.
 */
function unionBranchIssues(issues: readonly Issue[]): Issue[] {
  return issues.flatMap((issue) => {
    if (issue.code !== 'invalid_union' || !issue.errors?.length) return [issue];
    // Each branch rejects exactly the field that selects another branch ({"have":…,"since":…}):
    // the body mixed two alternatives.
    const rejected = issue.errors.map((branch) => branch.find((i) => i.code === 'unrecognized_keys' && i.path.length === 0)?.keys ?? []);
    if (rejected.every((keys) => keys.length === 1) && new Set(rejected.flat()).size === rejected.length) {
      const fields = rejected
        .flat()
        .reverse()
        .map((k) => JSON.stringify(k));
      return [{ code: 'custom', path: issue.path, message: `send either ${fields.join(' or ')}, not both` }];
    }
    const rejectsKeys = (branch: Issue[]) => branch.some((i) => i.code === 'unrecognized_keys' && i.path.length === 0);
    const ranked = [...issue.errors].sort((a, b) => Number(rejectsKeys(a)) - Number(rejectsKeys(b)) || a.length - b.length);
    return unionBranchIssues(ranked[0]!).map((i) => ({ ...i, path: [...issue.path, ...i.path] }));
  });
}
