import type { ApiServices } from '../api-services.js';
import type { App, AppContext } from '../http/app-env.js';
import { ProblemError, validationProblem } from '../http/problem.js';
import { rawValue } from '../http/json-body.js';
import { isJsonType, keyFromPath, keyFromQuery, parseRevTag } from '../http/request.js';
import { MEDIA_TYPE_MESSAGE, isMediaType } from '../http/media-type.js';
import { keyProblem } from '@keysync/protocol';
import { listKeys, readLiveEntry } from '../store/reads.js';
import { formatTs } from '../store/time.js';
import { WriteBatcher } from '../store/write-batch.js';
import { applyWrites, type CommitNotice, type WriteCondition, type WriteOp } from '../store/writes.js';
import {
  bulkWriteRoute,
  deleteKeyByQueryRoute,
  deleteKeyRoute,
  getKeyByQueryRoute,
  getKeyRoute,
  listKeysRoute,
  putKeyByQueryRoute,
  putKeyRoute,
} from './keys.routes.js';

export function registerKeyHandlers(app: App, services: ApiServices): void {
  const { db } = services.database;
  const { limits } = services;
  const onCommit = ({ storeId, headRev }: CommitNotice) => {
    services.hub.committed(storeId, headRev);
    services.statistics.committed(storeId, headRev);
  };
  // Unconditional writes of a store that arrive together commit together (see write-batch.ts).
  const batcher = new WriteBatcher(db, onCommit);

  const putKey = async (c: AppContext, storeId: string, key: string) => {
    const contentType = c.req.header('content-type');
    let op: WriteOp;
    if (isJsonType(contentType)) op = { op: 'put', key, json: rawValue(c) };
    else op = { op: 'put', key, bytes: new Uint8Array(await c.req.arrayBuffer()), contentType: byteContentType(contentType) };
    const condition: WriteCondition = {};
    const ifMatch = c.req.header('if-match');
    const ifNoneMatch = c.req.header('if-none-match');
    if (ifMatch !== undefined) condition.ifMatchRev = parseRevTag(ifMatch, 'If-Match');
    if (ifNoneMatch !== undefined) {
      if (ifNoneMatch.trim() !== '*') throw validationProblem([{ path: 'If-None-Match', message: 'only `*` is supported on writes' }]);
      condition.ifAbsent = true;
    }
    const conditional = condition.ifMatchRev !== undefined || condition.ifAbsent;
    const [result] = conditional ? await applyWrites(db, storeId, [op], condition, onCommit) : await batcher.write(storeId, [op]);
    services.metrics.writes.inc();
    return result!;
  };

  const getKey = async (c: AppContext, storeId: string, key: string) => {
    const row = await readLiveEntry(db, storeId, key);
    const etag = `"${row.rev}"`;
    const headers = { ETag: etag, 'X-Keysync-Rev': String(row.rev), 'X-Keysync-Ts': formatTs(row.tsUs), 'Cache-Control': 'no-cache' };
    const inm = c.req.header('if-none-match');
    if (inm && inm.split(',').some((t) => t.trim().replace(/^W\//, '') === etag || t.trim() === '*')) {
      return c.body(null, 304, headers);
    }
    if (row.json !== null) return c.body(row.json, 200, { ...headers, 'Content-Type': 'application/json' });
    // A content type stored before write-time checks existed cannot break the read.
    const type = row.contentType !== null && isMediaType(row.contentType) ? row.contentType : 'application/octet-stream';
    return c.body((row.bytes ?? new Uint8Array()) as Uint8Array<ArrayBuffer>, 200, { ...headers, 'Content-Type': type });
  };

  const deleteKey = async (c: AppContext, storeId: string, key: string) => {
    const condition: WriteCondition = { mustExist: true };
    const ifMatch = c.req.header('if-match');
    if (ifMatch !== undefined) condition.ifMatchRev = parseRevTag(ifMatch, 'If-Match');
    const [result] = await applyWrites(db, storeId, [{ op: 'delete', key }], condition, onCommit);
    services.metrics.writes.inc();
    return result!;
  };

  // Each single-key operation twice: the key as a path segment, and in the query (reaches `.` and `..`).
  app.openapi(putKeyRoute, async (c) => c.json(await putKey(c, c.req.valid('param').storeId, keyFromPath(c)), 200));
  app.openapi(putKeyByQueryRoute, async (c) => c.json(await putKey(c, c.req.valid('param').storeId, keyFromQuery(c)), 200));
  app.openapi(getKeyRoute, (c) => getKey(c, c.req.valid('param').storeId, keyFromPath(c)));
  app.openapi(getKeyByQueryRoute, (c) => getKey(c, c.req.valid('param').storeId, keyFromQuery(c)));
  app.openapi(deleteKeyRoute, async (c) => c.json(await deleteKey(c, c.req.valid('param').storeId, keyFromPath(c)), 200));
  app.openapi(deleteKeyByQueryRoute, async (c) => c.json(await deleteKey(c, c.req.valid('param').storeId, keyFromQuery(c)), 200));

  app.openapi(bulkWriteRoute, async (c) => {
    const { storeId } = c.req.valid('param');
    const { ops } = c.req.valid('json');
    if (ops.length > limits.maxBulkOps) {
      throw validationProblem([{ path: 'ops', message: `at most ${limits.maxBulkOps} ops per request (KEYSYNC_MAX_BULK_OPS)` }]);
    }
    const writeOps = ops.map((op, i): WriteOp => {
      const problem = keyProblem(op.key);
      if (problem) throw validationProblem([{ path: `ops.${i}.key`, message: problem }]);
      if (op.op === 'delete') return { op: 'delete', key: op.key };
      if ('base64' in op) {
        const bytes = Buffer.from(op.base64, 'base64');
        checkValueSize(bytes.length, limits.maxValueBytes, i);
        return { op: 'put', key: op.key, bytes: new Uint8Array(bytes), contentType: op.contentType };
      }
      if (op.value === undefined) throw validationProblem([{ path: `ops.${i}.value`, message: 'a put needs `value` or `base64`' }]);
      // The validator saw a placeholder: the value's index among the body's values.
      const json = rawValue(c, op.value as number);
      // A UTF-16 code unit is at most 3 bytes of UTF-8: most values need no count.
      if (json.length * 3 > limits.maxValueBytes) checkValueSize(Buffer.byteLength(json), limits.maxValueBytes, i);
      return { op: 'put', key: op.key, json };
    });
    const results = await batcher.write(storeId, writeOps);
    services.metrics.writes.inc(results.length);
    return c.json({ results }, 200);
  });

  app.openapi(listKeysRoute, async (c) => {
    const { storeId } = c.req.valid('param');
    const { prefix, after, limit } = c.req.valid('query');
    return c.json(await listKeys(db, storeId, { prefix, after, limit }), 200);
  });
}

/** The content type a byte value is stored with: the request's, checked, or application/octet-stream without one. */
function byteContentType(header: string | undefined): string {
  const type = header?.trim();
  if (!type) return 'application/octet-stream';
  if (!isMediaType(type)) throw validationProblem([{ path: 'Content-Type', message: MEDIA_TYPE_MESSAGE }]);
  return type;
}

function checkValueSize(bytes: number, max: number, index: number): void {
  if (bytes > max) {
    throw new ProblemError(413, 'payload-too-large', 'Payload Too Large', `ops.${index}: the value is larger than ${max} bytes (KEYSYNC_MAX_VALUE_BYTES)`);
  }
}
