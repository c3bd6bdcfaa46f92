/**
 * Child process for the crash test: applies numbered batches to a FileStore
 * forever and prints each batch number once applyBatch has resolved (i.e.
 * once the batch is acknowledged as durable). The parent SIGKILLs it.
 * Each batch n writes `last` at rev n together with checkpoint n, so after a
 * crash `last.rev === checkpoint` proves batch atomicity.
 */
import { FileStore } from '../../src/stores/file.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: crash-writer <dir>');
const store = await FileStore.open(dir);
let n = (await store.getCheckpoint()) ?? 0;
for (;;) {
  n++;
  const ts = `2026-11-26T07:00:00.${String(n).padStart(6, '0')}Z`;
  await store.applyBatch(
    [
      { kind: 'json', key: `k${n % 7}`, rev: n, ts, value: { n, pad: 'x'.repeat(n % 300) } },
      // Values of every size class, so commits touch leaf and overflow pages alike.
      { kind: 'json', key: `big${n % 3}`, rev: n, ts, value: 'y'.repeat((n * 997) % 20_000) },
      { kind: 'json', key: 'last', rev: n, ts, value: n },
    ],
    { checkpoint: n },
  );
  process.stdout.write(`${n}\n`);
}
