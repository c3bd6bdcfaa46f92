/**
 * A stream of writes against a server URL, recording what was acknowledged
 * (2xx with rev and ts) and what was only attempted (the answer never came,
 * e.g. the server was killed mid-request). Every key is written once, so
 * the change log keeps one row per write and revs must be gap-free.
 */
export interface Acked {
  key: string;
  rev: number;
  ts: string;
  value: unknown;
}

export interface WriteStream {
  acked: Acked[];
  /** writes sent whose answer never came (each a list of keys written atomically) */
  unanswered: string[][];
  /** answers other than 2xx, by status */
  refused: Map<number, number>;
  stop(): Promise<void>;
}

export function streamWrites(
  baseUrl: string,
  storeId: string,
  opts: { writers?: number; headers?: Record<string, string>; bulkEvery?: number; prefix?: string } = {},
): WriteStream {
  const writers = opts.writers ?? 8;
  const bulkEvery = opts.bulkEvery ?? 5;
  const acked: Acked[] = [];
  const unanswered: string[][] = [];
  const refused = new Map<number, number>();
  let running = true;
  const headers = { 'content-type': 'application/json', ...opts.headers };
  const loop = async (w: number) => {
    for (let i = 0; running; i++) {
      const bulk = i % bulkEvery === bulkEvery - 1;
      const base = `${opts.prefix ?? ''}w${w}/${i}`;
      const keys = bulk ? [0, 1, 2].map((j) => `${base}/${j}`) : [base];
      const values = keys.map((key) => ({ key, pad: 'x'.repeat(64) }));
      let res: Response;
      try {
        res = bulk
          ? await fetch(`${baseUrl}/v1/stores/${storeId}/writes`, {
              method: 'POST',
              headers,
              body: JSON.stringify({ ops: keys.map((key, j) => ({ op: 'put', key, value: values[j] })) }),
            })
          : await fetch(`${baseUrl}/v1/stores/${storeId}/keys/${encodeURIComponent(keys[0]!)}`, { method: 'PUT', headers, body: JSON.stringify(values[0]) });
      } catch {
        unanswered.push(keys);
        // The server is gone or restarting: slow down instead of spinning.
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      let body: any;
      try {
        body = await res.json();
      } catch {
        unanswered.push(keys); // cut off mid-answer: we cannot know it was acknowledged
        continue;
      }
      if (res.status !== 200) {
        refused.set(res.status, (refused.get(res.status) ?? 0) + 1);
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      const results: Array<{ key: string; rev: number; ts: string }> = bulk ? body.results : [body];
      results.forEach((r, j) => acked.push({ key: r.key, rev: r.rev, ts: r.ts, value: values[j] }));
    }
  };
  const done = Promise.all(Array.from({ length: writers }, (_, w) => loop(w)));
  return {
    acked,
    unanswered,
    refused,
    async stop() {
      running = false;
      await done;
    },
  };
}

/** Every key's metadata through the paged listing. */
export async function listAll(
  baseUrl: string,
  storeId: string,
  headers: Record<string, string> = {},
): Promise<Map<string, { rev: number; ts: string; deleted?: true }>> {
  const out = new Map<string, { rev: number; ts: string; deleted?: true }>();
  let after: string | undefined;
  for (;;) {
    const q = new URLSearchParams({ limit: '1000', ...(after !== undefined ? { after } : {}) });
    const res = await fetch(`${baseUrl}/v1/stores/${storeId}/keys?${q}`, { headers });
    if (res.status !== 200) throw new Error(`listing: ${res.status} ${await res.text()}`);
    const page = (await res.json()) as { items: Array<{ key: string; rev: number; ts: string; deleted?: true }>; next: string | null };
    for (const { key, ...meta } of page.items) out.set(key, meta);
    if (!page.next) return out;
    after = page.next;
  }
}
