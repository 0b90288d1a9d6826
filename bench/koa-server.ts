/**
 * The Koa floor: Koa 3 + @koa/router with the tracker's HTTP routes registered, every announce and scrape
 * answered with the same 100-byte body as the bare server. What the tracker costs above this is its own.
 *   node dist/bench/koa-server.js [port]   -> prints {"port":N}
 */
import { createServer } from 'node:http';
import Router from '@koa/router';
import Koa from 'koa';

const BODY = Buffer.alloc(100, 0x61);
const app = new Koa();
app.silent = true;
const router = new Router();
const fixed = (ctx: Koa.Context): void => {
  ctx.status = 200;
  ctx.set('Content-Type', 'text/plain');
  ctx.body = BODY;
};
// The same route shape as src/frontend/http/app.ts.
router.get('/announce', fixed);
router.get('/scrape', fixed);
router.get('/:passkey/announce', fixed);
router.get('/:passkey/scrape', fixed);
router.get('/users/:passkey/announce', fixed);
router.get('/users/:passkey/scrape', fixed);
router.get('/healthz', (ctx) => {
  ctx.body = 'ok\n';
});
router.get('/readyz', (ctx) => {
  ctx.body = 'ready\n';
});
app.use(router.routes());

// The same wrapping as the tracker's (src/boot.ts): Koa settles the promise its handler returns.
const handle = app.callback();
const server = createServer((req, res) => void handle(req, res));
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  const address = server.address() as { port: number };
  process.stdout.write(JSON.stringify({ port: address.port }) + '\n');
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
