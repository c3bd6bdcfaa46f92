/** Assertions for RFC 9457 problem responses (API.md: every error is application/problem+json). */
import { expect } from 'vitest';
import { PROBLEM_TYPE_BASE } from '@keysync/protocol';

export interface ProblemCall {
  status: number;
  body: any;
  res: Response;
}

/**
 * Checks status, media type and shape of a problem answer; `kind` is the
 * suffix of its `type` URI. Returns the body for further checks.
 */
export function expectProblem(
  res: ProblemCall,
  status: number,
  kind?: string,
): { type: string; title: string; status: number; detail?: string; errors?: Array<{ path: string; message: string }> } {
  const where = `${res.res.url} -> ${res.status} ${typeof res.body === 'string' ? res.body.slice(0, 200) : JSON.stringify(res.body)?.slice(0, 300)}`;
  expect(res.status, where).toBe(status);
  expect(res.res.headers.get('content-type'), where).toMatch(/^application\/problem\+json/);
  expect(res.body, where).toMatchObject({ type: expect.any(String), title: expect.any(String), status });
  expect(res.body.type.startsWith(PROBLEM_TYPE_BASE), where).toBe(true);
  if (kind !== undefined) expect(res.body.type, where).toBe(PROBLEM_TYPE_BASE + kind);
  return res.body;
}

/** A validation problem naming `path` among its errors. */
export function expectValidation(res: ProblemCall, path: string | RegExp) {
  const body = expectProblem(res, 400);
  expect(Array.isArray(body.errors), JSON.stringify(body)).toBe(true);
  const paths = body.errors!.map((e) => e.path);
  if (typeof path === 'string') expect(paths, JSON.stringify(body)).toContain(path);
  else
    expect(
      paths.some((p) => path.test(p)),
      JSON.stringify(body),
    ).toBe(true);
  for (const e of body.errors!) expect(e).toEqual({ path: expect.any(String), message: expect.any(String) });
  return body;
}

export const TS_FORMAT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
