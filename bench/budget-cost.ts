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
import type { TrackerStore } from '../src/tracker/driver.js';
import { memoryDriver } from '../src/tracker/memory/driver.js';
import { redisDriver } from '../src/tracker/redis/driver.js';
import { Tracker, trackerPolicy } from '../src/tracker/tracker.js';

const ROUNDS = 5;
const CALLS = 40_000;
const logger = pino({ level: 'silent' });
const base = trackerPolicy(loadConfig({ env: {} }));
/** Budgets as configured by default, with limits out of reach: the cost of counting, not of refusing. */
const BUDGET: BudgetPolicy = { ...base.budget!, perAddress: 1e9, perSubnet: 1e9 };

function addresses(pool: number): Buffer[] {
  return Array.from({ length: pool }, (_, i) => Buffer.from([10, (i >> 16) & 255, (i >> 8) & 255, i & 255]));
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

/** The budget check alone: nanoseconds per take() over 100,000 distinct addresses. */
function takeNanos(): number {
  const budget = new RequestBudget(BUDGET, null);
  const ips = addresses(100_000);
  for (let i = 0; i < 200_000; i++) budget.take(ips[i % ips.length]!);
  const started = process.hrtime.bigint();
  const n = 2_000_000;
  for (let i = 0; i < n; i++) budget.take(ips[i % ips.length]!);
  return Number(process.hrtime.bigint() - started) / n;
}

console.log(JSON.stringify({ check: 'RequestBudget.take', ns: Number(takeNanos().toFixed(0)) }));
const memory = await memoryDriver.open({}, { peerTtl: 3600, logger });
await ab('memory', memory, 50_000);
await ab('memory', memory, 200);
await memory.close();

const port = Number(process.argv[2] ?? 0);
if (port > 0) {
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  try {
    const admin = new Redis(port, '127.0.0.1', { lazyConnect: true });
    for (let i = 0; ; i++) {
      try {
        await admin.connect();
        break;
      } catch {
        if (i > 100) throw new Error('redis-server did not start');
        await sleep(50);
      }
    }
    const store = await redisDriver.open({ url: `redis://127.0.0.1:${port}` }, { peerTtl: 3600, logger });
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
    // Redis's time per shared counter update: the budget script alone, 100 batches of 1,000 keys.
    await admin.config('RESETSTAT');
    for (let batch = 0; batch < 100; batch++) {
      await store.addBudgetCounts!(
        Array.from({ length: 1000 }, (_, i) => ({ key: `a:${(batch * 1000 + i).toString(16)}:1`, delta: 3 })),
        120,
      );
    }
    const evalsha = /cmdstat_evalsha:calls=(\d+),usec=(\d+),usec_per_call=([\d.]+)/.exec(await admin.info('commandstats'));
    console.log(JSON.stringify({ budget_script: { calls: Number(evalsha?.[1]), redis_us_per_key: Number(evalsha?.[3]) } }));
    await store.close();
    admin.disconnect();
  } finally {
    server.kill('SIGKILL');
  }
}
