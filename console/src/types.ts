/** The typed client's types the console uses. */
import type { components } from '@keysync/client';

export type { ApiClient } from '@keysync/client';
export type Entry = components['schemas']['Entry'];
export type KeyMeta = components['schemas']['KeyMeta'];
export type SessionStatus = components['schemas']['SessionStatus'];
export type Store = components['schemas']['Store'];
