/**
 * The memory driver's snapshot at a million peers: fills a store through its announce path, writes the
 * snapshot file the way SIGTERM does (encode, temporary file, fsync, rename) and loads it into a fresh
 * store the way a start does, and prints both times (wall and CPU) and the file size as one JSON line per case.
 *   npm run bench:snapshot                          -> every case
 *   node --expose-gc dist/bench/snapshot.js CASE    -> one case (names below)
 * With --expose-gc (the npm script passes it) the filled store is collected before the load is timed.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { SwarmAnnounce } from '../src/index.js';
import { loadSnapshot, SnapshotWriter, type SnapshotFileOptions } from '../src/store/memory/snapshot-file.js';
import { MemoryStore } from '../src/store/memory/store.js';

interface Case {
  name: string;
  swarms: number;
  peersPerSwarm: number;
  /** Every third peer is IPv6 when mixed. */
  mixed: boolean;
  private: boolean;
}

const CASES: Case[] = [
  { name: '100k-x-10-mixed', swarms: 100_000, peersPerSwarm: 10, mixed: true, private: false },
  { name: '1-x-1M-v4', swarms: 1, peersPerSwarm: 1_000_000, mixed: false, private: false },
  { name: '100k-x-10-v4-private', swarms: 100_000, peersPerSwarm: 10, mixed: false, private: true },
];

const TTL_MS = 3600_000;

async function fill(store: MemoryStore, c: Case): Promise<void> {
  let n = 0;
  for (let s = 0; s < c.swarms; s++) {
    const infoHash = Buffer.alloc(20, 0x11);
    infoHash.writeUInt32BE(s, 0);
    infoHash.writeUInt32BE(Math.imul(s, 0x9e3779b1) >>> 0, 8);
    for (let p = 0; p < c.peersPerSwarm; p++, n++) {
      const peerId = Buffer.alloc(20, 0x2d);
      peerId.writeUInt32BE(n, 8);
      peerId.writeUInt32BE(Math.imul(n, 0x9e3779b1) >>> 0, 16);
      const v6 = c.mixed && n % 3 === 2;
      const a: SwarmAnnounce = {
        infoHash,
        peerId,
        seeder: n % 3 === 0,
        event: 'started',
        numwant: 0,
        want4: !v6,
        want6: v6,
        subnet4: 0,
        subnet6: 0,
        withPeerIds: false,
      };
      if (v6) {
        const addr = Buffer.alloc(18);
        addr.writeUInt32BE(0x20010db8, 0);
        addr.writeUInt32BE(n, 8);
        addr.writeUInt16BE(6881 + (n % 16), 16);
        a.v6 = addr;
      } else {
        const addr = Buffer.alloc(6);
        addr.writeUInt32BE((0x0a000000 + Math.floor(n / 16)) >>> 0, 0);
        addr.writeUInt16BE(6881 + (n % 16), 4);
        a.v4 = addr;
      }
      if (c.private) a.access = { requireAllowed: false, requireRegistered: false, userId: 1 + n, uploaded: n, downloaded: n, announceId: `a${n}` };
      await store.announce(a);
    }
  }
}

/** Fills a store of its own and writes its snapshot. */
async function save(c: Case, options: SnapshotFileOptions): Promise<{ peers: number; saveSeconds: number; saveCpuSeconds: number }> {
  const store = new MemoryStore({ peerTtlMs: TTL_MS, reapIntervalMs: 60_000 });
  await fill(store, c);
  const peers = (await store.stats()).peers;
  const started = performance.now();
  const cpu = process.cpuUsage();
  await new SnapshotWriter(store, options).save('close');
  const saveCpuSeconds = cpuSeconds(cpu);
  const saveSeconds = (performance.now() - started) / 1000;
  await store.close();
  return { peers, saveSeconds, saveCpuSeconds };
}

/** CPU seconds (user and system) of this process since `from`: the machine may be shared, the wall time then says little. */
function cpuSeconds(from: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(from);
  return (used.user + used.system) / 1e6;
}

async function run(c: Case): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-snapshot-bench-'));
  try {
    const options: SnapshotFileOptions = {
      path: join(dir, 'peers.snapshot'),
      intervalMs: 0,
      maxBytes: 2 ** 31 - 1,
      peerTtlMs: TTL_MS,
      torrentTtlMs: 0,
      maxPeers: 0,
      logger: pino({ level: 'silent' }),
    };
    const { peers, saveSeconds, saveCpuSeconds } = await save(c, options);
    const bytes = statSync(options.path).size;
    // The saving store is garbage by now, as in a process that starts from the file.
    (globalThis as { gc?: () => void }).gc?.();

    const loaded = new MemoryStore({ peerTtlMs: TTL_MS, reapIntervalMs: 60_000 });
    const started = performance.now();
    const cpu = process.cpuUsage();
    await loadSnapshot(loaded, options);
    const loadCpuSeconds = cpuSeconds(cpu);
    const loadSeconds = (performance.now() - started) / 1000;
    const stats = await loaded.stats();
    await loaded.close();
    if (stats.peers !== peers) throw new Error(`loaded ${stats.peers} of ${peers} peers`);
    console.log(
      JSON.stringify({
        case: c.name,
        peers,
        swarms: stats.swarms,
        saveSeconds: +saveSeconds.toFixed(3),
        saveCpuSeconds: +saveCpuSeconds.toFixed(3),
        loadSeconds: +loadSeconds.toFixed(3),
        loadCpuSeconds: +loadCpuSeconds.toFixed(3),
        bytes,
        bytesPerPeer: +(bytes / peers).toFixed(1),
      }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const only = process.argv[2];
const cases = only ? CASES.filter((c) => c.name === only) : CASES;
if (cases.length === 0) throw new Error(`unknown case ${only} (${CASES.map((c) => c.name).join(', ')})`);
for (const c of cases) await run(c);
