/**
 * SSE frames as text. Values are minified JSON (no raw newlines), so each
 * event is one `data:` line and the frame of a write is built once and sent
 * to every subscriber.
 */
import { HEARTBEAT_COMMENT } from '@keysync/protocol';
import { entryJson } from '../store/entry-json.js';
import type { EntryRow } from '../store/reads.js';

export interface LiveRow {
  key: string;
  rev: number;
  deleted: boolean;
  /** the JSON value's text (null for bytes and deletes), for a value-level filter */
  json: string | null;
  frame: string;
  /** `frame` as an HTTP chunk, made by the first sink that writes this row alone and reused by the rest */
  wire?: Buffer;
}

export function rowFrame(row: EntryRow): LiveRow {
  const event = row.deleted ? 'delete' : 'put';
  return {
    key: row.key,
    rev: row.rev,
    deleted: row.deleted,
    json: row.json,
    frame: `event: ${event}\nid: ${row.rev}\ndata: ${entryJson(row)}\n\n`,
  };
}

/**
 * The frames of one tailer read, handed to every subscriber of the store. A
 * subscriber that takes all of them writes the batch itself, so the frames
 * are joined, and encoded for the wire, once per read rather than once per
 * subscriber.
 */
export class FrameBatch {
  private joined: string | undefined;
  /** the sink's wire encoding of `text`, made by the first subscriber that writes the batch and reused by the rest */
  wire: Buffer | undefined;
  /** rows each key filter accepts: feeds of a store without a prefix share the store's filter, so it runs once per read */
  private accepted: Map<(key: string) => boolean, LiveRow[]> | undefined;

  constructor(readonly rows: LiveRow[]) {}

  /** The rows `accepts` takes, in order: `rows` itself when it takes all (most feeds). */
  acceptedBy(accepts: (key: string) => boolean): LiveRow[] {
    let mine = this.accepted?.get(accepts);
    if (mine) return mine;
    const { rows } = this;
    mine = rows;
    for (let i = 0; i < rows.length; i++) {
      if (accepts(rows[i]!.key)) continue;
      // First refused key: copy what this filter takes.
      mine = rows.slice(0, i);
      for (let j = i + 1; j < rows.length; j++) if (accepts(rows[j]!.key)) mine.push(rows[j]!);
      break;
    }
    (this.accepted ??= new Map()).set(accepts, mine);
    return mine;
  }

  get text(): string {
    return (this.joined ??= joinFrames(this.rows));
  }
}

export const joinFrames = (rows: LiveRow[]) => rows.map((r) => r.frame).join('');

/** `heartbeatMs` lets a client notice a connection that died without closing (nothing for ~2 beats). */
export const readyFrame = (headRev: number, heartbeatMs: number) => `event: ready\ndata: {"headRev":${headRev},"heartbeatMs":${heartbeatMs}}\n\n`;

export const resetFrame = (reason: string, headRev: number, purgedRev: number) => `event: reset\ndata: ${JSON.stringify({ reason, headRev, purgedRev })}\n\n`;

export const storeDeletedFrame = (storeId: string) => `event: store-deleted\ndata: ${JSON.stringify({ storeId })}\n\n`;

/** The token that opened the feed was revoked; the stream closes. */
export const revokedFrame = (storeId: string) => `event: revoked\ndata: ${JSON.stringify({ storeId })}\n\n`;

/** A comment keeps proxies from cutting the idle connection; the id moves the client's Last-Event-ID. */
export const heartbeatFrame = (rev: number) => `: ${HEARTBEAT_COMMENT}\nid: ${rev}\n\n`;

/** Tells the client how long to wait before reconnecting (ms). */
export const retryFrame = (ms: number) => `retry: ${ms}\n\n`;
