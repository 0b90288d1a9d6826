/**
 * Redis CPU instructions per announce, counted by valgrind's callgrind on a redis-server of its own:
 * a measure that does not drift with the VM's speed (Redis time per announce does, by up to 2x within
 * minutes here), for comparing versions of the announce script. Everything the server does for the
 * command counts: reading and parsing it, the script, and writing the answer.
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

let store: TrackerStore | undefined;
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
  store = await redisDriver.open(
    { url: `redis://127.0.0.1:${port}`, prefix: 't:', command_timeout: 60_000 },
    { peerTtl: 3600, logger: pino({ level: 'silent' }) },
  );

  /** Instructions per announce of CALLS re-announces (pipelined) into a swarm of `size` peers. */
  const measure = async (size: number, privateMode: boolean): Promise<number> => {
    const infoHash = randomBytes(20);
    if (privateMode) await store!.catalogue!.putTorrent({ infoHash, id: 1, upMultiplier: 1, downMultiplier: 1, freeleech: false });
    for (let i = 0; i < size; i += 100)
      await Promise.all(Array.from({ length: Math.min(100, size - i) }, (_, k) => store!.announce(announce(infoHash, i + k, privateMode))));
    const dumps = readdirSync(dir).length;
    control('-i', 'on');
    await Promise.all(Array.from({ length: CALLS }, () => store!.announce(announce(infoHash, Math.floor(Math.random() * size), privateMode))));
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
  for (const [size, privateMode] of [
    [10, false],
    [100, false],
    [1000, false],
    [100, true],
  ] as const) {
    const perCall = await measure(size, privateMode);
    console.log(
      `  ${privateMode ? 'private' : 'public '} announce into a swarm of ${String(size).padStart(5)} peers: ${Math.round(perCall).toLocaleString('en-US')} instructions`,
    );
  }
} finally {
  await store?.close();
  server.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
