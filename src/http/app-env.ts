/**
 * The type of the app's context: what a handler or guard finds in `c.env`
 * (node-server's request and response; absent for `app.request` calls) and
 * in `c.var` (set by the app's own middleware and the route's guards).
 */
import type { HttpBindings } from '@hono/node-server';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { ApiServices } from '../api-services.js';
import type { Caller } from './caller.js';
import type { ScannedBody } from './json-check.js';
import type { HaveList } from '../sync/have-list.js';

export interface AppEnv {
  Bindings: Partial<HttpBindings>;
  Variables: {
    /** set for every request by createApp */
    services: ApiServices;
    /** who is calling, set by the route's access guard (requireAccess, feedAccess) */
    caller: Caller;
    /** the checked JSON body, set by the route's body guard (jsonBody, jsonValueBody) */
    scannedBody: ScannedBody;
    /** set by a route whose non-GET answer is worth compressing (the handshake); GET answers always are */
    compressible: true;
    /** a handshake body's `have` map when it was parsed off the event loop (handshake-body/reader.ts): keys under the prefix -> ts in micros */
    parsedHave: HaveList;
  };
}

export type App = OpenAPIHono<AppEnv>;
export type AppContext = Context<AppEnv>;
