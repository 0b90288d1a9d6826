/**
 * Redis-side costs of the `redis` driver, measured on a redis-server of the benchmark's own:
 * memory per peer (1M peers as 10k swarms of 100, and as one swarm of 1M) and server time per announce
 * script call (INFO commandstats) at several swarm sizes.
 *   node dist/bench/redis-costs.js PORT   -> JSON lines
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { swarmKeys } from '../src/store/redis/keys.js';
import { redisDriver } from '../src/store/redis/driver.js';
import type { TrackerStore } from '../src/store/driver.js';
import { peerAddr } from './swarm-peers.js';

const port = Number(process.argv[2]);
const redis = new Redis(port, '127.0.0.1', { enableAutoPipelining: true });
const PREFIX = 't:';

async function usedMemory(): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)![1]);
}

/** Fills a swarm the way announces would (30% seeders), with plain ZADDs for speed. */
async function fillSwarm(infoHash: Buffer, peers: number, now: number): Promise<void> {
  const [s4, l4] = swarmKeys(PREFIX, infoHash);
  const chunk = 1000;
  const pending: Array<Promise<unknown>> = [];
  for (let start = 0; start < peers; start += chunk) {
    const seeders: Array<number | Buffer> = [];
    const leechers: Array<number | Buffer> = [];
    for (let i = start; i < Math.min(peers, start + chunk); i++) (i % 10 < 3 ? seeders : leechers).push(now, peerAddr(i));
    if (seeders.length) pending.push(redis.zadd(s4!, ...(seeders as [number, Buffer])));
    if (leechers.length) pending.push(redis.zadd(l4!, ...(leechers as [number, Buffer])));
    if (pending.length > 200) await Promise.all(pending.splice(0));
  }
  pending.push(redis.expire(s4!, 3601), redis.expire(l4!, 3601));
  await Promise.all(pending);
}

/**
 * Memory per peer of swarms filled by ZADD, then each announced into once with numwant 50 by one of its
 * leechers, as in use: the selection builds the sets' packed copies (lua/includes/packed-copy.lua).
 */
async function bytesPerPeer(store: TrackerStore, swarms: number, perSwarm: number): Promise<number> {
  await redis.flushall();
  const before = await usedMemory();
  const now = Math.floor(Date.now() / 1000);
  for (let s = 0; s < swarms; s += 100) {
    const hashes = Array.from({ length: Math.min(100, swarms - s) }, () => randomBytes(20));
    await Promise.all(hashes.map((infoHash) => fillSwarm(infoHash, perSwarm, now)));
    await Promise.all(hashes.map((infoHash) => store.announce({ ...publicAnnounce(infoHash, perSwarm), v4: peerAddr(3), seeder: false })));
  }
  return ((await usedMemory()) - before) / (swarms * perSwarm);
}

type Announce = Parameters<TrackerStore['announce']>[0];

/** Server time per announce script call (EVALSHA in INFO commandstats) over `calls` announces. */
async function scriptMicros(store: TrackerStore, calls: number, announce: (n: number) => Announce): Promise<number> {
  await redis.config('RESETSTAT');
  const pending: Array<Promise<unknown>> = [];
  for (let n = 0; n < calls; n++) {
    pending.push(store.announce(announce(n)));
    if (pending.length >= 32) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  const stats = await redis.info('commandstats');
  const line = /cmdstat_evalsha:calls=(\d+),usec=(\d+),usec_per_call=([\d.]+)/.exec(stats);
  return line ? Number(line[3]) : NaN;
}

/** A re-announce of a random peer of the swarm (30% seeders), numwant 50. */
function publicAnnounce(infoHash: Buffer, peers: number): Announce {
  const i = Math.floor(Math.random() * peers);
  return {
    infoHash,
    peerId: Buffer.alloc(20),
    v4: peerAddr(i),
    seeder: i % 10 < 3,
    event: 'none',
    numwant: 50,
    want4: true,
    want6: false,
    subnet4: 0,
    subnet6: 0,
    withPeerIds: false,
  };
}

/** The same in private mode: one user per peer, totals growing, a record id per announce. */
let record = 0;
function privateAnnounce(infoHash: Buffer, peers: number): Announce {
  const announce = publicAnnounce(infoHash, peers);
  const i = announce.v4!.readUInt16BE(4) - 1024;
  record++;
  const access = { requireRegistered: true, requireAllowed: false, userId: 1 + i, uploaded: record * 1000, downloaded: record, announceId: `b${record}` };
  return { ...announce, peerId: Buffer.alloc(20, i), access };
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1]!;
const out = (record: object): void => void process.stdout.write(JSON.stringify(record) + '\n');

const store = await redisDriver.open({ url: `redis://127.0.0.1:${port}`, prefix: PREFIX }, { peerTtl: 3600, logger: pino({ level: 'silent' }) });
out({ case: 'memory', layout: '10k swarms x 100 peers', bytesPerPeer: await bytesPerPeer(store, 10_000, 100) });
out({ case: 'memory', layout: '1 swarm x 1M peers', bytesPerPeer: await bytesPerPeer(store, 1, 1_000_000) });

await redis.flushall();
const now = Math.floor(Date.now() / 1000);
const sizes = [10, 100, 1000, 100_000, 1_000_000];
const swarms = new Map<number, Buffer>();
for (const size of sizes) {
  const infoHash = randomBytes(20);
  await fillSwarm(infoHash, size, now);
  swarms.set(size, infoHash);
}
const privateSwarm = randomBytes(20);
await store.catalogue!.putTorrent({ infoHash: privateSwarm, id: 1, upMultiplier: 1, downMultiplier: 1, freeleech: false });
for (let i = 0; i < 100; i++) {
  const announce = privateAnnounce(privateSwarm, 100);
  await store.announce({ ...announce, v4: peerAddr(i), seeder: i % 10 < 3, peerId: Buffer.alloc(20, i), access: { ...announce.access!, userId: 1 + i } });
}

// Rounds interleaved over the sizes, the median reported: this VM's speed drifts by minutes.
const ROUNDS = 3;
const rounds = new Map<string, number[]>();
const measure = async (name: string, run: () => Promise<number>): Promise<void> => {
  rounds.set(name, [...(rounds.get(name) ?? []), await run()]);
};
for (let round = 0; round < ROUNDS; round++) {
  for (const size of sizes) await measure(`public ${size}`, () => scriptMicros(store, 10_000, () => publicAnnounce(swarms.get(size)!, size)));
  await measure('private 100', () => scriptMicros(store, 10_000, () => privateAnnounce(privateSwarm, 100)));
}
for (const size of sizes) out({ case: 'announce', swarm: size, usPerCall: median(rounds.get(`public ${size}`)!), rounds: rounds.get(`public ${size}`) });
out({ case: 'announce', swarm: 100, private: true, usPerCall: median(rounds.get('private 100')!), rounds: rounds.get('private 100') });
await store.close();
redis.disconnect();
