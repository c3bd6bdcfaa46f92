/**
 * docs/API.md is the public reference: it names every route of the OpenAPI
 * document, every problem kind and every live-feed event, and carries no
 * internal notes.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EVENTS, PROBLEMS, hashText } from '@keysync/protocol';
import { REPO_ROOT } from '../support/process.js';

const doc = readFileSync(`${REPO_ROOT}/docs/API.md`, 'utf8');
const openapi = JSON.parse(readFileSync(`${REPO_ROOT}/openapi/openapi.json`, 'utf8')) as { paths: Record<string, Record<string, unknown>> };

describe('docs/API.md', () => {
  it('names every route of the OpenAPI document with its method', () => {
    const routes = Object.entries(openapi.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    expect(routes.filter((r) => !doc.includes(r))).toEqual([]);
  });

  it('lists every problem kind in the errors table', () => {
    expect(Object.values(PROBLEMS).filter((kind) => !doc.includes(`| \`${kind}\` |`))).toEqual([]);
  });

  it('gives hash values for digests that the protocol package computes', () => {
    const examples = [...doc.matchAll(/`hashtextextended\('([^']*)', (-?\d+)\)` answers `(-?\d+)`/g)];
    expect(examples.length).toBeGreaterThanOrEqual(2);
    for (const [, key, seed, value] of examples) {
      const [hi, lo] = hashText(key!, Number(seed));
      expect(BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo >>> 0)).toString()).toBe(value);
    }
  });

  it('describes every live-feed event, and heartbeats', () => {
    expect(Object.values(EVENTS).filter((event) => !doc.includes(`| \`${event}\` |`))).toEqual([]);
    expect(doc).toContain(': ping');
  });

  it('carries no internal or historical notes', () => {
    expect(doc).not.toMatch(/\bseed\b|keysync note|issue \d|\(keysync (adds|also)/i);
  });
});
