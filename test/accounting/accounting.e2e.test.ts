/**
 * The accounting test of the whole chain: simulated peers of many users announce random progress
 * (restarts, stops, completions included) over many rounds through three private-mode tracker
 * processes sharing one Redis; each tracker writes its records to the stream; the reference consumer
 * applies them to PostgreSQL. After SIGTERM to every tracker and a drained consumer, the database
 * must hold exactly the sum of the true deltas, byte for byte.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startConsumer } from '../helpers/accounting.js';
import { adminClient, ADMIN_TOKEN } from '../helpers/admin.js';
import { announcePath, decode } from '../helpers/http.js';
import { countRows, createDatabase, postgresMissing, type TestDatabase } from '../helpers/postgres.js';
import { redisMissing, startRedis, type RedisServer } from '../helpers/redis.js';
import { startTrackerProcess, type ChildTracker, type TestTracker } from '../helpers/tracker.js';
import { waitUntil } from '../helpers/wait.js';

const USERS = 12;
const TORRENTS = 5;
const PEERS = 48;
const ROUNDS = 14;
const STREAM = 'e2e:accounting';

/** A small seeded PRNG, so that a failing run can be replayed with its seed. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface SimUser {
  id: number;
  passkey: string;
  up: number;
  down: number;
}
interface SimTorrent {
  id: number;
  infoHash: Buffer;
  up: number;
  down: number;
  freeleech: boolean;
}
interface SimPeer {
  user: SimUser;
  torrent: SimTorrent;
  port: number;
  peerId: Buffer;
  /** What the client reports: bytes since its `started`. */
  uploaded: number;
  downloaded: number;
  left: number;
  /** In the swarm (announced, not stopped). */
  active: boolean;
  seeder: boolean;
}

describe('private accounting end to end: 3 trackers, the stream, the consumer, PostgreSQL', { skip: redisMissing() ?? postgresMissing() ?? false }, () => {
  let redis: RedisServer;
  let db: TestDatabase;
  let trackers: Array<TestTracker & { proc: ChildTracker }> = [];
  let consumer: ChildTracker | null = null;

  before(async () => {
    redis = await startRedis();
    db = await createDatabase();
  });
  after(async () => {
    consumer?.child.kill('SIGKILL');
    for (const t of trackers) t.proc.child.kill('SIGKILL');
    await redis?.kill();
    await db?.drop();
  });

  it('PostgreSQL totals equal the sum of the true deltas, byte for byte', { timeout: 120_000 }, async () => {
    const seed = Date.now() % 1_000_000;
    console.log(`# accounting simulation seed ${seed}`);
    const random = seeded(seed);
    const pick = <T>(list: T[]): T => list[Math.floor(random() * list.length)]!;
    /** A multiple of 4 below `max`: with multipliers of 0.5, 1 and 2 every credited amount is whole. */
    const amount = (max: number): number => 4 * Math.floor((random() * max) / 4);

    const env = {
      TRACKER_TRACKER_DRIVER: 'redis',
      TRACKER_TRACKER_PARAMS: JSON.stringify({ url: redis.url, prefix: 'e2e:' }),
      TRACKER_PRIVATE_ENABLED: 'true',
      // Each peer re-announces at once: min interval enforcement would hold its deltas back.
      TRACKER_MIN_INTERVAL_ENFORCEMENT: 'off',
      TRACKER_BACKEND_DRIVER: 'redis-stream',
      TRACKER_BACKEND_PARAMS: JSON.stringify({ url: redis.url, stream: STREAM, flush_interval: 100, batch_size: 50 }),
      TRACKER_UDP_ADDR: '',
    };
    trackers = await Promise.all([
      startTrackerProcess({ ...env, TRACKER_ADMIN_ADDR: '127.0.0.1:0', TRACKER_ADMIN_TOKEN: ADMIN_TOKEN }),
      startTrackerProcess(env),
      startTrackerProcess(env),
    ]);
    const admin = adminClient(trackers[0]!.adminPort!);

    const multipliers = [0.5, 1, 2];
    const users: SimUser[] = Array.from({ length: USERS }, (_, i) => ({
      id: 1000 + i,
      passkey: `e2epasskey${String(i).padStart(22, '0')}`,
      up: pick(multipliers),
      down: pick(multipliers),
    }));
    const torrents: SimTorrent[] = Array.from({ length: TORRENTS }, (_, i) => ({
      id: 2 ** 33 + i,
      infoHash: Buffer.from(`${'e2e-torrent-'}${String(i).padStart(8, '0')}`),
      up: pick(multipliers),
      down: pick(multipliers),
      freeleech: i === 0,
    }));
    for (const u of users) assert.equal((await admin.put(`/users/${u.id}`, { passkey: u.passkey, up_multiplier: u.up, down_multiplier: u.down })).status, 201);
    for (const t of torrents) {
      const reply = await admin.put(`/torrents/${t.infoHash.toString('hex')}`, {
        id: t.id,
        up_multiplier: t.up,
        down_multiplier: t.down,
        freeleech: t.freeleech,
      });
      assert.equal(reply.status, 201);
    }

    const newPeerId = (n: number): Buffer => Buffer.from(`-qB4630-${String(n).padStart(6, '0')}${String(Math.floor(random() * 1e6)).padStart(6, '0')}`);
    const peers: SimPeer[] = Array.from({ length: PEERS }, (_, i) => ({
      user: users[i % USERS]!,
      torrent: pick(torrents),
      port: 20_000 + i,
      peerId: newPeerId(i),
      uploaded: 0,
      downloaded: 0,
      left: 4 + amount(4e9),
      active: false,
      seeder: false,
    }));

    // The truth, kept by the simulation from what the clients really moved.
    const truth = {
      users: new Map<number, { up: number; down: number }>(),
      torrents: new Map<number, number>(),
      pairs: new Map<string, { rawUp: number; rawDown: number }>(),
    };
    const credit = (p: SimPeer, up: number, down: number): void => {
      const u = truth.users.get(p.user.id) ?? { up: 0, down: 0 };
      u.up += up * p.user.up * p.torrent.up;
      u.down += p.torrent.freeleech ? 0 : down * p.user.down * p.torrent.down;
      truth.users.set(p.user.id, u);
      const key = `${p.user.id}/${p.torrent.id}`;
      const pair = truth.pairs.get(key) ?? { rawUp: 0, rawDown: 0 };
      pair.rawUp += up;
      pair.rawDown += down;
      truth.pairs.set(key, pair);
    };

    let announces = 0;
    const announce = async (p: SimPeer, event?: 'started' | 'completed' | 'stopped'): Promise<void> => {
      const tracker = pick(trackers);
      const path = announcePath(
        { infoHash: p.torrent.infoHash, peerId: p.peerId, port: p.port, uploaded: p.uploaded, downloaded: p.downloaded, left: p.left, event, numwant: 10 },
        `/${p.user.passkey}`,
      );
      const answer = decode((await tracker.get(path)).body);
      const failure = answer['failure reason'];
      assert.equal(failure === undefined ? undefined : Buffer.from(failure).toString(), undefined, 'every simulated announce is accepted');
      announces++;
    };

    const step = async (p: SimPeer): Promise<void> => {
      if (!p.active) {
        // A (re)start: the client's counters begin at zero, and it may come with a new peer_id.
        p.uploaded = 0;
        p.downloaded = 0;
        if (random() < 0.5) p.peerId = newPeerId(p.port);
        p.active = true;
        await announce(p, 'started');
        return;
      }
      const roll = random();
      if (roll < 0.06) {
        // A crash: nothing is announced; the client comes back with counters from zero and a new id.
        p.active = false;
        return;
      }
      let up: number;
      let down: number;
      if (roll < 0.12 && p.uploaded > 0) {
        // A restart that keeps the peer_id: the counters go backwards, and count from zero.
        up = amount(p.uploaded);
        down = p.seeder ? 0 : amount(Math.min(p.downloaded, p.left));
        p.uploaded = up;
        p.downloaded = down;
      } else {
        up = amount(2e9);
        down = p.seeder ? 0 : Math.min(amount(2e9), p.left);
        p.uploaded += up;
        p.downloaded += down;
      }
      p.left -= down;
      credit(p, up, down);
      if (!p.seeder && p.left === 0) {
        // A client says `completed` on the announce that follows the last piece, whatever else it does.
        p.seeder = true;
        truth.torrents.set(p.torrent.id, (truth.torrents.get(p.torrent.id) ?? 0) + 1);
        await announce(p, 'completed');
      } else if (roll > 0.93) {
        p.active = false;
        await announce(p, 'stopped');
      } else {
        await announce(p);
      }
    };

    consumer = startConsumer(redis.url, STREAM, db.url, 'e2e');

    for (let round = 0; round < ROUNDS; round++) {
      // Every peer once per round, several at a time, each through any replica.
      const order = [...peers].sort(() => random() - 0.5);
      for (let i = 0; i < order.length; i += 8) await Promise.all(order.slice(i, i + 8).map(step));
      // Some downloads are made to finish, so that completions happen in every run.
      if (round === Math.floor(ROUNDS / 2)) for (const p of peers) if (!p.seeder && random() < 0.5) p.left = Math.min(p.left, 4);
    }

    for (const t of trackers) t.proc.child.kill('SIGTERM');
    for (const t of trackers) assert.equal((await t.proc.exit).code, 0, 'a tracker stops cleanly, flushing its buffer');
    trackers = [];
    await waitUntil('the consumer applied every record', async () => (await countRows(db.pool, 'applied_ids')) >= announces, 60_000, 50);
    consumer.child.kill('SIGTERM');
    assert.equal((await consumer.exit).code, 0);
    consumer = null;
    assert.equal(await countRows(db.pool, 'applied_ids'), announces, 'one record per announce, each applied once');
    assert.equal(await countRows(db.pool, 'dead_letters'), 0);

    const rows = async (sql: string): Promise<Array<Record<string, string>>> => (await db.pool.query(sql)).rows;
    const dbUsers = new Map(
      (await rows('SELECT id, uploaded, downloaded FROM users')).map((r) => [Number(r.id), { up: BigInt(r.uploaded!), down: BigInt(r.downloaded!) }]),
    );
    for (const [id, expected] of truth.users) {
      const got = dbUsers.get(id) ?? { up: 0n, down: 0n };
      assert.deepEqual(got, { up: BigInt(expected.up), down: BigInt(expected.down) }, `user ${id}`);
    }
    const dbSnatches = new Map((await rows('SELECT id, snatches FROM torrents')).map((r) => [Number(r.id), Number(r.snatches)]));
    for (const t of torrents) assert.equal(dbSnatches.get(t.id) ?? 0, truth.torrents.get(t.id) ?? 0, `snatches of torrent ${t.id}`);
    const dbPairs = new Map(
      (await rows('SELECT user_id, torrent_id, raw_uploaded, raw_downloaded FROM user_torrents')).map((r) => [
        `${r.user_id}/${r.torrent_id}`,
        { rawUp: BigInt(r.raw_uploaded!), rawDown: BigInt(r.raw_downloaded!) },
      ]),
    );
    for (const [key, expected] of truth.pairs) {
      assert.deepEqual(
        dbPairs.get(key) ?? { rawUp: 0n, rawDown: 0n },
        { rawUp: BigInt(expected.rawUp), rawDown: BigInt(expected.rawDown) },
        `raw totals of ${key}`,
      );
    }
    const totalUp = [...truth.users.values()].reduce((n, u) => n + u.up, 0);
    const snatches = [...truth.torrents.values()].reduce((n, s) => n + s, 0);
    console.log(
      `# ${announces} announces from ${PEERS} peers of ${USERS} users over ${ROUNDS} rounds; ${snatches} snatches; ${totalUp} bytes credited up, all equal in PostgreSQL`,
    );
  });
});
