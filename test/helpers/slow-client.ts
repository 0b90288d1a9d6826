/** Test-side hostile HTTP clients: raw connections that hold a tracker's sockets, and a metrics reader. */
import { connect, type Socket } from 'node:net';
import { httpGet } from './http.js';

export interface HeldConnection {
  socket: Socket;
  /** performance.now() when the connection was established. */
  connectedAt: number;
  /** Settles when the tracker (or anyone) closed it: how long it was held and what it was sent. */
  closed: Promise<{ heldMs: number; received: Buffer }>;
}

export interface HoldOptions {
  host: string;
  port: number;
  /** The client's own address, e.g. 127.0.0.23: loopback gives a test many source addresses. */
  localAddress?: string;
  /** Sent at once; '' sends nothing. */
  head: string;
  /** Then one more byte every so many ms (never completing the head); 0: none. */
  dripMs: number;
}

/** Opens a connection that sends a partial request head, then drips one byte at a time; resolves once connected. */
export function holdConnection(o: HoldOptions): Promise<HeldConnection> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: o.host, port: o.port, localAddress: o.localAddress });
    const chunks: Buffer[] = [];
    let connectedAt = 0;
    let timer: NodeJS.Timeout | undefined;
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => {}); // a reset is one way of being closed
    const closed = new Promise<{ heldMs: number; received: Buffer }>((done) =>
      socket.once('close', () => {
        clearInterval(timer);
        done({ heldMs: performance.now() - connectedAt, received: Buffer.concat(chunks) });
      }),
    );
    socket.once('connect', () => {
      connectedAt = performance.now();
      if (o.head) socket.write(o.head);
      if (o.dripMs > 0) timer = setInterval(() => socket.writable && socket.write('a'), o.dripMs);
      resolve({ socket, connectedAt, closed });
    });
    socket.once('error', (error) => {
      if (connectedAt === 0) reject(error);
    });
  });
}

/**
 * The value of one series in a tracker's /metrics (0 when not counted yet), e.g. metric(port, 'x_total',
 * 'reason="timeout"'). Throws when the metric itself is missing: a rename must fail, not read as 0.
 */
export async function metric(metricsPort: number, name: string, labels = ''): Promise<number> {
  const text = (await httpGet('127.0.0.1', metricsPort, '/metrics')).body.toString();
  if (!text.split('\n').some((line) => line.startsWith(`# TYPE ${name} `))) throw new Error(`no metric ${name} in /metrics`);
  const series = labels ? `${name}{${labels}}` : name;
  for (const line of text.split('\n')) if (line.startsWith(series + ' ')) return Number(line.slice(series.length + 1));
  return 0;
}
