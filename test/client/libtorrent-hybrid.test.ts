/**
 * Hybrid (BEP 52) private torrents end to end: three tracker processes (redis driver, private mode,
 * redis-stream backend) sharing one Redis, the reference consumer, PostgreSQL.
 * - A real client: libtorrent 2.x (python3-libtorrent) creates a hybrid private torrent; seeder and
 *   leecher announce as two users (each its passkey, each through its own replica) on both hashes,
 *   both registered through the management API. The transfer completes; PostgreSQL credits the
 *   leecher's download and the seeder's upload once (within protocol overhead of the payload), not
 *   twice; one snatch; seed time grows while they seed and stops when they quit; no active peer left.
 * - Simulated clients through all three replicas: hybrid pairs (each announce of a pair on another
 *   replica, at the same moment), dual-stack peers, stops: active_peers matches the live swarm.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { startConsumer } from '../helpers/accounting.js';
import { adminClient, ADMIN_TOKEN, type AdminClient } from '../helpers/admin.js';
import { announcePath, decode, text } from '../helpers/http.js';
import { createDatabase, postgresMissing, type TestDatabase } from '../helpers/postgres.js';
import { redisMissing, startRedis, type RedisServer } from '../helpers/redis.js';
import { toolMissing } from '../helpers/tools.js';
import { startTrackerProcess, type ChildTracker, type TestTracker } from '../helpers/tracker.js';
import { waitUntil } from '../helpers/wait.js';

const SCRIPT = fileURLToPath(new URL('../../../test/client/libtorrent_hybrid.py', import.meta.url));
const PYTHON = '/usr/bin/python3';
const STREAM = 'hybrid:accounting';
const SEED_SECONDS = 8;

const missing = toolMissing('python3-libtorrent', 'python3-libtorrent', [[PYTHON, ['-c', 'import libtorrent']]]) ?? redisMissing() ?? postgresMissing();

type Tracker = TestTracker & { proc: ChildTracker };

interface Scene {
  redis: RedisServer;
  db: TestDatabase;
  trackers: Tracker[];
  admin: AdminClient;
  consumer: ChildTracker;
}

/** Three private trackers on one Redis, each writing records to the stream, and the consumer. */
async function startScene(redis: RedisServer, db: TestDatabase, prefix: string): Promise<Omit<Scene, 'redis' | 'db'>> {
  const env = {
    TRACKER_TRACKER_DRIVER: 'redis',
    TRACKER_TRACKER_PARAMS: JSON.stringify({ url: redis.url, prefix }),
    TRACKER_PRIVATE_ENABLED: 'true',
    TRACKER_BACKEND_DRIVER: 'redis-stream',
    TRACKER_BACKEND_PARAMS: JSON.stringify({ url: redis.url, stream: STREAM, flush_interval: 100, batch_size: 50 }),
    TRACKER_UDP_ADDR: '',
    TRACKER_ANNOUNCE_INTERVAL: '10',
    TRACKER_MIN_ANNOUNCE_INTERVAL: '1',
    TRACKER_INTERVAL_JITTER: '0',
    TRACKER_PEER_TTL: '60',
    TRACKER_TRUSTED_PROXIES: '127.0.0.0/8,::1/128',
  };
  const trackers = await Promise.all([
    startTrackerProcess({ ...env, TRACKER_ADMIN_ADDR: '127.0.0.1:0', TRACKER_ADMIN_TOKEN: ADMIN_TOKEN }),
    startTrackerProcess(env),
    startTrackerProcess(env),
  ]);
  const consumer = startConsumer(redis.url, STREAM, db.url, 'hybrid', {
    settings: { peer_ttl: 60, announce_interval: 10, min_announce_interval: 1, interval_jitter: 0 },
    consumer: { seed_grace: 5 },
  });
  return { trackers, admin: adminClient(trackers[0]!.adminPort!), consumer };
}

/** Stops the trackers (each flushes its buffer) and waits until the consumer applied the whole stream. */
async function drain(scene: Scene): Promise<void> {
  for (const t of scene.trackers) t.proc.child.kill('SIGTERM');
  for (const t of scene.trackers) assert.equal((await t.proc.exit).code, 0, 'a tracker stops cleanly, flushing its buffer');
  const redis = new Redis(scene.redis.url);
  try {
    await waitUntil('the consumer applied the whole stream', async () => (await redis.xlen(STREAM)) === 0, 60_000, 100);
  } finally {
    redis.disconnect();
  }
}

interface Python {
  first: Promise<Record<string, any>>;
  last: Promise<{ code: number | null; result: Record<string, any>; stderr: string }>;
  go(): void;
}

function runHybrid(seedUrl: string, leechUrl: string, dir: string): Python {
  const child = spawn(PYTHON, [SCRIPT, seedUrl, leechUrl, '127.0.0.1', dir, '60', String(SEED_SECONDS)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let announced: (value: Record<string, any>) => void;
  const first = new Promise<Record<string, any>>((resolve) => (announced = resolve));
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    if (out.includes('\n')) announced(JSON.parse(out.slice(0, out.indexOf('\n'))) as Record<string, any>);
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const last = new Promise<{ code: number | null; result: Record<string, any>; stderr: string }>((resolve) =>
    child.on('exit', (code) => {
      let result: Record<string, any>;
      try {
        result = JSON.parse(out.trim().split('\n').at(-1) ?? '') as Record<string, any>;
      } catch {
        result = { raw: out };
      }
      resolve({ code, result, stderr: err });
    }),
  );
  return { first, last, go: () => child.stdin.end('go\n') };
}

describe('hybrid private torrents end to end (3 trackers, the consumer, PostgreSQL)', { skip: missing ?? false }, () => {
  let redis: RedisServer;
  let db: TestDatabase;
  const running: ChildTracker[] = [];
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const child of running) child.child.kill('SIGKILL');
    await redis?.kill();
  });

  it('libtorrent: a hybrid private torrent is credited once, snatched once, and accrues seed time', { timeout: 180_000 }, async () => {
    db = await createDatabase();
    const dir = mkdtempSync(join(tmpdir(), 'shoal-lt-hybrid-'));
    try {
      const scene: Scene = { redis, db, ...(await startScene(redis, db, 'lt:')) };
      running.push(...scene.trackers.map((t) => t.proc), scene.consumer);
      const [seederKey, leecherKey] = ['seederpasskey0000000000000000001', 'leecherpasskey000000000000000002'];
      assert.equal((await scene.admin.put('/users/501', { passkey: seederKey })).status, 201);
      assert.equal((await scene.admin.put('/users/502', { passkey: leecherKey })).status, 201);
      const url = (t: Tracker, passkey: string) => `http://127.0.0.1:${t.port}/${passkey}/announce`;
      const started = Date.now();
      const python = runHybrid(url(scene.trackers[1]!, seederKey), url(scene.trackers[2]!, leecherKey), dir);
      const torrent = await python.first;
      const registered = await scene.admin.put(`/torrents/${torrent.info_hash}`, { id: 4242, info_hash_v2: torrent.info_hash_v2 });
      assert.equal(registered.status, 201, registered.body.toString());
      python.go();
      const { code, result, stderr } = await python.last;
      const elapsedMs = Date.now() - started;
      assert.equal(code, 0, `transfer failed: ${JSON.stringify(result)} ${stderr}`);
      assert.deepEqual(result.detail.tracker_errors, [], 'no announce refused (the v2 hash is registered)');
      assert.ok(result.replies.v1 > 0 && result.replies.v2 > 0, `announces answered on both hashes: ${JSON.stringify(result.replies)}`);
      await drain(scene);

      const payload = torrent.payload as number;
      const users = new Map(
        (await db.pool.query('SELECT id, uploaded, downloaded FROM users')).rows.map((r) => [
          Number(r.id),
          { up: Number(r.uploaded), down: Number(r.downloaded) },
        ]),
      );
      const snatches = Number((await db.pool.query('SELECT snatches FROM torrents WHERE id = 4242')).rows[0]?.snatches ?? 0);
      const seed = new Map(
        (await db.pool.query('SELECT user_id, seed_time_ms FROM user_torrents WHERE torrent_id = 4242')).rows.map((r) => [
          Number(r.user_id),
          Number(r.seed_time_ms),
        ]),
      );
      console.log(
        `# hybrid libtorrent run: payload ${payload} B; credited upload (seeder) ${users.get(501)?.up} B, download (leecher) ${users.get(502)?.down} B; ` +
          `snatches ${snatches}; seed time ${seed.get(501)} / ${seed.get(502)} ms over ${result.seed_seconds.toFixed(1)} s of seeding (run ${elapsedMs} ms); replies ${JSON.stringify(result.replies)}`,
      );
      // Twice would be 2x the payload: protocol overhead is far below that (libtorrent reports payload bytes).
      for (const [what, bytes] of [
        ['seeder upload', users.get(501)?.up ?? 0],
        ['leecher download', users.get(502)?.down ?? 0],
      ] as const) {
        assert.ok(bytes >= payload * 0.99 && bytes <= payload * 1.1, `${what} credited once: ${bytes} B for ${payload} B`);
      }
      assert.equal(snatches, 1, 'one snatch, though completed went out on both hashes');
      // The leecher seeds from completion to its stop (about SEED_SECONDS); the seeder from the start.
      assert.ok(seed.get(502)! >= (SEED_SECONDS - 3) * 1000 && seed.get(502)! <= (result.seed_seconds + 5) * 1000, `leecher seed time ${seed.get(502)} ms`);
      assert.ok(seed.get(501)! >= seed.get(502)! && seed.get(501)! <= elapsedMs, `seeder seed time ${seed.get(501)} ms`);
      assert.equal(Number((await db.pool.query('SELECT count(*) AS n FROM active_peers')).rows[0].n), 0, 'both stopped: no active peer left');
      scene.consumer.child.kill('SIGTERM');
      assert.equal((await scene.consumer.exit).code, 0);
      const after = Number((await db.pool.query('SELECT sum(seed_time_ms) AS ms FROM user_torrents')).rows[0].ms);
      assert.equal(after, seed.get(501)! + seed.get(502)!, 'seed time stops with the peers');
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await db.drop();
    }
  });

  it('simulated peers through 3 replicas: active_peers matches the live swarm (hybrid pairs and dual-stack peers as one)', { timeout: 120_000 }, async () => {
    db = await createDatabase();
    try {
      const scene: Scene = { redis, db, ...(await startScene(redis, db, 'sim:')) };
      running.push(...scene.trackers.map((t) => t.proc), scene.consumer);
      const v1 = randomBytes(20);
      const v2 = randomBytes(20);
      assert.equal((await scene.admin.put(`/torrents/${v1.toString('hex')}`, { id: 77, info_hash_v2: v2.toString('hex') })).status, 201);
      const users = [601, 602, 603, 604];
      for (const id of users) assert.equal((await scene.admin.put(`/users/${id}`, { passkey: `simpasskey${id}` })).status, 201);
      interface Peer {
        user: number;
        peerId: Buffer;
        port: number;
        from: string[];
        left: number;
        uploaded: number;
        live: boolean;
      }
      const peers: Peer[] = [];
      for (const user of users) {
        for (let k = 0; k < 3; k++) {
          // Some peers announce over both families (dual-stack), every peer on both hashes.
          const from = k === 0 ? [`10.0.${user % 256}.${k + 1}`, `2001:db8::${user}:${k + 1}`] : [`10.0.${user % 256}.${k + 1}`];
          peers.push({ user, peerId: randomBytes(20), port: 7000 + k, from, left: k === 2 ? 0 : 1000, uploaded: 0, live: false });
        }
      }
      let replica = 0;
      const announce = async (p: Peer, hash: Buffer, address: string, event?: 'started' | 'stopped') => {
        const t = scene.trackers[replica++ % 3]!;
        const path = announcePath(
          { infoHash: hash, peerId: p.peerId, port: p.port, left: p.left, uploaded: p.uploaded, ...(event ? { event } : {}) },
          `/simpasskey${p.user}`,
        );
        const answer = decode((await t.get(path, { 'x-forwarded-for': address })).body);
        assert.equal(
          answer['failure reason'] === undefined ? null : text(answer['failure reason']),
          null,
          `failure; logs: ${scene.trackers.flatMap((x) => x.proc.lines.filter((l) => l.includes('"level":50'))).join('\n')}`,
        );
      };
      /** One announce of a hybrid pair on each hash, on different replicas, at the same moment; each address family. */
      const pair = (p: Peer, event?: 'started' | 'stopped') =>
        Promise.all(p.from.flatMap((address) => [announce(p, v1, address, event), announce(p, v2, address, event)]));
      for (let round = 0; round < 4; round++) {
        await Promise.all(
          peers.map(async (p, i) => {
            if (round === 0) {
              await pair(p, 'started');
              p.live = true;
            } else if (round === 3 && i % 4 === 1) {
              await pair(p, 'stopped');
              p.live = false;
            } else if (p.live) {
              p.uploaded += 100;
              await pair(p);
            }
          }),
        );
      }
      await drain(scene);
      const rows = (
        await db.pool.query('SELECT user_id, encode(peer_id, $1) AS peer, host(ipv4) AS ipv4, host(ipv6) AS ipv6, seeder FROM active_peers', ['hex'])
      ).rows;
      const live = peers.filter((p) => p.live);
      assert.deepEqual(
        rows.map((r) => `${r.user_id}:${r.peer}`).sort(),
        live.map((p) => `${p.user}:${p.peerId.toString('hex')}`).sort(),
        'one row per live (user, peer_id): hybrid pairs and dual-stack announces are one peer; stopped ones are gone',
      );
      const dual = live.find((p) => p.from.length === 2)!;
      const dualRow = rows.find((r) => r.peer === dual.peerId.toString('hex'))!;
      assert.deepEqual([dualRow.ipv4, dualRow.ipv6], dual.from, 'a dual-stack peer keeps both addresses');
      const credited = (await db.pool.query('SELECT id, uploaded FROM users ORDER BY id')).rows.map((r) => [Number(r.id), Number(r.uploaded)]);
      const expected = users.map((u) => [u, peers.filter((p) => p.user === u).reduce((sum, p) => sum + p.uploaded, 0)]).filter(([, up]) => up! > 0);
      assert.deepEqual(credited, expected, 'each peer credited once for its uploads, though it announced them on 2 hashes (and 2 families)');
      scene.consumer.child.kill('SIGTERM');
      await scene.consumer.exit;
    } finally {
      await db.drop();
    }
  });
});
