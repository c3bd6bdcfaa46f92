/**
 * The child side of bench/lib/child.ts: a helper process reads its
 * arguments and answers the parent's commands over the IPC channel. Apart
 * from child.ts, which bundles the children with esbuild, so that no child
 * loads esbuild.
 */

/** The child side: answers each command with `handler`'s result (or `{error}`). */
export function serveCommands(handler: (msg: any) => Promise<unknown>): void {
  process.on('message', (msg) => {
    handler(msg).then(
      (result) => process.send!(result ?? {}),
      (err: unknown) => process.send!({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
    );
  });
  process.on('SIGTERM', () => process.exit(0));
}

export const childArgs = <T>(): T => JSON.parse(process.argv[2] ?? '{}') as T;
