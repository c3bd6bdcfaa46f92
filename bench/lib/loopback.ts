/**
 * The network floor: the same number of bytes as one loopback HTTP response
 * from a tiny node:http server (another process) sending a prepared buffer.
 */
import { spawn } from 'node:child_process';

const SERVER = `
const http = require('node:http');
const body = Buffer.alloc(Number(process.argv[1]), 'x');
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
  res.end(body);
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

/** Best of `runs` times (seconds) to fetch `bytes` bytes over one response. */
export async function loopbackSeconds(bytes: number, runs = 3): Promise<number> {
  const child = spawn(process.execPath, ['-e', SERVER, String(bytes)], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
    let best = Infinity;
    for (let i = 0; i < runs; i++) {
      const started = performance.now();
      const res = await fetch(`http://127.0.0.1:${port}/`);
      let got = 0;
      const reader = res.body!.getReader();
      for (let r = await reader.read(); !r.done; r = await reader.read()) got += r.value.byteLength;
      if (got !== bytes) throw new Error(`loopback floor: got ${got} of ${bytes} bytes`);
      best = Math.min(best, (performance.now() - started) / 1000);
    }
    return best;
  } finally {
    child.kill();
  }
}
