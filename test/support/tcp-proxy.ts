/**
 * A TCP proxy on 127.0.0.1 that a test controls, to play the network between
 * a client and the server:
 * - `silence()`: open connections stop forwarding in both directions but stay
 *   open, like a NAT or proxy that dropped its state, or a cable pulled
 *   without a reset. Nothing tells either end; new connections work.
 * - `refuse()` / `accept()`: new connections are closed at once (the server
 *   looks down, a fetch fails) or forwarded again.
 * - `cut()`: every open connection is reset.
 */
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  readonly port: number;
  readonly url: string;
  /** connections opened so far */
  readonly opened: number;
  silence(): void;
  refuse(): void;
  accept(): void;
  cut(): void;
  close(): Promise<void>;
}

/** Listens on `port` (0: any free port) and forwards to 127.0.0.1:`targetPort`. */
export async function startTcpProxy(targetPort: number, port = 0): Promise<TcpProxy> {
  const pairs = new Set<{ client: Socket; upstream: Socket; silent: boolean }>();
  let refusing = false;
  let opened = 0;
  const server: Server = createServer((client) => {
    if (refusing) {
      client.resetAndDestroy();
      return;
    }
    opened++;
    const upstream = connect(targetPort, '127.0.0.1');
    const pair = { client, upstream, silent: false };
    pairs.add(pair);
    // Forward by hand rather than pipe() so a silenced pair can drop bytes and keep both sockets open.
    client.on('data', (chunk) => pair.silent || upstream.write(chunk));
    upstream.on('data', (chunk) => pair.silent || client.write(chunk));
    const close = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', () => pair.silent || close());
    upstream.on('close', () => pair.silent || close());
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    port: bound,
    url: `http://127.0.0.1:${bound}`,
    get opened() {
      return opened;
    },
    silence() {
      for (const pair of pairs) pair.silent = true;
    },
    refuse() {
      refusing = true;
    },
    accept() {
      refusing = false;
    },
    cut() {
      for (const pair of pairs) {
        pair.client.resetAndDestroy();
        pair.upstream.destroy();
      }
      pairs.clear();
    },
    async close() {
      refusing = true;
      for (const pair of pairs) {
        pair.client.destroy();
        pair.upstream.destroy();
      }
      pairs.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
