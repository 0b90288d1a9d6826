/**
 * The default path is the tested path: min_interval_enforcement left at its default ("answer"), on
 * both drivers, with the redis-stream backend and the reference consumer into PostgreSQL. An announce
 * sooner than min interval is answered and writes nothing (no record); its bytes reach PostgreSQL with
 * the session's next written announce, or with its stop. Over HTTP and UDP; WebTorrent has no min
 * interval (every announce is written) and is checked on the same chain.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { startConsumer } from '../helpers/accounting.js';
import { startAdminTracker, type AdminClient } from '../helpers/admin.js';
import { announcePath, decode } from '../helpers/http.js';
import { createDatabase, postgresMissing, type TestDatabase } from '../helpers/postgres.js';
import { redisMissing, startRedis, type RedisServer } from '../helpers/redis.js';
import type { ChildTracker, TestTracker } from '../helpers/tracker.js';
import { announcePacket, readAnnounceReply, udpConnect, udpRequest } from '../helpers/udp.js';
import { waitUntil } from '../helpers/wait.js';
import { announce as wsAnnounce, binaryId, isAnnounceReply, isFailure, WsClient, type Message } from '../helpers/ws.js';

// Long enough that the held-back announce, sent after the previous one was seen credited, falls well inside the window.
const MIN_INTERVAL = 3;

/** BEP 41 URL data carrying the passkey path. */
function urlData(path: string): Buffer {
  const bytes = Buffer.from(path, 'latin1');
  return Buffer.concat([Buffer.from([2, bytes.length]), bytes, Buffer.from([0])]);
}

const EVENT_CODES: Record<string, number> = { none: 0, completed: 1, started: 2, stopped: 3 };

for (const driver of ['memory', 'redis'] as const) {
  describe(`accounting with min_interval_enforcement at its default, ${driver} driver`, { skip: redisMissing() ?? postgresMissing() ?? false }, () => {
    let redis: RedisServer;
    let db: TestDatabase;
    let tracker: TestTracker & { admin: AdminClient };
    let consumer: ChildTracker;
    let reader: Redis;
    const stream = `default-mode:${driver}`;
    let nextUser = 1;

    before(async () => {
      redis = await startRedis();
      db = await createDatabase();
      tracker = await startAdminTracker({
        private_enabled: true,
        min_announce_interval: MIN_INTERVAL,
        tracker: driver === 'redis' ? { driver: 'redis', params: { url: redis.url } } : { driver: 'memory' },
        backend: { driver: 'redis-stream', params: { url: redis.url, stream, flush_interval: 50 } },
        webtorrent: { enabled: true },
      });
      consumer = startConsumer(redis.url, stream, db.url, 'default-mode');
      reader = new Redis(redis.url);
    });
    after(async () => {
      consumer?.child.kill('SIGKILL');
      reader?.disconnect();
      await tracker?.close();
      await redis?.kill();
      await db?.drop();
    });

    /** A fresh user and torrent, registered. */
    async function register(): Promise<{ userId: number; passkey: string; infoHash: Buffer }> {
      const userId = nextUser++;
      const passkey = randomBytes(16).toString('hex');
      const infoHash = randomBytes(20);
      assert.equal((await tracker.admin.put(`/users/${userId}`, { passkey })).status, 201);
      assert.equal((await tracker.admin.put(`/torrents/${infoHash.toString('hex')}`, { id: 1000 + userId })).status, 201);
      return { userId, passkey, infoHash };
    }

    const credited = async (userId: number): Promise<[number, number]> => {
      const row = (await db.pool.query('SELECT uploaded, downloaded FROM users WHERE id = $1', [userId]).catch(() => ({ rows: [] }))).rows[0];
      return row ? [Number(row.uploaded), Number(row.downloaded)] : [0, 0];
    };
    const recordsOf = async (userId: number): Promise<number> => {
      const entries = (await reader.xrange(stream, '-', '+')) as Array<[string, string[]]>;
      // The consumer deletes what it applied: count its applied announces of this user too.
      const applied = Number((await db.pool.query('SELECT coalesce(sum(announces), 0) AS n FROM user_torrents WHERE user_id = $1', [userId])).rows[0].n);
      return entries.filter(([, f]) => f[f.indexOf('user') + 1] === String(userId)).length + applied;
    };
    const settle = async (userId: number, expected: [number, number], what: string): Promise<void> => {
      await waitUntil(
        what,
        async () => {
          const now = await credited(userId);
          return now[0] === expected[0] && now[1] === expected[1];
        },
        10_000,
      );
    };

    type Say = (event: string, uploaded: number, downloaded: number, left: number) => Promise<void>;

    /** The held-back scenario through one transport's `say`. */
    async function heldBack(userId: number, say: Say): Promise<void> {
      await say('started', 0, 0, 1000);
      await sleep(MIN_INTERVAL * 1000 + 100);
      await say('none', 100, 10, 900);
      await settle(userId, [100, 10], 'the first written announce credited');
      const written = await recordsOf(userId);
      // Too soon: answered, nothing written, no record.
      await say('none', 300, 30, 700);
      await sleep(300);
      assert.equal(await recordsOf(userId), written, 'a held-back announce writes no record');
      assert.deepEqual(await credited(userId), [100, 10], 'and credits nothing yet');
      await sleep(MIN_INTERVAL * 1000 + 100);
      await say('none', 500, 50, 500);
      await settle(userId, [500, 50], "the held-back announce's bytes arrive with the next written one");
      // Held back again, then the stop: the stop carries them.
      await say('none', 600, 60, 400);
      await say('stopped', 700, 70, 300);
      await settle(userId, [700, 70], 'the stop carries the bytes of the announce held back before it');
    }

    it('HTTP: a held-back announce is credited at the next written announce and on stopped', async () => {
      const { userId, passkey, infoHash } = await register();
      const peerId = randomBytes(20);
      await heldBack(userId, async (event, uploaded, downloaded, left) => {
        const path = announcePath({ infoHash, peerId, uploaded, downloaded, left, event: event === 'none' ? undefined : event, numwant: 5 }, `/${passkey}`);
        const answer = decode((await tracker.get(path)).body);
        assert.equal(answer['failure reason'], undefined, `${event} ${uploaded} is answered`);
      });
    });

    it('UDP: a held-back announce is credited at the next written announce and on stopped', async () => {
      const { userId, passkey, infoHash } = await register();
      const peerId = randomBytes(20);
      await heldBack(userId, async (event, uploaded, downloaded, left) => {
        const connectionId = await udpConnect('127.0.0.1', tracker.udpPort);
        const packet = announcePacket({
          connectionId,
          infoHash,
          peerId,
          uploaded: BigInt(uploaded),
          downloaded: BigInt(downloaded),
          left: BigInt(left),
          event: EVENT_CODES[event],
          options: urlData(`/${passkey}/announce`),
        });
        const reply = await udpRequest('127.0.0.1', tracker.udpPort, packet);
        assert.ok(reply && reply.readUInt32BE(0) === 1, `${event} ${uploaded} is answered`);
        readAnnounceReply(reply);
      });
    });

    it('WebSocket: every announce is written (no min interval), and the chain credits each byte once', async () => {
      const { userId, passkey, infoHash } = await register();
      const client = await WsClient.open(`ws://127.0.0.1:${tracker.port}/${passkey}/announce`);
      try {
        const hash = infoHash.toString('latin1');
        const peerId = '-WW0208-' + binaryId().slice(0, 12);
        const say = async (event: string, uploaded: number, downloaded: number, left: number): Promise<Message> =>
          client.request(
            wsAnnounce(hash, peerId, { numwant: 0, uploaded, downloaded, left, ...(event === 'none' ? {} : { event }) }),
            (m) => isAnnounceReply(m) || isFailure(m),
          );
        assert.ok(isAnnounceReply(await say('started', 0, 0, 1000)));
        assert.ok(isAnnounceReply(await say('none', 100, 10, 900)));
        assert.ok(isAnnounceReply(await say('none', 300, 30, 700)), 'at once again: WebTorrent holds nothing back');
        await settle(userId, [300, 30], 'each WebTorrent announce credited');
        assert.ok(isAnnounceReply(await say('stopped', 350, 30, 700)));
        await settle(userId, [350, 30], 'and the stop');
      } finally {
        await client.close();
      }
    });
  });
}
