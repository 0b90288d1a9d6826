/**
 * The baseline: a bare node:http server answering every request with the same 100-byte body; with a
 * certificate and key (PEM paths) a bare node:https server instead, the HTTPS floor.
 *   node dist/bench/bare-server.js [port] [cert key]   -> prints {"port":N}
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createSecureServer } from 'node:https';

const BODY = Buffer.alloc(100, 0x61);
const answer = (_req: IncomingMessage, res: ServerResponse): void => {
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': BODY.length });
  res.end(BODY);
};
const [certPath, keyPath] = process.argv.slice(3);
const server = certPath && keyPath ? createSecureServer({ cert: readFileSync(certPath), key: readFileSync(keyPath) }, answer) : createServer(answer);
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  const address = server.address() as { port: number };
  process.stdout.write(JSON.stringify({ port: address.port }) + '\n');
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
