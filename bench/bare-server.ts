/** The baseline: a bare node:http server answering every request with the same 100-byte body. */
import { createServer } from 'node:http';

const BODY = Buffer.alloc(100, 0x61);
const server = createServer((_req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': BODY.length });
  res.end(BODY);
});
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  const address = server.address() as { port: number };
  process.stdout.write(JSON.stringify({ port: address.port }) + '\n');
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
