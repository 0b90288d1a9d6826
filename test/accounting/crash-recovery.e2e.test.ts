/**
 * Accounting that a crash cannot lose, end to end with real processes: tracker CLIs, redis-server, the
 * reference consumer, PostgreSQL.
 * - A replica killed with SIGKILL loses the records it had buffered, and announces in flight are
 *   retried on another replica: once each session announces again, PostgreSQL holds every byte once,
 *   and the consumer says how much it recovered. The killed replica, started again, reports its
 *   unclean stop.
 * - Redis restarted without persistence loses the tracker's stored totals and the stream: the sessions
 *   that announce again are credited exactly, never their whole counters twice.
 * - The memory driver's process killed loses its buffer and every stored total at once: the same, for
 *   every session the consumer had seen (a session whose every record was still in the lost buffer, one
 *   that started within the last flush interval, counts from its next announce, as the tracker does).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startConsumer } from '../helpers/accounting.js';
import { adminClient, ADMIN_TOKEN } from '../helpers/admin.js';
import { announcePath, decode, httpGet } from '../helpers/http.js';
import { createDatabase, postgresMissing, type TestDatabase } from '../helpers/postgres.js';
import { redisCli, redisMissing, startRedis, type RedisServer } from '../helpers/redis.js';
import { startTrackerProcess, type ChildTracker, type TestTracker } from '../helpers/tracker.js';
import { waitUntil } from '../helpers/wait.js';

type Replica = TestTracker & { proc: ChildTracker };

interface Session {
  userId: number;
  passkey: string;
  infoHash: Buffer;
  peerId: Buffer;
  uploaded: number;
  downloaded: number;
  /** The counters of the last announce answered: what the user must end up credited with. */
  acceptedUp: number;
  acceptedDown: number;
}

const USERS = 4;
const SESSIONS = 24;

describe(
  'accounting survives crashes: replica SIGKILL, Redis without persistence, a memory driver restart',
  { skip: redisMissing() ?? postgresMissing() ?? false },
  () => {
    let redis: RedisServer;
    let db: TestDatabase;
    const children: ChildTracker[] = [];

    before(async () => {
      redis = await startRedis();
    });
    after(async () => {
      for (const c of children) c.child.kill('SIGKILL');
      await redis?.kill();
    });

    function replicaEnv(stream: string, driver: 'redis' | 'memory', name: string): Record<string, string> {
      return {
        TRACKER_PRIVATE_ENABLED: 'true',
        // Sessions here announce at once again: min interval would hold their bytes back (tested apart).
        TRACKER_MIN_INTERVAL_ENFORCEMENT: 'off',
        TRACKER_ADMIN_ADDR: '127.0.0.1:0',
        TRACKER_ADMIN_TOKEN: ADMIN_TOKEN,
        TRACKER_TRACKER_DRIVER: driver,
        ...(driver === 'redis' ? { TRACKER_TRACKER_PARAMS: JSON.stringify({ url: redis.url }) } : {}),
        TRACKER_BACKEND_DRIVER: 'redis-stream',
        // A long flush interval: a kill always finds records buffered.
        TRACKER_BACKEND_PARAMS: JSON.stringify({ url: redis.url, stream, flush_interval: 2000, batch_size: 10_000, replica: name }),
      };
    }

    async function replica(stream: string, driver: 'redis' | 'memory', name: string): Promise<Replica> {
      const r = await startTrackerProcess(replicaEnv(stream, driver, name));
      children.push(r.proc);
      return r;
    }

    async function register(r: Replica, sessions: Session[]): Promise<void> {
      const admin = adminClient(r.adminPort!);
      for (const s of sessions) {
        await admin.put(`/users/${s.userId}`, { passkey: s.passkey });
        await admin.put(`/torrents/${s.infoHash.toString('hex')}`, { id: s.userId });
      }
    }

    function newSessions(): Session[] {
      const users = Array.from({ length: USERS }, (_, i) => ({ userId: 1 + i, passkey: randomBytes(16).toString('hex'), infoHash: randomBytes(20) }));
      return Array.from({ length: SESSIONS }, (_, i) => ({
        ...users[i % USERS]!,
        peerId: randomBytes(20),
        uploaded: 0,
        downloaded: 0,
        acceptedUp: 0,
        acceptedDown: 0,
      }));
    }

    /** One announce of a session, tried on each replica in turn until one answers (as a client behind a balancer). */
    async function announce(replicas: Replica[], s: Session, event?: string): Promise<void> {
      for (let attempt = 0; attempt < 200; attempt++) {
        const r = replicas[attempt % replicas.length]!;
        try {
          const path = announcePath(
            { infoHash: s.infoHash, peerId: s.peerId, uploaded: s.uploaded, downloaded: s.downloaded, left: 1000, event, numwant: 0 },
            `/${s.passkey}`,
          );
          const answer = decode((await r.get(path)).body);
          if (answer['failure reason'] === undefined) {
            s.acceptedUp = s.uploaded;
            s.acceptedDown = s.downloaded;
            return;
          }
        } catch {
          // refused or reset: the replica is gone
        }
        await sleep(50);
      }
      assert.fail('an announce found no replica to answer it');
    }

    const grow = (s: Session): void => {
      s.uploaded += 1 + Math.floor(Math.random() * 1_000_000);
      s.downloaded += Math.floor(Math.random() * 100_000);
    };

    async function credited(userId: number): Promise<[number, number]> {
      const row = (await db.pool.query('SELECT uploaded, downloaded FROM users WHERE id = $1', [userId]).catch(() => ({ rows: [] }))).rows[0];
      return row ? [Number(row.uploaded), Number(row.downloaded)] : [0, 0];
    }

    /** Waits until every user's credit equals the counters its sessions last had accepted. */
    async function exact(sessions: Session[]): Promise<void> {
      const truth = new Map<number, [number, number]>();
      for (const s of sessions) {
        const t = truth.get(s.userId) ?? [0, 0];
        truth.set(s.userId, [t[0] + s.acceptedUp, t[1] + s.acceptedDown]);
      }
      let last = '';
      await waitUntil(
        'every user credited exactly what its sessions reported',
        async () => {
          const diffs: string[] = [];
          for (const [userId, [up, down]] of truth) {
            const [cu, cd] = await credited(userId);
            if (cu !== up || cd !== down) diffs.push(`user ${userId}: credited ${cu}/${cd}, truth ${up}/${down}`);
          }
          last = diffs.join('; ');
          return diffs.length === 0;
        },
        20_000,
        200,
      ).catch(() => assert.fail(last));
    }

    it(
      'SIGKILL of a replica with records buffered and announces in flight: every byte credited once when the sessions announce again',
      { timeout: 90_000 },
      async () => {
        db = await createDatabase();
        try {
          const stream = `crash:${randomBytes(3).toString('hex')}`;
          const a = await replica(stream, 'redis', 'crash-a');
          const b = await replica(stream, 'redis', 'crash-b');
          const consumer = startConsumer(redis.url, stream, db.url, 'crash', { consumer: { metrics_addr: '127.0.0.1:0' } });
          children.push(consumer);
          const listening = JSON.parse(await consumer.waitForLine((l) => l.includes('consumer metrics listening'), 15_000)) as { metrics: string };
          const sessions = newSessions();
          await register(a, sessions);
          await Promise.all(sessions.map((s) => announce([a, b], s, 'started')));
          // Rounds on replica A (B only when A is gone), then A is killed mid-round: its buffer (2 s of
          // records) never reaches the stream, and the announces it was answering go to B with the same totals.
          let killed = false;
          const rounds = (async () => {
            for (let round = 0; round < 6; round++) {
              await Promise.all(
                sessions.map(async (s) => {
                  grow(s);
                  await announce(killed ? [b] : [a, b], s);
                }),
              );
            }
          })();
          await sleep(300);
          a.proc.child.kill('SIGKILL');
          killed = true;
          await a.proc.exit;
          await rounds;
          // Every session announces once more (on B), and half of them stop.
          await Promise.all(
            sessions.map(async (s, i) => {
              grow(s);
              await announce([b], s, i % 2 === 0 ? 'stopped' : undefined);
            }),
          );
          await exact(sessions);
          const recovery = (await db.pool.query('SELECT sum(recovered_uploaded) AS up, sum(recovered_records) AS n FROM credit_recovery')).rows[0];
          console.log(`# SIGKILL: the consumer recovered ${recovery.n} records' bytes, ${recovery.up} up, from the sessions' later records`);
          assert.ok(Number(recovery.up) > 0, 'the killed replica had records buffered: the marks recovered their bytes');
          const metrics = (await httpGet('127.0.0.1', Number(listening.metrics.split(':').at(-1)), '/metrics')).body.toString();
          const recoveredUp = Number(/tracker_consumer_credited_by_recovery_bytes_total\{direction="up"\} (\d+)/.exec(metrics)?.[1]);
          assert.equal(recoveredUp, Number(recovery.up), "the consumer's metrics say what credit_recovery says");
          const active = Number((await db.pool.query('SELECT count(*) AS n FROM active_peers')).rows[0].n);
          assert.equal(active, SESSIONS / 2, 'active_peers holds exactly the sessions that did not stop');

          // A started again under its name says that its previous life ended uncleanly.
          const again = await replica(stream, 'redis', 'crash-a');
          await again.proc.waitForLine((l) => l.includes('ended without a clean shutdown'), 10_000);
          const clean = await replica(stream, 'redis', 'crash-b-2');
          await sleep(500);
          assert.equal(clean.proc.lines.filter((l) => l.includes('ended without a clean shutdown')).length, 0, 'a fresh name reports nothing');
          await Promise.all([again.close(), clean.close(), b.close()]);
          consumer.child.kill('SIGTERM');
          await consumer.exit;
        } finally {
          await db.drop();
        }
      },
    );

    it(
      'Redis restarted without persistence (totals and stream lost): no session is credited twice, none that announces again loses a byte',
      { timeout: 90_000 },
      async () => {
        db = await createDatabase();
        try {
          const stream = `loss:${randomBytes(3).toString('hex')}`;
          const a = await replica(stream, 'redis', 'loss-a');
          const consumer = startConsumer(redis.url, stream, db.url, 'loss');
          children.push(consumer);
          const sessions = newSessions();
          await register(a, sessions);
          await Promise.all(sessions.map((s) => announce([a], s, 'started')));
          for (let round = 0; round < 2; round++) await Promise.all(sessions.map((s) => (grow(s), announce([a], s))));
          await exact(sessions);
          // A last round reaches Redis' totals (and maybe the stream), then Redis restarts empty.
          await Promise.all(sessions.map((s) => (grow(s), announce([a], s))));
          await redisCli(redis.port, 'SET', 'test:before-the-restart', '1');
          await redis.restart();
          assert.equal(await redisCli(redis.port, 'EXISTS', 'test:before-the-restart'), '0', 'Redis came back empty');
          // The site's sync registers users and torrents again; clients retry meanwhile.
          await register(a, sessions);
          await Promise.all(sessions.map((s) => (grow(s), announce([a], s))));
          await Promise.all(sessions.map((s, i) => (grow(s), announce([a], s, i % 3 === 0 ? 'stopped' : undefined))));
          await exact(sessions);
          const active = Number((await db.pool.query('SELECT count(*) AS n FROM active_peers')).rows[0].n);
          assert.equal(active, sessions.filter((_, i) => i % 3 !== 0).length, 'active_peers holds exactly the sessions that did not stop');
          await a.close();
          consumer.child.kill('SIGTERM');
          await consumer.exit;
        } finally {
          await db.drop();
        }
      },
    );

    it(
      'the memory driver restarted (every stored total lost): no session is credited twice, none that announces again loses a byte',
      { timeout: 90_000 },
      async () => {
        db = await createDatabase();
        try {
          const stream = `memory:${randomBytes(3).toString('hex')}`;
          let a = await replica(stream, 'memory', 'mem-a');
          const consumer = startConsumer(redis.url, stream, db.url, 'mem');
          children.push(consumer);
          const sessions = newSessions();
          await register(a, sessions);
          await Promise.all(sessions.map((s) => announce([a], s, 'started')));
          await Promise.all(sessions.map((s) => (grow(s), announce([a], s))));
          // The consumer has seen every session (but for a session's first flush interval, as in real life) ...
          await exact(sessions);
          // ... and the process dies with two rounds buffered and every stored total in its memory.
          for (let round = 0; round < 2; round++) await Promise.all(sessions.map((s) => (grow(s), announce([a], s))));
          a.proc.child.kill('SIGKILL');
          await a.proc.exit;
          a = await replica(stream, 'memory', 'mem-a');
          await register(a, sessions);
          for (let round = 0; round < 2; round++) await Promise.all(sessions.map((s) => (grow(s), announce([a], s))));
          await exact(sessions);
          await a.close();
          consumer.child.kill('SIGTERM');
          await consumer.exit;
        } finally {
          await db.drop();
        }
      },
    );
  },
);
