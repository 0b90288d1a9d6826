/**
 * What request budgets cost per announce, A/B in one process: the tracker's CPU per announce with
 * budgets on and off, alternating rounds, with the memory driver and (given a free port for a
 * redis-server of its own) the redis driver, where budgets also merge their counts through Redis in
 * the background. Addresses come from a pool: 50,000 (each a few announces a window, never shared) or
 * 200 (each busy: shared with every sync), so that both the plain path and the shared one are measured.
 *   node dist/bench/budget-cost.js [REDIS_PORT]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { AnnounceRequest } from '../src/bittorrent/announce.js';
import { loadConfig } from '../src/config/config.js';
import { RequestBudget, type BudgetPolicy } from '../src/tracker/budget.js';
import type { TrackerStore } from '../src/store/driver.js';
import { memoryDriver } from '../src/store/memory/driver.js';
import { redisDriver } from '../src/store/redis/driver.js';
import { Tracker, trackerPolicy } from '../src/tracker/tracker.js';

const ROUNDS = 5;
const CALLS = 40_000;
const logger = pino({ level: 'silent' });
const base = trackerPolicy(loadConfig({ env: {} }));
/** Budgets as configured by default: no address in this benchmark reaches them (it measures counting, not refusing). */
const BUDGET: BudgetPolicy = base.budget!;

/** `pool` addresses, each in a /24 of its own (so that subnet budgets count as many keys as address ones). */
function addresses(pool: number): Buffer[] {
  return Array.from({ length: pool }, (_, i) => Buffer.from([10 + (i >> 16), (i >> 8) & 255, i & 255, 1]));
}

const hashes = Array.from({ length: 1000 }, () => randomBytes(20));

function request(i: number, ips: Buffer[]): AnnounceRequest {
  return {
    infoHash: hashes[i % hashes.length]!,
    peerId: randomBytes(20),
    port: 6881 + (i % 1000),
    uploaded: 0,
    downloaded: 0,
    left: 100,
    event: 'started',
    numwant: 50,
    compact: true,
    noPeerId: true,
    sourceIp: ips[i % ips.length]!,
  };
}

/** CPU microseconds of this process per announce over CALLS announces, 64 in flight. */
async function cpuPerAnnounce(tracker: Tracker, ips: Buffer[]): Promise<number> {
  const before = process.cpuUsage();
  const pending: Array<Promise<unknown>> = [];
  for (let i = 0; i < CALLS; i++) {
    pending.push(tracker.announce(request(i, ips)));
    if (pending.length >= 64) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / CALLS;
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function ab(name: string, store: TrackerStore, pool: number): Promise<void> {
  const ips = addresses(pool);
  const off = new Tracker(store, null, { ...base, budget: null, minIntervalEnforcement: 'off' });
  const on = new Tracker(store, null, { ...base, budget: BUDGET, minIntervalEnforcement: 'off' });
  await cpuPerAnnounce(off, ips); // warm-up
  await cpuPerAnnounce(on, ips);
  const a: number[] = [];
  const b: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    a.push(await cpuPerAnnounce(off, ips));
    b.push(await cpuPerAnnounce(on, ips));
  }
  on.close();
  console.log(
    JSON.stringify({
      driver: name,
      addresses: pool,
      off_us: Number(median(a).toFixed(2)),
      on_us: Number(median(b).toFixed(2)),
      cost_us: Number((median(b) - median(a)).toFixed(2)),
      rounds_off: a.map((v) => Number(v.toFixed(2))),
      rounds_on: b.map((v) => Number(v.toFixed(2))),
    }),
  );
}

/** The budget check alone: CPU nanoseconds per take() over 100,000 distinct addresses (3 of each a window). */
function takeNanos(): number {
  const budget = new RequestBudget(BUDGET, null);
  const ips = addresses(100_000);
  for (let i = 0; i < 100_000; i++) budget.take(ips[i % ips.length]!);
  const before = process.cpuUsage();
  const n = 200_000;
  for (let i = 0; i < n; i++) budget.take(ips[i % ips.length]!);
  const used = process.cpuUsage(before);
  return ((used.user + used.system) * 1000) / n;
}

console.log(JSON.stringify({ check: 'RequestBudget.take', ns: Number(takeNanos().toFixed(0)) }));
const memory = await memoryDriver.open({}, { peerTtl: 3600, logger });
await ab('memory', memory, 50_000);
await ab('memory', memory, 200);
await memory.close();

const port = Number(process.argv[2] ?? 0);
if (port > 0) {
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    let admin: Redis | null = null;
    for (let i = 0; !admin; i++) {
      const client = new Redis(port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => null });
      client.on('error', () => undefined);
      try {
        await client.connect();
        admin = client;
      } catch {
        client.disconnect();
        if (i > 200) throw new Error('redis-server did not start');
        await sleep(50);
      }
    }
    // A generous command timeout: the benchmark measures CPU, and a loaded machine must not fail it.
    const store = await redisDriver.open({ url: `redis://127.0.0.1:${port}`, command_timeout: 10_000 }, { peerTtl: 3600, logger });
    // Counts what the budgets send to Redis while busy addresses announce.
    let synced = 0;
    let syncs = 0;
    const counting: TrackerStore = Object.create(store) as TrackerStore;
    counting.addBudgetCounts = (counts, ttl) => {
      syncs++;
      synced += counts.length;
      return store.addBudgetCounts!(counts, ttl);
    };
    await ab('redis', counting, 50_000);
    const quiet = { syncs, synced };
    await ab('redis', counting, 200);
    console.log(
      JSON.stringify({ shared_keys_50000_addresses: quiet, shared_keys_200_addresses: { syncs: syncs - quiet.syncs, synced: synced - quiet.synced } }),
    );
    // Redis's time per shared counter update (INCRBY and EXPIRE NX), 100 batches of 1,000 keys.
    await admin.config('RESETSTAT');
    for (let batch = 0; batch < 100; batch++) {
      await store.addBudgetCounts!(
        Array.from({ length: 1000 }, (_, i) => ({ key: `a:${(batch * 1000 + i).toString(16)}:1`, delta: 3 })),
        120,
      );
    }
    const stats = await admin.info('commandstats');
    const usec = (command: string): number => Number(new RegExp(`cmdstat_${command}:calls=\\d+,usec=(\\d+)`).exec(stats)?.[1] ?? NaN);
    console.log(JSON.stringify({ shared_counter: { keys: 100_000, redis_us_per_key: (usec('incrby') + usec('expire')) / 100_000 } }));
    await store.close();
    admin.disconnect();
  } finally {
    server.kill('SIGKILL');
  }
}
