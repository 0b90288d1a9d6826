/**
 * What one peer costs the memory driver, and what an announce costs against swarm size.
 *   node dist/bench/memory-per-peer.js [case,...]
 * Cases: v4-swarms (1M IPv4 peers in 10k swarms of 100), v4-one (1M IPv4 peers in one swarm),
 * v6 (100k IPv6 peers in 1k swarms of 100), private (100k IPv4 peers of 100k users in 1k swarms: the
 * per-peer totals too), cpu (µs per re-announce with numwant 50 into a swarm of 10 and of 1M).
 * Each case runs in a child process of its own started with --expose-gc, so that one case's garbage and
 * freed-but-kept pages do not count against the next; memory is the growth of RSS, and of V8 heap plus
 * memory outside the heap (external, which holds ArrayBuffers), after a forced collection, per peer;
 * heapTotal is what V8 keeps reserved for its heap, used or not (RSS counts it once touched).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { SwarmAnnounce } from '../src/tracker/driver.js';
import { MemoryStore } from '../src/tracker/memory/store.js';

const CASES = ['v4-swarms', 'v4-one', 'v6', 'private', 'cpu'];

/** The i-th distinct compact IPv4 address: 10.x.x.x, ports from 1024. */
function v4(i: number): Buffer {
  const b = Buffer.allocUnsafe(6);
  b.writeUInt32BE(0x0a000000 + Math.floor(i / 60000));
  b.writeUInt16BE(1024 + (i % 60000), 4);
  return b;
}

function v6(i: number): Buffer {
  const b = Buffer.alloc(18);
  b.writeUInt32BE(0x20010db8, 0);
  b.writeUInt32BE(i, 8);
  b.writeUInt32BE(Math.imul(i, 2654435761) >>> 0, 12);
  b.writeUInt16BE(1024 + (i % 60000), 16);
  return b;
}

/** A fresh 20-byte info hash or peer id per call, as requests bring them. */
function id(tag: number, i: number): Buffer {
  const b = Buffer.alloc(20, tag);
  b.writeUInt32BE(i, 0);
  return b;
}

function request(infoHash: Buffer, peerId: Buffer, addr: Buffer, family: 4 | 6, numwant: number, seeder: boolean): SwarmAnnounce {
  return {
    infoHash,
    peerId,
    v4: family === 4 ? addr : undefined,
    v6: family === 6 ? addr : undefined,
    seeder,
    event: 'none',
    numwant,
    want4: family === 4,
    want6: family === 6,
    subnet4: 0,
    subnet6: 0,
    withPeerIds: false,
  };
}

const gc = (): void => {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (!collect) throw new Error('run with --expose-gc');
  for (let i = 0; i < 4; i++) collect();
};

function usage(): { rss: number; heap: number; heapTotal: number; outside: number } {
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed, heapTotal: m.heapTotal, outside: m.external };
}

async function fill(store: MemoryStore, peers: number, swarmSize: number, family: 4 | 6, userIds: boolean): Promise<void> {
  for (let i = 0; i < peers; i++) {
    const swarm = Math.floor(i / swarmSize);
    const a = request(id(7, swarm), id(1, i), family === 4 ? v4(i) : v6(i), family, 0, i % 3 === 0);
    if (userIds) a.access = { requireAllowed: false, requireRegistered: false, userId: 1 + i, uploaded: i, downloaded: i, announceId: `a${i}` };
    await store.announce(a);
  }
}

async function memoryCase(name: string): Promise<object> {
  const [peers, swarmSize, family, userIds] = (
    {
      'v4-swarms': [1_000_000, 100, 4, false],
      'v4-one': [1_000_000, 1_000_000, 4, false],
      v6: [100_000, 100, 6, false],
      private: [100_000, 100, 4, true],
    } as const
  )[name as 'v4-swarms']!;
  // Warm up first, so that neither compiled code nor the heap's growth to its working size under the
  // garbage of a stream of requests counts as peers: many announces, few peers (little freed memory
  // for the measured store to reuse).
  const warm = new MemoryStore({ peerTtlMs: 3_600_000, reapIntervalMs: 60_000 });
  for (let round = 0; round < 100; round++) await fill(warm, 2_000, 100, family, userIds);
  await warm.close();
  const store = new MemoryStore({ peerTtlMs: 3_600_000, reapIntervalMs: 60_000 });
  const before = usage();
  const started = performance.now();
  await fill(store, peers, swarmSize, family, userIds);
  const fillMs = performance.now() - started;
  const after = usage();
  if (store.counters.peers !== peers) throw new Error(`expected ${peers} peers, the store holds ${store.counters.peers}`);
  const per = (key: 'rss' | 'heap' | 'heapTotal' | 'outside'): number => Math.round(((after[key] - before[key]) / peers) * 10) / 10;
  const result = {
    case: name,
    peers,
    swarmSize,
    rssPerPeer: per('rss'),
    heapPerPeer: per('heap'),
    heapTotalPerPeer: per('heapTotal'),
    outsidePerPeer: per('outside'),
    usPerFillAnnounce: Math.round(((fillMs * 1000) / peers) * 100) / 100,
  };
  await store.close();
  return result;
}

/**
 * CPU µs (user + system, so that waiting for a core on a busy machine does not count) per re-announce of
 * a random member with numwant 50 into a swarm of `size`; median of rounds.
 */
async function cpuCase(size: number): Promise<number> {
  const store = new MemoryStore({ peerTtlMs: 3_600_000, reapIntervalMs: 60_000 });
  await fill(store, size, size, 4, false);
  const infoHash = id(7, 0);
  const perRound = 20_000;
  const rounds: number[] = [];
  for (let round = 0; round < 11; round++) {
    const cpu = process.cpuUsage();
    for (let n = 0; n < perRound; n++) {
      const i = Math.floor(Math.random() * size);
      await store.announce(request(infoHash, id(1, i), v4(i), 4, 50, i % 3 === 0));
    }
    const used = process.cpuUsage(cpu);
    rounds.push((used.user + used.system) / perRound);
  }
  await store.close();
  return Math.round(rounds.sort((a, b) => a - b)[rounds.length >> 1]! * 100) / 100;
}

function child(name: string, arg = ''): string {
  // Each size of the cpu case runs in a process of its own, with the young generation's size fixed: V8
  // tunes its collections by the whole heap, so a small swarm's announces measured next to a large swarm
  // would pay more or less for garbage collection depending on how many objects the large swarm keeps
  // (far fewer with compact storage), not on their own work.
  const flags = name === 'cpu' ? ['--min-semi-space-size=16', '--max-semi-space-size=16'] : [];
  const run = spawnSync(process.execPath, ['--expose-gc', ...flags, fileURLToPath(import.meta.url), '--child', name, arg], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (run.status !== 0) throw new Error(`case ${name} failed (exit ${run.status})`);
  return run.stdout.trim();
}

if (process.argv[2] === '--child') {
  const name = process.argv[3]!;
  const result = name === 'cpu' ? await cpuCase(Number(process.argv[4])) : await memoryCase(name);
  process.stdout.write(JSON.stringify(result) + '\n');
} else {
  const chosen = process.argv[2] ? process.argv[2].split(',') : CASES;
  for (const name of chosen) {
    if (!CASES.includes(name)) throw new Error(`unknown case ${name}; cases: ${CASES.join(', ')}`);
    if (name === 'cpu') {
      const small = Number(child('cpu', '10'));
      const large = Number(child('cpu', '1000000'));
      console.log(JSON.stringify({ case: 'cpu', usPerAnnounce10: small, usPerAnnounce1000000: large, ratio: Math.round((large / small) * 100) / 100 }));
    } else {
      console.log(child(name));
    }
  }
}
