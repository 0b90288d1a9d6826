/**
 * webtorrent's bittorrent-tracker as a WebSocket-only server, for comparison under the same load. Its
 * folder (an `npm install --ignore-scripts` of its own) is the first argument; prints {"port":N}.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

interface BtServer {
  on(event: string, listener: (error: Error) => void): void;
  listen(port: number, host: string, done: () => void): void;
  ws: { address(): { port: number } } | null;
  http: { address(): { port: number } } | null;
}

const modules = process.argv[2]!;
const { default: Server } = (await import(pathToFileURL(join(modules, 'bittorrent-tracker', 'server.js')).href)) as {
  default: new (options: Record<string, unknown>) => BtServer;
};
const server = new Server({ udp: false, http: false, ws: true, stats: false, trustProxy: false });
server.on('error', (error) => console.error('bittorrent-tracker error:', error.message));
server.on('warning', () => undefined); // bad client messages; the bench sends none
server.listen(0, '127.0.0.1', () => {
  const address = server.http?.address() ?? server.ws!.address();
  console.log(JSON.stringify({ port: address.port }));
});
// A clean exit on SIGINT/SIGTERM (lets --cpu-prof write its profile when profiling it).
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(0));
