/**
 * Host names that always mean this machine: `localhost`, `127.x.x.x` and
 * `[::1]` (IPv6 in brackets, as a URL's hostname and a Host header write
 * it). Lower case. The server's open mode answers only requests addressed
 * by these; the client does not ask a server named by one to compress.
 */
export function isLoopbackName(name: string): boolean {
  return name === 'localhost' || name === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}
