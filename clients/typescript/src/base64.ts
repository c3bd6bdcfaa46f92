/**
 * Base64 for the browser-safe core. `Buffer` is Node-only, and
 * `Uint8Array.fromBase64` is not in Node 20, so use atob/btoa (global in
 * browsers and in Node >= 16), chunked so large values do not overflow the
 * argument limit of `String.fromCharCode`.
 */

export function decodeBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export function encodeBase64(bytes: Uint8Array): string {
  const CHUNK = 0x8000;
  let binary = '';
  for (let i = 0; i < bytes.length; i += CHUNK) {
    binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  }
  return btoa(binary);
}
