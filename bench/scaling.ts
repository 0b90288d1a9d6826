/**
 * Announce cost against swarm size: one swarm per size preloaded with N peers, then re-announces of
 * random members (numwant 50) through the Tracker and the memory driver, CPU time in-process. Every swarm
 * stays loaded and the sizes take turns in interleaved rounds (and slices within each), so the ratios
 * between sizes compare timings taken seconds apart.
 *   node dist/bench/scaling.js 10,100000,1000000 [rounds]   -> one JSON line per size
 */
import { pino } from 'pino';
import { memoryDriver } from '../src/store/memory/driver.js';
import type { TrackerStore } from '../src/store/driver.js';
import { loadConfig } from '../src/config/config.js';
import { Tracker, trackerPolicy } from '../src/tracker/tracker.js';

const sizes = (process.argv[2] ?? '10,100000,1000000').split(',').map(Number);
const rounds = Math.max(1, Number(process.argv[3] ?? 3));
const ANNOUNCES = 50_000;

function ipOf(i: number): Buffer {
  const ip = Buffer.allocUnsafe(4);
  ip.writeUInt32BE(0x0a000000 + Math.floor(i / 60000));
  return ip;
}

const infoHash = Buffer.alloc(20, 7);
const peerId = Buffer.alloc(20, 1);
const request = (i: number, numwant: number) => ({
  infoHash,
  peerId,
  port: 1024 + (i % 60000),
  uploaded: 0,
  downloaded: 0,
  left: i % 3 === 0 ? 0 : 1000,
  event: 'none' as const,
  numwant,
  compact: true,
  noPeerId: false,
  sourceIp: ipOf(i),
});

interface Loaded {
  size: number;
  store: TrackerStore;
  tracker: Tracker;
  heapBytesPerPeer: number | null;
  us: number[];
  peersReturned: number;
}

const loaded: Loaded[] = [];
for (const size of sizes) {
  const store = await memoryDriver.open({}, { peerTtl: 3600, logger: pino({ level: 'silent' }) });
  // The announce path and its memory alone: no request budgets (their tables would count in the heap per
  // peer), and every re-announce written (min interval would answer most of them without a write).
  const tracker = new Tracker(store, null, { ...trackerPolicy(loadConfig()), intervalJitter: 0, budget: null, minIntervalEnforcement: 'off' });
  const heapBefore = process.memoryUsage().heapUsed;
  for (let i = 0; i < size; i++) await tracker.announce(request(i, 0));
  const heapAfter = process.memoryUsage().heapUsed;
  loaded.push({ size, store, tracker, heapBytesPerPeer: size >= 100_000 ? (heapAfter - heapBefore) / size : null, us: [], peersReturned: 0 });
}

// CPU time, not wall time: on a shared machine a preempted round took half as long again as its
// neighbours. And each round in slices, the sizes taking turns, so that a round's sizes share the same
// seconds of the machine's drift.
const SLICES = 5;
for (let round = 0; round < rounds; round++) {
  const cpu = new Map<Loaded, number>(loaded.map((l) => [l, 0]));
  for (let slice = 0; slice < SLICES; slice++) {
    for (const l of slice % 2 === 0 ? loaded : [...loaded].reverse()) {
      let peersReturned = 0;
      const started = process.cpuUsage();
      for (let n = 0; n < ANNOUNCES / SLICES; n++) {
        const r = await l.tracker.announce(request(Math.floor(Math.random() * l.size), 50));
        peersReturned += r.peers4.length / 6;
      }
      const used = process.cpuUsage(started);
      cpu.set(l, cpu.get(l)! + used.user + used.system);
      l.peersReturned += peersReturned;
    }
  }
  for (const l of loaded) l.us.push(cpu.get(l)! / ANNOUNCES);
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
for (const l of loaded) {
  process.stdout.write(
    JSON.stringify({
      swarm: l.size,
      usPerAnnounce: median(l.us),
      rounds: l.us,
      peersPerAnswer: l.peersReturned / (ANNOUNCES * rounds),
      heapBytesPerPeer: l.heapBytesPerPeer,
    }) + '\n',
  );
  await l.store.close();
}
