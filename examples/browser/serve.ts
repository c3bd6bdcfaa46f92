/**
 * Serves the example on http://localhost:5173 (another origin than the
 * server's, as a real page would be):
 *   KEYSYNC_CORS_ORIGINS=http://localhost:5173 npm start      # the server
 *   npx tsx examples/browser/serve.ts                          # this page
 * then open http://localhost:5173/?server=http://127.0.0.1:8787&store=<id>
 */
import { createServer } from 'node:http';
import { buildExample } from './build.js';

const port = Number(process.env.PORT ?? 5173);
const page = await buildExample();
createServer((req, res) => {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  if (path === '/main.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(page.js);
  else if (path === '/') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page.html);
  else res.writeHead(404).end();
}).listen(port, 'localhost', () => console.log(`example on http://localhost:${port}/`));
