/**
 * The narrowed wire types (src/wire-types.ts) against the generated OpenAPI
 * types they derive from (src/schema.ts): narrowing must not make a response
 * unreadable or a request unacceptable. Checked by `tsc --noEmit` (the
 * expectTypeOf calls are no-ops at runtime).
 */
import { describe, expectTypeOf, it } from 'vitest';
import type { components } from '../src/schema.js';
import type {
  AckResponse,
  BatchResponse,
  BytesEntry,
  HandshakeRequest,
  HandshakeResponse,
  JsonEntry,
  Problem,
  ReadyEventData,
  TombstoneEntry,
  WireEntry,
} from '../src/wire-types.js';

type S = components['schemas'];

describe('narrowed wire types', () => {
  it('read every response the generated schema describes', () => {
    expectTypeOf<S['Handshake']>().toExtend<HandshakeResponse>();
    expectTypeOf<S['AckResult']>().toExtend<AckResponse>();
    expectTypeOf<S['BytesEntry']>().toExtend<BytesEntry>();
    expectTypeOf<S['Tombstone']>().toExtend<TombstoneEntry>();
    expectTypeOf<S['ReadyEvent']>().toExtend<ReadyEventData>();
    expectTypeOf<S['Problem']>().toExtend<Problem>();
    expectTypeOf<S['JsonEntry']>().toExtend<JsonEntry>();
    expectTypeOf<S['Entry']>().toExtend<WireEntry>();
    expectTypeOf<Omit<S['Batch'], 'entries'>>().toExtend<Omit<BatchResponse, 'entries'>>();
  });

  it('send only requests the generated schema accepts', () => {
    expectTypeOf<HandshakeRequest>().toExtend<S['HandshakeRequest']>();
    // An inline `batch` holds the narrowed entries (below), the rest is the schema's.
    expectTypeOf<Omit<HandshakeResponse, 'batch'>>().toExtend<Omit<S['Handshake'], 'batch'>>();
    expectTypeOf<NonNullable<HandshakeResponse['batch']>>().toExtend<BatchResponse>();
    // `kind` is optional in the narrowed types (the payload field discriminates as well).
    expectTypeOf<Required<JsonEntry>>().toExtend<S['JsonEntry']>();
    expectTypeOf<Required<BytesEntry>>().toExtend<S['BytesEntry']>();
    expectTypeOf<Required<TombstoneEntry>>().toExtend<S['Tombstone']>();
  });

  it('refuse a handshake naming both have and since', () => {
    // @ts-expect-error: `have` or `since`, never both
    const both: HandshakeRequest = { have: {}, since: 0 };
    expectTypeOf(both).toExtend<S['HandshakeRequest']>();
  });
});
