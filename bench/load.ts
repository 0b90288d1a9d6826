/**
 * HTTP load generator: many connections, each sending the next announce as soon as the previous answer
 * is complete, keep-alive or one connection per request. Run as a child process:
 *   node dist/bench/load.js '{"host":"127.0.0.1","port":6969,...}'   -> prints one JSON line of results
 */
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';

export interface LoadOptions {
  host: string;
  port: number;
  seconds: number;
  connections: number;
  keepAlive: boolean;
  torrents: number;
  /** Zipf exponent of torrent popularity. */
  zipf: number;
  /** Share of announces from seeders (left=0). */
  seeders: number;
  numwant: number;
  /** Distinct request lines prepared (peers cycle through them). */
  pool: number;
  /** Stop after this many requests even if time remains (used to warm up with one pass over the pool). */
  maxRequests?: number;
  /**
   * Offered requests per second over all connections: request i goes out no earlier than i/rate
   * seconds after the start (each connection still waits for its previous answer). Unset: as fast as
   * the answers come (the saturated cases).
   */
  rate?: number;
  /** Private mode: peers announce as this many users, through /PASSKEY/announce (see benchPasskey). */
  users?: number;
  /** HTTPS: every connection makes a TLS handshake first (the certificate is not checked). */
  tls?: boolean;
}

/** A connection to the server (TLS when asked), `ready` called once requests can go out. */
function connect(o: LoadOptions, ready: () => void): Socket {
  if (o.tls) return connectTls({ host: o.host, port: o.port, rejectUnauthorized: false }, ready).setNoDelay(true);
  return connectTcp({ host: o.host, port: o.port, noDelay: true }, ready);
}

/** The passkey of benchmark user `n` (ids start at 1). */
export function benchPasskey(n: number): string {
  return `bench${String(n).padStart(27, '0')}`;
}

export interface LoadResult {
  requests: number;
  failures: number;
  errors: number;
  seconds: number;
  rps: number;
  p50us: number;
  p99us: number;
  meanBodyBytes: number;
}

function escape(bytes: Buffer): string {
  let out = '';
  for (const b of bytes) out += '%' + (b < 16 ? '0' : '') + b.toString(16);
  return out;
}

/**
 * A seeded PRNG (mulberry32): every load process builds the same peers and torrents, so the warm-up
 * pass really fills the swarms the measured runs announce to.
 */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function seededBytes(random: () => number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) out[i] = Math.floor(random() * 256);
  return out;
}

/** Torrent indices with Zipf(s) popularity, by inverse CDF. */
function zipfSampler(n: number, s: number, random: () => number): () => number {
  const cdf = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) cdf[i] = total += 1 / Math.pow(i + 1, s);
  return () => {
    const x = random() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

export interface PoolPeer {
  infoHash: Buffer;
  peerId: Buffer;
  port: number;
  left: number;
}

/** The simulated peers: each announces one torrent, picked by Zipf popularity; a share are seeders. */
export function buildPool(o: Pick<LoadOptions, 'torrents' | 'zipf' | 'seeders' | 'pool'>): PoolPeer[] {
  const random = seededRandom(0x5eed);
  const hashes = Array.from({ length: o.torrents }, () => seededBytes(random, 20));
  const pick = zipfSampler(o.torrents, o.zipf, random);
  return Array.from({ length: o.pool }, (_, i) => ({
    infoHash: hashes[pick()]!,
    peerId: seededBytes(random, 20),
    port: 1024 + (i % 64000),
    left: random() < o.seeders ? 0 : 1 + Math.floor(random() * 1e9),
  }));
}

export function buildRequests(o: LoadOptions): Buffer[] {
  const connection = o.keepAlive ? 'keep-alive' : 'close';
  return buildPool(o).map((p, i) => {
    const route = o.users ? `/${benchPasskey(1 + (i % o.users))}/announce` : '/announce';
    const path =
      `${route}?info_hash=${escape(p.infoHash)}&peer_id=${escape(p.peerId)}&port=${p.port}` +
      `&uploaded=0&downloaded=0&left=${p.left}&numwant=${o.numwant}&compact=1`;
    return Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${o.host}\r\nConnection: ${connection}\r\n\r\n`, 'latin1');
  });
}

/** Milliseconds until request `i` is due under `o.rate` (0 or less: now). */
export function paceWait(o: LoadOptions, started: number, i: number): number {
  return o.rate ? started + (i * 1000) / o.rate - performance.now() : 0;
}

/** Requests/s and latency percentiles from the recorded latencies (microseconds). */
export function summarize(latencies: Float64Array, count: number, seconds: number, extra: { failures: number; errors: number; bodyBytes: number }): LoadResult {
  const sorted = latencies.subarray(0, Math.min(count, latencies.length)).sort();
  const at = (q: number): number => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : 0);
  return {
    requests: count,
    failures: extra.failures,
    errors: extra.errors,
    seconds,
    rps: count / seconds,
    p50us: at(0.5),
    p99us: at(0.99),
    meanBodyBytes: count ? extra.bodyBytes / count : 0,
  };
}

const HEADER_END = Buffer.from('\r\n\r\n');
const FAILURE = Buffer.from('d14:failure reason');

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const requests = buildRequests(o);
  const latencies = new Float64Array(Math.max(1, Math.ceil(o.seconds * 200_000)));
  let count = 0;
  let failures = 0;
  let errors = 0;
  let bodyBytes = 0;
  let next = 0;
  const started = performance.now();
  const stopAt = started + o.seconds * 1000;
  const maxRequests = o.maxRequests ?? Infinity;
  const finished = (): boolean => next >= maxRequests || performance.now() >= stopAt;

  const record = (sentAt: number, body: Buffer): void => {
    if (count < latencies.length) latencies[count] = (performance.now() - sentAt) * 1000;
    count++;
    bodyBytes += body.length;
    if (body.subarray(0, FAILURE.length).equals(FAILURE)) failures++;
  };

  /** Splits complete responses off `pending`; returns the body of one, or null if incomplete. */
  const takeResponse = (pending: Buffer): { body: Buffer; rest: Buffer } | null => {
    const headerEnd = pending.indexOf(HEADER_END);
    if (headerEnd === -1) return null;
    const head = pending.subarray(0, headerEnd).toString('latin1');
    const match = /content-length:\s*(\d+)/i.exec(head);
    const length = match ? Number(match[1]) : 0;
    const end = headerEnd + 4 + length;
    if (pending.length < end) return null;
    if (!head.startsWith('HTTP/1.1 200')) errors++;
    return { body: pending.subarray(headerEnd + 4, end), rest: pending.subarray(end) };
  };

  const keepAliveWorker = (): Promise<void> =>
    new Promise((resolve) => {
      const socket: Socket = connect(o, () => send());
      let pending: Buffer = Buffer.alloc(0);
      let sentAt = 0;
      const send = (): void => {
        if (finished()) {
          socket.end();
          return resolve();
        }
        const i = next++;
        const write = (): void => {
          sentAt = performance.now();
          socket.write(requests[i % requests.length]!);
        };
        const wait = paceWait(o, started, i);
        if (wait > 0) setTimeout(write, wait);
        else write();
      };
      socket.on('data', (chunk: Buffer) => {
        pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
        const response = takeResponse(pending);
        if (!response) return;
        pending = Buffer.from(response.rest);
        record(sentAt, response.body);
        send();
      });
      socket.on('error', () => {
        errors++;
        resolve();
      });
    });

  const closeWorker = async (): Promise<void> => {
    while (!finished()) {
      await new Promise<void>((resolve) => {
        const sentAt = performance.now();
        const socket = connect(o, () => socket.end(requests[next++ % requests.length]!));
        const chunks: Buffer[] = [];
        socket.on('data', (chunk: Buffer) => chunks.push(chunk));
        socket.on('close', () => {
          const response = takeResponse(Buffer.concat(chunks));
          if (response) record(sentAt, response.body);
          else errors++;
          resolve();
        });
        socket.on('error', () => {});
      });
    }
  };

  await Promise.all(Array.from({ length: o.connections }, () => (o.keepAlive ? keepAliveWorker() : closeWorker())));
  return summarize(latencies, count, (performance.now() - started) / 1000, { failures, errors, bodyBytes });
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const result = await runLoad(JSON.parse(process.argv[2]!) as LoadOptions);
  process.stdout.write(JSON.stringify(result) + '\n');
}
