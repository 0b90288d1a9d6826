/**
 * `npm run bench:lane-ab`: the redis driver's fast lane (src/redis/resp-lane.ts) against ioredis at its
 * best, in one process, alternated in short rounds so that the machine's drift hits every side alike
 * (issue #26 item 6: one Redis client, or a proven reason for two). This tree's boot() three times, on
 * the Redis at REDIS_URL (default redis://127.0.0.1:6379, keys under a prefix per side):
 *   lane           as shipped: the announce script's EVALSHA (and, private, the stream's XADDs) on the lane
 *   ioredis        the lane closed; the announce's EVALSHA through the store's ioredis client as
 *                  `evalshaBuffer`, every key and argument a Buffer (the keys written from the prefix, the
 *                  raw info hash and the suffixes into one allocation, no key strings), auto-pipelining and
 *                  commandTimeout as connectRedis tunes them; the XADDs through ioredis (fast_lane: false)
 *   ioredis-race   as ioredis, on a client of its own without commandTimeout (no timer per command), the
 *                  deadline kept by the store's one-timer Deadlines instead
 * Prints each side's tracker CPU per announce (process.cpuUsage, median of the rounds) and the per-round
 * ratios to the lane. Environment: PRIVATE=1 (private announces and the redis-stream backend; default
 * public), ROUNDS (default 12), PER_ROUND announces (default 20000).
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { boot } from '../src/index.js';
import { timedOut } from '../src/redis/timed-out.js';
import { RedisStore } from '../src/store/redis/store.js';

/** What this bench reaches of the redis store's insides (private fields: a bench may look in). */
/** ioredis has every command's Buffer twin at run time; its typings leave EVALSHA's out. */
interface BufferScripts {
  evalshaBuffer(sha: string, keyCount: number, ...args: Array<string | Buffer>): Promise<unknown>;
}
interface StoreInsides {
  params: { prefix: string };
  client: Redis;
  lanes: { close(): void };
  deadlines: { race<T>(call: Promise<T>, deadline: number, timeout: () => Error): Promise<T> };
  announceSha: string;
  keyHead: Buffer;
  keyTails(a: unknown): readonly Buffer[];
  viaLane: (
    this: StoreInsides,
    a: { infoHash: Buffer },
    torrentHash: Buffer | undefined,
    argv: Array<string | Buffer>,
    deadline: number,
  ) => Promise<unknown> | null;
}
type Running = Awaited<ReturnType<typeof boot>>;
interface Side {
  name: string;
  running: Running;
  cpu: number[];
}

const PRIVATE = process.env.PRIVATE === '1';
const ROUNDS = Number(process.env.ROUNDS ?? 12);
const PER_ROUND = Number(process.env.PER_ROUND ?? 20_000);
const IN_FLIGHT = 64;
const PEERS = 20_000;
const TORRENTS = 2_000;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PASSKEY = 'p'.repeat(32);
const HEX = Buffer.from('0123456789abcdef', 'latin1');

const hashes = Array.from({ length: TORRENTS }, () => randomBytes(20));
const peers = Array.from({ length: PEERS }, (_, i) => ({
  peerId: Buffer.from('-qB4630-' + String(i).padStart(12, '0')),
  infoHash: hashes[i % TORRENTS]!,
  uploaded: 0,
  sourceIp: Buffer.from([10, (i >> 16) & 255, (i >> 8) & 255, i & 255]),
}));

/** `<head>{<hex of tag>}:<tail>` for every tail, subarrays of one allocation. */
function taggedKeys(head: Buffer, tag: Buffer, tails: readonly Buffer[]): Buffer[] {
  const braced = 2 * tag.length + 3;
  let total = 0;
  for (const tail of tails) total += head.length + braced + tail.length;
  const out = Buffer.allocUnsafe(total);
  const keys: Buffer[] = [];
  let at = 0;
  for (const tail of tails) {
    const start = at;
    at += head.copy(out, at);
    out[at++] = 123;
    for (let j = 0; j < tag.length; j++) {
      out[at++] = HEX[tag[j]! >> 4]!;
      out[at++] = HEX[tag[j]! & 15]!;
    }
    out[at++] = 125;
    out[at++] = 58;
    at += tail.copy(out, at);
    keys.push(out.subarray(start, at));
  }
  return keys;
}

const prefixOf = (n: number): string => `lane-ab:${process.pid}:${n}:`;

async function bootSide(name: string, n: number): Promise<Side> {
  const prefix = prefixOf(n);
  const running = await boot({
    env: {
      TRACKER_TRACKER_DRIVER: 'redis',
      TRACKER_TRACKER_PARAMS: JSON.stringify({ url: REDIS_URL, prefix }),
      TRACKER_PRIVATE_ENABLED: PRIVATE ? 'true' : 'false',
      TRACKER_BACKEND_DRIVER: PRIVATE ? 'redis-stream' : 'noop',
      TRACKER_BACKEND_PARAMS: PRIVATE ? JSON.stringify({ url: REDIS_URL, stream: `${prefix}stream`, max_len: 100_000, fast_lane: name === 'lane' }) : '{}',
      TRACKER_UDP_ADDR: '',
      TRACKER_HTTP_ADDR: '127.0.0.1:0',
      TRACKER_METRICS_ADDR: '',
      TRACKER_MIN_INTERVAL_ENFORCEMENT: 'off',
      TRACKER_LOG_LEVEL: 'warn',
    },
  });
  if (PRIVATE) {
    const catalogue = running.tracker.store.catalogue;
    await catalogue.putUser({ id: 1, passkey: PASSKEY, upMultiplier: 1, downMultiplier: 1, enabled: true });
    for (const [i, infoHash] of hashes.entries()) await catalogue.putTorrent({ infoHash, id: i + 1, upMultiplier: 1, downMultiplier: 1, freeleech: false });
  }
  return { name, running, cpu: [] };
}

/**
 * Announces of the stores under `prefix` through ioredis with Buffer arguments: the store's client, or
 * `own` with the store's deadlines. (The store boot() hands out is wrapped by the metrics: the class's
 * method is replaced, for the stores of those prefixes only.)
 */
const viaIoredis = new Map<string, Redis | null>();
const closed = new WeakSet<StoreInsides>();
const proto = RedisStore.prototype as unknown as StoreInsides;
const viaLane = proto.viaLane;
proto.viaLane = function (this: StoreInsides, a, torrentHash, argv, deadline) {
  const own = viaIoredis.get(this.params.prefix);
  if (own === undefined || torrentHash) return viaLane.call(this, a, torrentHash, argv, deadline);
  if (!closed.has(this)) {
    this.lanes.close();
    closed.add(this);
  }
  const client = (own ?? this.client) as unknown as BufferScripts;
  const tails = this.keyTails(a);
  const call = client.evalshaBuffer(this.announceSha, tails.length, ...taggedKeys(this.keyHead, a.infoHash, tails), ...argv);
  return own ? this.deadlines.race(call, deadline, timedOut) : call;
};

let next = 0;
async function run(side: Side, count: number, event: 'started' | 'none'): Promise<void> {
  let sent = 0;
  const worker = async (): Promise<void> => {
    while (sent < count) {
      sent++;
      const peer = peers[next++ % PEERS]!;
      peer.uploaded += 1000;
      await side.running.tracker.announce({
        infoHash: peer.infoHash,
        peerId: peer.peerId,
        port: 6881,
        uploaded: peer.uploaded,
        downloaded: 0,
        left: 100,
        event,
        numwant: 50,
        compact: true,
        noPeerId: true,
        sourceIp: peer.sourceIp,
        ...(PRIVATE ? { passkey: PASSKEY } : {}),
      });
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
}

const sides = [await bootSide('lane', 0), await bootSide('ioredis', 1), await bootSide('ioredis-race', 2)];
// The lane side first: its NOSCRIPT falls back to ioredis, which loads the script for every side.
await run(sides[0]!, 100, 'started');
const own = new Redis(REDIS_URL, { enableAutoPipelining: true });
viaIoredis.set(`${prefixOf(1)}`, null);
viaIoredis.set(`${prefixOf(2)}`, own);
for (const side of sides) {
  await run(side, PEERS, 'started');
  await run(side, PER_ROUND, 'none');
}
for (let round = 0; round < ROUNDS; round++) {
  const order = sides.map((_, i) => sides[(i + round) % sides.length]!);
  for (const side of order) {
    const before = process.cpuUsage();
    await run(side, PER_ROUND, 'none');
    const used = process.cpuUsage(before);
    side.cpu.push((used.user + used.system) / PER_ROUND);
  }
}
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1]!;
const lane = sides[0]!;
console.log(`${PRIVATE ? 'private' : 'public'} announces, ${ROUNDS} rounds of ${PER_ROUND}, ${IN_FLIGHT} in flight`);
for (const side of sides) console.log(`${side.name}: ${median(side.cpu).toFixed(1)} µs per announce (rounds ${side.cpu.map((v) => v.toFixed(1)).join(' ')})`);
for (const side of sides.slice(1)) {
  const ratios = side.cpu.map((v, i) => v / lane.cpu[i]!);
  console.log(`${side.name}/lane ${(median(side.cpu) / median(lane.cpu)).toFixed(3)} (per round ${ratios.map((r) => r.toFixed(2)).join(' ')})`);
}
// Every side answered from Redis (a broken path would have thrown above); the ioredis sides' lanes were closed.
for (const side of sides) console.log(`${side.name}: driver events ${JSON.stringify(side.running.tracker.store.events?.() ?? {})}`);
for (const side of sides) await side.running.close();
own.disconnect();
process.exit(0);
