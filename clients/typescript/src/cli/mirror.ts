#!/usr/bin/env node
/**
 * keysync-mirror: keeps a directory a live replica of a keysync store.
 *
 *   keysync-mirror <baseUrl> <storeId> <dir> [--token T] [--prefix P]
 *
 * Each key is one file in <dir> (JSON values as `<name>.json`, bytes raw as
 * `<name>`; names percent-encoded, see file-names.ts); the sync state lives
 * in <dir>/.keysync, so a restart resumes with `since` and moves only what
 * changed. A progress bar shows on stderr during the initial sync when stderr
 * is a terminal. Ctrl-C (SIGINT) or SIGTERM stops cleanly with exit code 0.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CallbackError, StoreDeletedError } from '../errors.js';
import { FileStore } from '../stores/file.js';
import { subscribe, type SyncClient } from '../sync-client.js';
import { describeError } from './describe-error.js';
import { checkIdentity, DirectoryInUseError, PinnedDirectoryStore } from './identity.js';
import { ProgressBar } from './progress.js';

const USAGE = `usage: keysync-mirror <baseUrl> <storeId> <dir> [--token <token>] [--prefix <prefix>] [--batch-size <n>] [--quiet]

Keeps <dir> a live copy of a keysync store: one file per key (JSON values as
<name>.json, bytes as <name>; key names percent-encoded), sync state in
<dir>/.keysync. The token may also come from KEYSYNC_TOKEN.`;

interface Args {
  baseUrl: string;
  storeId: string;
  dir: string;
  token: string | undefined;
  prefix: string | undefined;
  batchSize: number | undefined;
  quiet: boolean;
}

function parse(argv: string[]): Args {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      token: { type: 'string' },
      prefix: { type: 'string' },
      'batch-size': { type: 'string' },
      quiet: { type: 'boolean', short: 'q', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const [baseUrl, storeId, dir, ...rest] = positionals;
  if (!baseUrl || !storeId || !dir || rest.length > 0) throw new UsageError('expected <baseUrl> <storeId> <dir>');
  if (!/^https?:\/\//.test(baseUrl)) throw new UsageError(`baseUrl must be an http(s) URL, got "${baseUrl}"`);
  let batchSize: number | undefined;
  if (values['batch-size'] !== undefined) {
    batchSize = Number(values['batch-size']);
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new UsageError('--batch-size must be a positive integer');
  }
  return {
    baseUrl,
    storeId,
    dir: resolve(dir),
    batchSize,
    quiet: values.quiet === true,
    token: values.token ?? (process.env['KEYSYNC_TOKEN'] || undefined),
    prefix: values.prefix,
  };
}

class UsageError extends Error {}

async function main(): Promise<number> {
  const args = parse(process.argv.slice(2));
  const stateDir = join(args.dir, '.keysync');
  const tmpDir = join(stateDir, 'tmp');
  const identity = { storeId: args.storeId, prefix: args.prefix ?? '' };
  // Temp files of a write that never reached its rename.
  await rm(tmpDir, { recursive: true, force: true });
  await mkdir(tmpDir, { recursive: true });
  const store = new PinnedDirectoryStore(await FileStore.open(join(stateDir, 'state')), args.dir, tmpDir).pinOnFirstWrite(stateDir, identity);
  try {
    await checkIdentity(args.dir, stateDir, identity, store);
  } catch (error) {
    await store.close();
    throw error;
  }

  const log = (line: string) => {
    if (!args.quiet) process.stderr.write(`${line}\n`);
  };
  const bar = process.stderr.isTTY && !args.quiet ? new ProgressBar(process.stderr, 'syncing') : undefined;
  let timer: NodeJS.Timeout | undefined;
  let client: SyncClient | undefined;
  let changes = 0;

  const finished = new Promise<number>((done) => {
    const stop = async (code: number) => {
      if (timer) clearInterval(timer);
      bar?.clear();
      await client?.unsubscribe();
      await store.close();
      done(code);
    };
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        log(`${signal}: stopping`);
        void stop(0);
      });
    }
    client = subscribe({
      baseUrl: args.baseUrl,
      token: args.token,
      storeId: args.storeId,
      prefix: args.prefix,
      batchSize: args.batchSize,
      store,
      onChange: () => {
        changes++;
      },
      onComplete: () => {
        if (timer) clearInterval(timer);
        if (bar && client) bar.update(client.progress.done, client.progress.total, true);
        bar?.clear();
        void store.getCheckpoint().then((rev) => log(`in sync at rev ${rev} (${changes} changes applied); following live changes`));
      },
      onStateChange: (state, { error }) => {
        if (state === 'reconnecting') log(`reconnecting to ${args.baseUrl}: ${describeError(error)}`);
        else if (state === 'live') log('live');
      },
      onError: (error) => {
        bar?.clear();
        if (error instanceof CallbackError) {
          log(`warning: ${error.message}`);
          return;
        }
        log(error instanceof StoreDeletedError ? `stopped: ${error.message}` : `error: ${args.baseUrl}: ${describeError(error)}`);
        void stop(1);
      },
    });
    if (bar) timer = setInterval(() => client && bar.update(client.progress.done, client.progress.total), 100);
    log(`mirroring ${args.storeId}${args.prefix ? ` (prefix "${args.prefix}")` : ''} from ${args.baseUrl} into ${args.dir}`);
  });
  return finished;
}

main().then(
  // Exit now: an idle keep-alive socket of fetch must not hold the process open.
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`keysync-mirror: ${describeError(error)}\n`);
    if (error instanceof UsageError) process.stderr.write(`${USAGE}\n`);
    process.exitCode = error instanceof UsageError || error instanceof DirectoryInUseError ? 2 : 1;
  },
);
