/**
 * `npm run bench:private-ab -- TREE_A TREE_B`: the tracker's side of a private announce (policy, the redis
 * driver, the redis-stream backend; no HTTP) of two built trees (each a checkout with `dist/`), both
 * booted in this one process on the Redis at REDIS_URL (default redis://127.0.0.1:6379, keys under a
 * prefix per tree) and alternated in short rounds, so that the VM's drift hits both alike. Prints each
 * tree's CPU per announce (process.cpuUsage, median of the rounds) and the per-round ratios A/B.
 * Environment: ROUNDS (default 12), PER_ROUND announces (default 20000).
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** What this bench uses of another tree's boot() (its own types are its own: older trees have fewer fields). */
interface OtherCatalogue {
  putUser(user: Record<string, unknown>): Promise<void>;
  putTorrent(torrent: Record<string, unknown>): Promise<void>;
}
interface Side {
  tree: string;
  running: { tracker: { announce(req: unknown): Promise<unknown>; store: { catalogue: OtherCatalogue } }; close(): Promise<void> };
  cpu: number[];
}

const trees = process.argv.slice(2);
if (trees.length !== 2) {
  console.error('usage: npm run bench:private-ab -- TREE_A TREE_B (each a checkout with a built dist/)');
  process.exit(2);
}
const ROUNDS = Number(process.env.ROUNDS ?? 12);
const PER_ROUND = Number(process.env.PER_ROUND ?? 20_000);
const IN_FLIGHT = 64;
const PEERS = 20_000;
const TORRENTS = 2_000;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PASSKEY = 'p'.repeat(32);

const hashes = Array.from({ length: TORRENTS }, () => randomBytes(20));
const peers = Array.from({ length: PEERS }, (_, i) => ({
  peerId: Buffer.from('-qB4630-' + String(i).padStart(12, '0')),
  infoHash: hashes[i % TORRENTS]!,
  uploaded: 0,
  sourceIp: Buffer.from([10, (i >> 16) & 255, (i >> 8) & 255, i & 255]),
}));

const sides: Side[] = [];
for (const [n, tree] of trees.entries()) {
  const { boot } = (await import(pathToFileURL(resolve(tree, 'dist/src/index.js')).href)) as { boot: (options: unknown) => Promise<Side['running']> };
  const prefix = `private-ab:${process.pid}:${n}:`;
  const running = await boot({
    env: {
      TRACKER_TRACKER_DRIVER: 'redis',
      TRACKER_TRACKER_PARAMS: JSON.stringify({ url: REDIS_URL, prefix }),
      TRACKER_PRIVATE_ENABLED: 'true',
      TRACKER_BACKEND_DRIVER: 'redis-stream',
      TRACKER_BACKEND_PARAMS: JSON.stringify({ url: REDIS_URL, stream: `${prefix}stream`, max_len: 100_000 }),
      TRACKER_UDP_ADDR: '',
      TRACKER_HTTP_ADDR: '127.0.0.1:0',
      TRACKER_METRICS_ADDR: '',
      TRACKER_MIN_INTERVAL_ENFORCEMENT: 'off',
      TRACKER_LOG_LEVEL: 'warn',
    },
  });
  const catalogue = running.tracker.store.catalogue;
  await catalogue.putUser({ id: 1, passkey: PASSKEY, upMultiplier: 1, downMultiplier: 1, enabled: true });
  for (const [i, infoHash] of hashes.entries()) await catalogue.putTorrent({ infoHash, id: i + 1, upMultiplier: 1, downMultiplier: 1, freeleech: false });
  sides.push({ tree, running, cpu: [] });
}

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
        passkey: PASSKEY,
      });
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
}

for (const side of sides) {
  await run(side, PEERS, 'started');
  await run(side, PER_ROUND, 'none');
}
for (let round = 0; round < ROUNDS; round++) {
  for (const side of round % 2 === 0 ? sides : [...sides].reverse()) {
    const before = process.cpuUsage();
    await run(side, PER_ROUND, 'none');
    const used = process.cpuUsage(before);
    side.cpu.push((used.user + used.system) / PER_ROUND);
  }
}
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1]!;
const [a, b] = sides as [Side, Side];
for (const side of sides) console.log(`${side.tree}: ${median(side.cpu).toFixed(1)} µs per announce (rounds ${side.cpu.map((v) => v.toFixed(1)).join(' ')})`);
console.log(`A/B ${(median(a.cpu) / median(b.cpu)).toFixed(3)} (per round ${a.cpu.map((v, i) => (v / b.cpu[i]!).toFixed(3)).join(' ')})`);
for (const side of sides) await side.running.close();
process.exit(0);
