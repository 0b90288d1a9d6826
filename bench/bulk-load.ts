/**
 * `npm run bench:bulk-load`: a site loading its whole catalogue through the management API, as after an
 * outage: 100,000 users and 500,000 torrents (a tenth of them hybrid) in batches of 10,000 (PUT /users,
 * PUT /torrents, two batches in flight) under a sync, finished with replace; then every item paged back
 * (GET /users, GET /torrents) and counted. The tracker (redis driver, private mode) runs in this process,
 * on a redis-server of its own started on a free port without persistence; the site's side (building
 * and sending the JSON) in a worker thread, as a site's loader runs apart from the tracker. Sizes: USERS,
 * TORRENTS env.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { boot } from '../src/boot.js';

const USERS = Number(process.env.USERS ?? 100_000);
const TORRENTS = Number(process.env.TORRENTS ?? 500_000);
const BATCH = 10_000;
const IN_FLIGHT = 2;
const TOKEN = 'bulk-load-bench-token-0123456789';

/** What the answers of this bench hold (a sync's id, its result, a page). */
interface Answer {
  sync: string;
  kept: number;
  next: string | number | null;
  users: unknown[];
  torrents: unknown[];
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

if (isMainThread) {
  const port = await freePort();
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await sleep(300);
  const running = await boot({
    env: {
      TRACKER_TRACKER_DRIVER: 'redis',
      TRACKER_TRACKER_PARAMS: JSON.stringify({ url: `redis://127.0.0.1:${port}` }),
      TRACKER_PRIVATE_ENABLED: 'true',
      TRACKER_UDP_ADDR: '',
      TRACKER_HTTP_ADDR: '127.0.0.1:0',
      TRACKER_METRICS_ADDR: '',
      TRACKER_ADMIN_ADDR: '127.0.0.1:0',
      TRACKER_ADMIN_TOKEN: TOKEN,
      TRACKER_LOG_LEVEL: 'warn',
    },
  });
  const base = `http://127.0.0.1:${running.adminAddress!.port}`;

  const worker = new Worker(new URL(import.meta.url), { workerData: { base } });
  try {
    const lines = await new Promise<string[]>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    for (const line of lines) console.log(line);
  } finally {
    await worker.terminate();
    await running.close();
    redis.kill('SIGKILL');
  }
} else {
  const base = (workerData as { base: string }).base;
  async function call(method: string, path: string, body?: unknown): Promise<Answer> {
    const reply = await fetch(base + path, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await reply.json()) as Answer;
    if (!reply.ok) throw new Error(`${method} ${path}: ${reply.status} ${JSON.stringify(json)}`);
    return json;
  }

  /** Sends `count` items in batches, IN_FLIGHT at once; the seconds it took. */
  async function load(path: string, count: number, item: (n: number) => unknown): Promise<number> {
    const started = performance.now();
    const { sync } = await call('POST', `/sync/${path}`);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < count) {
        const from = next;
        next = Math.min(count, next + BATCH);
        const batch = Array.from({ length: next - from }, (_, i) => item(from + i));
        await call('PUT', `/${path}?sync=${sync}`, batch);
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    const result = await call('POST', `/sync/${path}/${sync}`, { replace: true });
    if (result.kept !== count) throw new Error(`${path}: ${result.kept} kept, ${count} expected`);
    return (performance.now() - started) / 1000;
  }

  /** Pages through everything; the count and the seconds it took. */
  async function pageAll(path: 'users' | 'torrents'): Promise<[number, number]> {
    const started = performance.now();
    let count = 0;
    let after: string | number | null = path === 'users' ? 0 : null;
    for (;;) {
      const page = await call('GET', `/${path}?limit=${BATCH}${after === null ? '' : `&after=${after}`}`);
      count += page[path].length;
      if (page.next === null) break;
      after = page.next;
    }
    return [count, (performance.now() - started) / 1000];
  }

  const seed = randomBytes(4).toString('hex');
  const users = await load('users', USERS, (n) => ({ id: n + 1, passkey: `${seed}${n.toString(36).padStart(8, '0')}`, up_multiplier: 1, down_multiplier: 1 }));
  const torrents = await load('torrents', TORRENTS, (n) => {
    const hex = (tag: number) => `${tag}${seed}${n.toString(16).padStart(31, '0')}`;
    return { info_hash: hex(1), id: n + 1, ...(n % 10 === 0 ? { info_hash_v2: hex(2) } : {}) };
  });
  const [userCount, userPaging] = await pageAll('users');
  const [torrentCount, torrentPaging] = await pageAll('torrents');
  if (userCount !== USERS || torrentCount !== TORRENTS) throw new Error('paged back a different count');
  parentPort!.postMessage([
    `bulk load through the API, redis driver (batches of ${BATCH}, ${IN_FLIGHT} in flight, under a sync finished with replace):`,
    `  ${USERS} users: ${users.toFixed(1)} s (${Math.round(USERS / users)}/s); paged back ${userCount} in ${userPaging.toFixed(1)} s`,
    `  ${TORRENTS} torrents: ${torrents.toFixed(1)} s (${Math.round(TORRENTS / torrents)}/s); paged back ${torrentCount} in ${torrentPaging.toFixed(1)} s`,
    `  total load: ${(users + torrents).toFixed(1)} s`,
  ]);
}
