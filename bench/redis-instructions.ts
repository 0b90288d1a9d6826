/**
 * Redis CPU instructions per announce, counted by valgrind's callgrind on a redis-server of its own:
 * a measure that does not drift with the VM's speed (Redis time per announce does, by up to 2x within
 * minutes here), for comparing versions of the announce script. Everything the server does for the
 * command counts: reading and parsing it, the script, and writing the answer.
 * First with every announce its own call (batch_max 1, the single script), then with the announces
 * waiting in one turn sent in batches of 1, 8 and 32 (lua/announce-batch.lua; a batch of 1 is the
 * batch script carrying one announce, what a call of it costs beside the single script's).
 *   npm run bench:instructions            (needs Debian's valgrind and redis-server)
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { redisDriver } from '../src/store/redis/driver.js';
import type { SwarmAnnounce, TrackerStore } from '../src/store/driver.js';
import { freePort, peerAddr } from './swarm-peers.js';

const CALLS = 1000;

function need(command: string): void {
  try {
    execFileSync('which', [command], { stdio: 'ignore' });
  } catch {
    console.error(`${command} is missing: apt-get install -y valgrind redis-server`);
    process.exit(1);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Peer i of a swarm: 30% seeders, numwant 50; in private mode user i with growing totals. */
let record = 0;
function announce(infoHash: Buffer, i: number, privateMode: boolean): SwarmAnnounce {
  const a: SwarmAnnounce = {
    infoHash,
    peerId: Buffer.alloc(20, i % 256),
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
  if (privateMode) {
    record++;
    a.access = { requireRegistered: true, requireAllowed: false, userId: 1 + i, uploaded: record * 1000, downloaded: record, announceId: `i${record}` };
  }
  return a;
}

need('valgrind');
need('callgrind_control');
need('redis-server');
const dir = mkdtempSync(join(tmpdir(), 'shoal-callgrind-'));
const port = await freePort();
const conf = new URL('../../redis.conf', import.meta.url).pathname;
const server = spawn(
  'valgrind',
  [
    '--tool=callgrind',
    '--instr-atstart=no',
    `--callgrind-out-file=${dir}/cg.%p.out`,
    'redis-server',
    conf,
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
  ],
  { stdio: 'ignore' },
);
const control = (...args: string[]): void => void execFileSync('callgrind_control', [...args, String(server.pid)], { stdio: 'ignore' });

const stores: TrackerStore[] = [];
try {
  for (let i = 0; ; i++) {
    try {
      execFileSync('redis-cli', ['-p', String(port), 'ping'], { stdio: 'ignore' });
      break;
    } catch {
      if (i > 100) throw new Error('redis-server under valgrind did not start');
      await sleep(200);
    }
  }
  const open = async (batchMax: number): Promise<TrackerStore> => {
    const store = await redisDriver.open(
      { url: `redis://127.0.0.1:${port}`, prefix: 't:', command_timeout: 60_000, batch_max: batchMax },
      { peerTtl: 3600, logger: pino({ level: 'silent' }) },
    );
    stores.push(store);
    return store;
  };
  const single = await open(1);

  /**
   * Instructions per announce of CALLS re-announces (pipelined) into a swarm of `size` peers; with
   * `batch`, sent in batches of that many (each one turn's announces), else each its own call.
   */
  const measure = async (size: number, privateMode: boolean, batch?: number): Promise<number> => {
    const store = single;
    const infoHash = randomBytes(20);
    if (privateMode) await store.catalogue!.putTorrent({ infoHash, id: 1, upMultiplier: 1, downMultiplier: 1, freeleech: false });
    for (let i = 0; i < size; i += 100)
      await Promise.all(Array.from({ length: Math.min(100, size - i) }, (_, k) => store.announce(announce(infoHash, i + k, privateMode))));
    // The batch script loaded (NOSCRIPT's fallback would count too), and the lane connected.
    const batched = batch === undefined ? store : await open(Math.max(2, batch));
    if (batch !== undefined) {
      for (let i = 0; i < 3; i++) await Promise.all([0, 1].map(() => batched.announce(announce(infoHash, Math.floor(Math.random() * size), privateMode))));
    }
    const dumps = readdirSync(dir).length;
    control('-i', 'on');
    if (batch === undefined) {
      await Promise.all(Array.from({ length: CALLS }, () => store.announce(announce(infoHash, Math.floor(Math.random() * size), privateMode))));
    } else {
      // One turn's announces at a time, `batch` of them: one call. A lone announce (a batch of 1) goes
      // as the driver sends it when load is light: alone, through the single script.
      for (let sent = 0; sent < CALLS; sent += batch) {
        await Promise.all(Array.from({ length: batch }, () => batched.announce(announce(infoHash, Math.floor(Math.random() * size), privateMode))));
      }
    }
    control('-i', 'off');
    control('-d');
    while (readdirSync(dir).length === dumps) await sleep(100);
    await sleep(500);
    const newest = readdirSync(dir)
      .filter((f) => /\.out\.\d+$/.test(f))
      .sort((a, b) => Number(a.split('.').pop()) - Number(b.split('.').pop()))
      .pop()!;
    const totals = /^totals: (\d+)/m.exec(readFileSync(join(dir, newest), 'utf8'));
    control('-z');
    return Number(totals![1]) / CALLS;
  };

  console.log(`Redis instructions per announce (callgrind; ${CALLS} re-announces, numwant 50, 30% seeders):`);
  const cases: Array<[number, boolean, number?]> = [
    [10, false],
    [100, false],
    [1000, false],
    [100, true],
  ];
  const only = process.env.BENCH_BATCHES;
  for (const batch of only ? only.split(',').map(Number) : [1, 8, 32]) cases.push([100, false, batch], [100, true, batch]);
  for (const [size, privateMode, batch] of process.env.BENCH_BATCHES ? cases.slice(4) : cases) {
    const perCall = await measure(size, privateMode, batch);
    const how = batch === undefined ? 'each its own call' : `in batches of ${String(batch).padStart(2)}`;
    console.log(
      `  ${privateMode ? 'private' : 'public '} announce into a swarm of ${String(size).padStart(5)} peers, ${how}: ${Math.round(perCall).toLocaleString('en-US')} instructions`,
    );
  }
} finally {
  for (const store of stores) await store.close();
  server.kill('SIGKILL');
  // CALLGRIND_KEEP=1 keeps the dumps (one per case, in order) for callgrind_annotate.
  if (process.env.CALLGRIND_KEEP) console.log(`callgrind dumps kept in ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
