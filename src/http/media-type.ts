/**
 * Content types of byte values, checked at write time: what a client stores
 * goes back out as a `Content-Type` header on every read, so anything a
 * header cannot carry (CR, LF, non-ASCII) or that is not a media type at all
 * must be refused when it is written, never discovered when it is read.
 */

/** RFC 9110 §8.3.1: `type "/" subtype *( OWS ";" OWS token "=" ( token / quoted-string ) )`, ASCII only. */
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const QUOTED = '"(?:[\\t \\x21\\x23-\\x5B\\x5D-\\x7E]|\\\\[\\t \\x21-\\x7E])*"';
export const MEDIA_TYPE_PATTERN = `^${TOKEN}/${TOKEN}(?:[ \\t]*;[ \\t]*${TOKEN}=(?:${TOKEN}|${QUOTED}))*$`;
const MEDIA_TYPE = new RegExp(MEDIA_TYPE_PATTERN);

export const MAX_MEDIA_TYPE_LENGTH = 255;

/** True for a media type a byte value may be stored with. @example isMediaType('image/png') // true */
export function isMediaType(text: string): boolean {
  return text.length <= MAX_MEDIA_TYPE_LENGTH && MEDIA_TYPE.test(text);
}

export const MEDIA_TYPE_MESSAGE = `must be a media type such as image/png or text/plain; charset=utf-8 (RFC 9110: ASCII token/token and parameters, at most ${MAX_MEDIA_TYPE_LENGTH} characters)`;
