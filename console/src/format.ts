/** How the console shows values: JSON pretty-printed, bytes as a hex dump with their content type. */

/** Pretty-printed JSON (two spaces). */
export function prettyJson(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

/**
 * A hex dump, 16 bytes a line: offset, hex bytes, printable ASCII.
 * @example hexDump(new Uint8Array([104, 105])) // "00000000  68 69  hi"
 */
export function hexDump(bytes: Uint8Array, maxBytes = 4096): string {
  const lines: string[] = [];
  const end = Math.min(bytes.length, maxBytes);
  for (let offset = 0; offset < end; offset += 16) {
    const row = bytes.subarray(offset, Math.min(offset + 16, end));
    const hex = [...row].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const text = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${offset.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  ${text}`);
  }
  if (bytes.length > end) lines.push(`… ${bytes.length - end} more bytes`);
  return lines.join('\n');
}

/** One line of a value for a table cell. */
export function preview(entry: { value?: unknown; base64?: string; contentType?: string; deleted?: boolean }): string {
  if (entry.deleted) return '(deleted)';
  if (entry.base64 !== undefined) {
    const b64 = entry.base64;
    const size = (b64.length * 3) / 4 - (b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0);
    return `${size} bytes · ${entry.contentType ?? ''}`;
  }
  const text = JSON.stringify(entry.value);
  return text.length > 120 ? `${text.slice(0, 119)}…` : text;
}
