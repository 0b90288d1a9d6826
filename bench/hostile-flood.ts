/**
 * The attacker of `npm run bench:hostile`, run as a child process until SIGTERM:
 *   node dist/bench/hostile-flood.js '{"host":"127.0.0.1","port":6969,"slow":2000,"slowAddresses":100,"rapid":4}'
 * - `slow` connections from `slowAddresses` loopback addresses (127.0.1.1, ...), each sending a partial
 *   request head and then one byte a second; one the tracker closes is opened again at once, so the
 *   pressure stays constant.
 * - `rapid` keep-alive connections from 127.0.0.2, each announcing as fast as answers come back (the
 *   announce budgets of issue 12 refuse these once they are in place).
 * Prints {"ready":true} once every slow connection has been opened, and one JSON line of counts at the end.
 */
import { connect } from 'node:net';
import { buildRequests } from './load.js';

export interface FloodOptions {
  host: string;
  port: number;
  slow: number;
  slowAddresses: number;
  rapid: number;
}

export interface FloodResult {
  /** Slow connections opened in all (the first `slow` and every reopening). */
  slowOpened: number;
  /** Slow connections the tracker closed. */
  slowClosed: number;
  /** Slow connections open when the flood stopped. */
  slowOpenAtEnd: number;
  /** Longest a closed slow connection was held, ms. */
  slowLongestHeldMs: number;
  /** Slow connections refused (closed without ever connecting, or reset). */
  slowErrors: number;
  rapidAnswered: number;
  rapidFailures: number;
}

const SLOW_HEAD = 'GET /announce?info_hash=';
const FAILURE = Buffer.from('d14:failure reason');

function flood(o: FloodOptions): { result: FloodResult; ready: Promise<void>; stop: () => void } {
  const result: FloodResult = { slowOpened: 0, slowClosed: 0, slowOpenAtEnd: 0, slowLongestHeldMs: 0, slowErrors: 0, rapidAnswered: 0, rapidFailures: 0 };
  let stopping = false;
  const sockets = new Set<ReturnType<typeof connect>>();
  let open = 0;
  const openSlow = (index: number): Promise<void> =>
    new Promise((resolve) => {
      const localAddress = `127.0.1.${1 + (index % o.slowAddresses)}`;
      const socket = connect({ host: o.host, port: o.port, localAddress });
      sockets.add(socket);
      let connectedAt = 0;
      let timer: NodeJS.Timeout | undefined;
      socket.on('connect', () => {
        connectedAt = performance.now();
        result.slowOpened++;
        open++;
        socket.write(SLOW_HEAD);
        timer = setInterval(() => socket.writable && socket.write('a'), 1000);
        resolve();
      });
      socket.on('error', () => {
        if (connectedAt === 0) result.slowErrors++;
      });
      socket.on('close', () => {
        clearInterval(timer);
        sockets.delete(socket);
        if (connectedAt !== 0) {
          open--;
          if (!stopping) {
            result.slowClosed++;
            result.slowLongestHeldMs = Math.max(result.slowLongestHeldMs, performance.now() - connectedAt);
          }
        }
        resolve();
        // Keep the pressure: a closed connection is opened again at once; a refused one (never connected,
        // or closed within 100 ms: a cap) after a pause, so that this process does not spin.
        const refused = connectedAt === 0 || performance.now() - connectedAt < 100;
        if (!stopping) setTimeout(() => void openSlow(index), refused ? 100 : 0);
      });
    });

  const rapidRequests = buildRequests({
    host: o.host,
    port: o.port,
    seconds: 0,
    connections: 0,
    keepAlive: true,
    torrents: 1000,
    zipf: 1,
    seeders: 0.3,
    numwant: 50,
    pool: 10_000,
  });
  let next = 0;
  const rapidWorker = (): void => {
    const socket = connect({ host: o.host, port: o.port, localAddress: '127.0.0.2', noDelay: true });
    sockets.add(socket);
    let pending = Buffer.alloc(0);
    const send = (): void => {
      if (!stopping) socket.write(rapidRequests[next++ % rapidRequests.length]!);
    };
    socket.on('connect', send);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const headEnd = pending.indexOf('\r\n\r\n');
        if (headEnd === -1) return;
        const length = Number(/content-length:\s*(\d+)/i.exec(pending.subarray(0, headEnd).toString('latin1'))?.[1] ?? 0);
        if (pending.length < headEnd + 4 + length) return;
        const body = pending.subarray(headEnd + 4, headEnd + 4 + length);
        if (body.subarray(0, FAILURE.length).equals(FAILURE)) result.rapidFailures++;
        else result.rapidAnswered++;
        pending = pending.subarray(headEnd + 4 + length);
        send();
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      sockets.delete(socket);
      if (!stopping) setTimeout(rapidWorker, 10);
    });
  };

  const ready = (async () => {
    // Opened in batches, as fast as the tracker accepts them.
    for (let i = 0; i < o.slow; i += 100) await Promise.all(Array.from({ length: Math.min(100, o.slow - i) }, (_, k) => openSlow(i + k)));
    for (let i = 0; i < o.rapid; i++) rapidWorker();
  })();
  const stop = (): void => {
    stopping = true;
    result.slowOpenAtEnd = open;
    for (const socket of sockets) socket.destroy();
  };
  return { result, ready, stop };
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const { result, ready, stop } = flood(JSON.parse(process.argv[2]!) as FloodOptions);
  await ready;
  process.stdout.write(JSON.stringify({ ready: true }) + '\n');
  process.once('SIGTERM', () => {
    stop();
    process.stdout.write(JSON.stringify(result) + '\n');
    process.exit(0);
  });
}
