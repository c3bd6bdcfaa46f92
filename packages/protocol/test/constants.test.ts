import { describe, expect, it } from 'vitest';
import { PROBLEMS, problemKind, problemType } from '../src/constants.js';

describe('problemKind', () => {
  it('returns the suffix of a keysync problem type', () => {
    expect(problemKind('https://keysync.dev/problems/ack-required')).toBe('ack-required');
    expect(problemKind('https://keysync.dev/problems/since-purged')).toBe(PROBLEMS.sincePurged);
  });

  it('is the inverse of problemType for every kind', () => {
    for (const kind of Object.values(PROBLEMS)) expect(problemKind(problemType(kind))).toBe(kind);
  });

  it('returns undefined for foreign, empty or missing types', () => {
    expect(problemKind('about:blank')).toBeUndefined();
    expect(problemKind('https://example.com/problems/ack-required')).toBeUndefined();
    expect(problemKind('https://keysync.dev/problems/')).toBeUndefined();
    expect(problemKind(undefined)).toBeUndefined();
  });
});
