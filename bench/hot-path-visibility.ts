/**
 * A/B of what hot-swarm counting adds to an announce: the memory driver's store, instrumented by
 * TrackerMetrics without (A, metrics.hot_swarms = 0) and with (B) the hot-swarm summary, announcing into 100,000 swarms (almost every announce misses the summary: its worst case)
 * and into 10 swarms (every announce hits). Rounds alternate A and B; medians per announce are printed.
 *
 *   npm run build && node dist/bench/hot-path-visibility.js
 */
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { HotSwarms } from '../src/metrics/hot-swarms.js';
import { TrackerMetrics } from '../src/metrics/metrics.js';
import { SpaceSaving } from '../src/metrics/space-saving.js';
import { CLIENT_NAMES, clientIndex } from '../src/bittorrent/clients.js';
import type { SwarmAnnounce, TrackerStore } from '../src/store/driver.js';
import { memoryDriver } from '../src/store/memory/driver.js';

const ANNOUNCES = 200_000;
const ROUNDS = 5;

async function run(store: TrackerStore, swarms: Buffer[], peerIds: Buffer[]): Promise<number> {
  const a: SwarmAnnounce = {
    infoHash: swarms[0]!,
    peerId: peerIds[0]!,
    v4: Buffer.from([10, 0, 0, 1, 0x1a, 0xe1]),
    seeder: false,
    event: 'none',
    numwant: 50,
    want4: true,
    want6: false,
    subnet4: 0,
    subnet6: 0,
    withPeerIds: false,
  };
  const started = process.hrtime.bigint();
  for (let i = 0; i < ANNOUNCES; i++) {
    a.infoHash = swarms[i % swarms.length]!;
    a.peerId = peerIds[i % peerIds.length]!;
    a.v4![3] = i & 0xff;
    await store.announce(a);
  }
  return Number(process.hrtime.bigint() - started) / ANNOUNCES;
}

const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const logger = pino({ level: 'silent' });
  const peerIds = ['-qB4650-', '-TR4060-', '-UT360S-', 'M7-4-0--', 'XYZ12345'].map((p) => Buffer.concat([Buffer.from(p), randomBytes(12)]));
  for (const count of [100_000, 10]) {
    const swarms = Array.from({ length: count }, () => randomBytes(20));
    const raw = await memoryDriver.open({}, { peerTtl: 3600, logger });
    const plain = new TrackerMetrics('memory', raw).instrument(raw);
    const hot = new HotSwarms({ capacity: 128, windowSeconds: 60, logger });
    const counted = new TrackerMetrics('memory', raw, hot).instrument(raw);
    const a: number[] = [];
    const b: number[] = [];
    await run(plain, swarms, peerIds); // warm-up: fills the swarms
    for (let r = 0; r < ROUNDS; r++) {
      a.push(await run(plain, swarms, peerIds));
      b.push(await run(counted, swarms, peerIds));
    }
    // Each counting alone, outside any announce (the client counter is on in A and B alike).
    const summary = new SpaceSaving(128);
    const counts = new Float64Array(CLIENT_NAMES.length);
    const N = 2_000_000;
    let t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) counts[clientIndex(peerIds[i % peerIds.length]!)]! += 1;
    const clientsAlone = Number(process.hrtime.bigint() - t0) / N;
    t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) summary.add(swarms[i % swarms.length]!);
    const summaryAlone = Number(process.hrtime.bigint() - t0) / N;
    // HotSwarms.add as a busy replica runs it: after a window of N announces, it samples (SAMPLES_PER_SECOND).
    const sampled = new HotSwarms({ capacity: 128, windowSeconds: 60, logger });
    for (let i = 0; i < N; i++) sampled.add(swarms[i % swarms.length]!);
    sampled.roll();
    t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) sampled.add(swarms[i % swarms.length]!);
    const sampledAlone = Number(process.hrtime.bigint() - t0) / N;
    console.log(
      `${count} swarms: announce A (no hot-swarm summary) ${median(a).toFixed(0)} ns, B (with) ${median(b).toFixed(0)} ns, ` +
        `B - A ${(median(b) - median(a)).toFixed(0)} ns; alone: client counter ${clientsAlone.toFixed(1)} ns, hot-swarm summary ${summaryAlone.toFixed(0)} ns, sampled as after a window of ${N} announces ${sampledAlone.toFixed(1)} ns (rounds A ${a.map((x) => x.toFixed(0)).join('/')}, B ${b.map((x) => x.toFixed(0)).join('/')})`,
    );
    await raw.close();
  }
}

await main();
