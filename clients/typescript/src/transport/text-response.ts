/** A transport's entry: `fetch(url, init)` for GETs whose body is read whole as text. */
export type FetchText = (input: string, init?: RequestInit) => Promise<Response>;

/**
 * A Response whose body was read into a string by the transport: `text()`
 * hands that string over, where `new Response(text)` would encode it to bytes
 * for `text()` to decode again (half of what the Node transport saves, for a
 * 1 MB batch). The other readers, `clone()` and `body` work from the string,
 * so middleware sees an ordinary Response.
 *
 * Declared when first used (`textResponse`): naming the global Response
 * loads Node's fetch, 11 MB of RSS, which a process that imports the client
 * and has not synced yet need not pay.
 */
const declareTextResponse = () =>
  class TextResponse extends Response {
    readonly #text: string;
    #used = false;

    constructor(text: string, init: ResponseInit, url: string, redirected: boolean) {
      super(null, init);
      this.#text = text;
      let stream: ReadableStream<Uint8Array> | null | undefined;
      Object.defineProperties(this, {
        url: { value: url },
        redirected: { value: redirected },
        // A stream only for a caller that asks for one; reading it is reading the body.
        body: {
          get: () => {
            if (stream === undefined) stream = this.#used ? null : new Response(this.#take()).body;
            return stream;
          },
        },
        bodyUsed: { get: () => this.#used },
      });
    }

    override text(): Promise<string> {
      return Promise.resolve().then(() => this.#take());
    }

    override json(): Promise<any> {
      return this.text().then((text) => JSON.parse(text));
    }

    override arrayBuffer(): Promise<ArrayBuffer> {
      return this.text().then((text) => new TextEncoder().encode(text).buffer as ArrayBuffer);
    }

    override bytes(): Promise<Uint8Array<ArrayBuffer>> {
      return this.text().then((text) => new TextEncoder().encode(text));
    }

    override blob(): Promise<Blob> {
      return this.text().then((text) => new Blob([text], { type: this.headers.get('content-type') ?? '' }));
    }

    override clone(): Response {
      if (this.#used) throw new TypeError('Response.clone: Body has already been consumed.');
      return new TextResponse(this.#text, { status: this.status, statusText: this.statusText, headers: this.headers }, this.url, this.redirected);
    }

    /** The body, once: as fetch's, a second read rejects. */
    #take(): string {
      if (this.#used) throw new TypeError('Body is unusable: Body has already been read');
      this.#used = true;
      return this.#text;
    }
  };

type TextResponseClass = ReturnType<typeof declareTextResponse>;
let declared: TextResponseClass | undefined;

/** A TextResponse (see declareTextResponse). */
export function textResponse(text: string, init: ResponseInit, url: string, redirected: boolean): Response {
  declared ??= declareTextResponse();
  return new declared(text, init, url, redirected);
}
