/**
 * A response body's bytes as text. Batches are megabytes of mostly ASCII
 * (values are JSON as written, keys and stamps ASCII), and in Node a
 * TextDecoder transcodes at about 0.7 GB/s while reading ASCII as Latin-1
 * is a copy: 2 MB in about 0.8 ms against 2.8 ms, the check included (about
 * a tenth of the client's CPU in an initial sync). Bytes of ASCII read the
 * same in either; anything else is decoded as UTF-8.
 */
const decoder = new TextDecoder();

interface NodeBufferClass {
  from(bytes: ArrayBuffer): { length: number; toString(encoding: 'latin1'): string };
  byteLength(text: string, encoding: 'utf8'): number;
}

/** Node's Buffer when there is one; the browser bundle imports nothing from Node. */
const NodeBuffer = (globalThis as { Buffer?: NodeBufferClass }).Buffer;

export function utf8Text(bytes: ArrayBuffer): string {
  if (NodeBuffer) {
    const buffer = NodeBuffer.from(bytes);
    const latin1 = buffer.toString('latin1');
    // Each byte of 0x80 or above became a character that takes two bytes in UTF-8: none means ASCII.
    if (NodeBuffer.byteLength(latin1, 'utf8') === buffer.length) return latin1;
  }
  return decoder.decode(bytes);
}
