/**
 * Generates a second TypeScript client from the committed
 * openapi/openapi.json with an independent generator (@hey-api/openapi-ts),
 * into test/contract/second-client/generated/ (gitignored). The contract
 * test then type-checks it and runs a sync round trip with it against a live
 * server: proof that the document, not our own client, is enough.
 *
 *   npm run openapi:second-client
 */
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from '@hey-api/openapi-ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const SECOND_CLIENT_DIR = join(root, 'test', 'contract', 'second-client', 'generated');

export async function generateSecondClient(): Promise<void> {
  rmSync(SECOND_CLIENT_DIR, { recursive: true, force: true });
  await createClient({
    input: join(root, 'openapi', 'openapi.json'),
    output: SECOND_CLIENT_DIR,
    plugins: ['@hey-api/client-fetch', '@hey-api/typescript', '@hey-api/sdk'],
    logs: { level: 'silent' },
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await generateSecondClient();
  console.log(`wrote ${SECOND_CLIENT_DIR}`);
}
