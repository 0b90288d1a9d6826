/**
 * Freeleech tokens end to end: a tracker process (redis driver, redis-stream backend) on a real
 * redis-server, tokens given over the management API, HTTP announces, and the reference consumer into
 * PostgreSQL: a token's download is credited 0, and its end (completed, expired) reaches token_ends.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startConsumer } from '../helpers/accounting.js';
import { adminClient, ADMIN_TOKEN, type AdminClient } from '../helpers/admin.js';
import { announcePath, decode } from '../helpers/http.js';
import { countRows, createDatabase, postgresMissing, type TestDatabase } from '../helpers/postgres.js';
import { redisMissing, startRedis, type RedisServer } from '../helpers/redis.js';
import { startTrackerProcess, type ChildTracker, type TestTracker } from '../helpers/tracker.js';
import { waitUntil } from '../helpers/wait.js';

const STREAM = 'e2e:tokens';
const USER = { id: 4200, passkey: 'tokenpasskey'.padEnd(32, '0') };
const HELD = { id: 7001, infoHash: Buffer.from('token-e2e-torrent-01') };
const EXPIRED = { id: 7002, infoHash: Buffer.from('token-e2e-torrent-02') };

describe('freeleech tokens end to end: API, announces, the stream, PostgreSQL', { skip: redisMissing() ?? postgresMissing() ?? false }, () => {
  let redis: RedisServer;
  let tracker: (TestTracker & { proc: ChildTracker }) | null = null;
  let admin: AdminClient;
  let db: TestDatabase | null = null;

  before(async () => {
    redis = await startRedis();
    db = await createDatabase();
    tracker = await startTrackerProcess({
      TRACKER_TRACKER_DRIVER: 'redis',
      TRACKER_TRACKER_PARAMS: JSON.stringify({ url: redis.url, prefix: 'tke2e:' }),
      TRACKER_PRIVATE_ENABLED: 'true',
      TRACKER_MIN_INTERVAL_ENFORCEMENT: 'off',
      TRACKER_BACKEND_DRIVER: 'redis-stream',
      TRACKER_BACKEND_PARAMS: JSON.stringify({ url: redis.url, stream: STREAM, flush_interval: 50, batch_size: 50 }),
      TRACKER_UDP_ADDR: '',
      TRACKER_ADMIN_ADDR: '127.0.0.1:0',
      TRACKER_ADMIN_TOKEN: ADMIN_TOKEN,
    });
    await waitUntil('tracker ready', async () => (await tracker!.get('/readyz')).status === 200, 30_000, 50);
    admin = adminClient(tracker.adminPort!);
    assert.equal((await admin.put(`/users/${USER.id}`, { passkey: USER.passkey })).status, 201);
    for (const t of [HELD, EXPIRED]) assert.equal((await admin.put(`/torrents/${t.infoHash.toString('hex')}`, { id: t.id, down_multiplier: 0.5 })).status, 201);
    assert.equal((await admin.put(`/users/${USER.id}/tokens/${HELD.infoHash.toString('hex')}`, {})).status, 201);
    const past = Math.floor(Date.now() / 1000) - 60;
    assert.equal((await admin.put(`/users/${USER.id}/tokens/${EXPIRED.infoHash.toString('hex')}`, { until: past })).status, 201);
  });
  after(async () => {
    if (tracker) await tracker.close();
    await db?.drop();
    await redis?.kill();
  });

  const announce = async (infoHash: Buffer, query: Parameters<typeof announcePath>[0] extends infer P ? Partial<P> : never): Promise<void> => {
    const reply = await tracker!.get(announcePath({ infoHash, peerId: Buffer.from('-qB4630-tokene2e0001'), port: 7200, ...query }, `/${USER.passkey}`));
    assert.equal(decode(reply.body)['failure reason'], undefined);
  };

  it('credits a token-held download 0 until completion, counts an expired token, and records both ends in PostgreSQL', { timeout: 60_000 }, async () => {
    await announce(HELD.infoHash, { event: 'started', left: 4000 });
    await announce(HELD.infoHash, { downloaded: 1000, left: 3000 });
    await announce(HELD.infoHash, { downloaded: 4000, left: 0, event: 'completed' });
    await waitUntil('the used-up token deleted', async () => (await admin.get(`/users/${USER.id}/tokens`)).json.tokens.length < 2, 5000, 20);
    await announce(HELD.infoHash, { downloaded: 4600, left: 0 }); // a recheck after the completion: counted again
    await announce(EXPIRED.infoHash, { event: 'started', left: 1000 });
    await announce(EXPIRED.infoHash, { downloaded: 800, left: 200 });
    await waitUntil('both tokens gone', async () => (await admin.get(`/users/${USER.id}/tokens`)).json.tokens.length === 0, 5000, 20);

    const consumer = startConsumer(redis.url, STREAM, db!.url, 'tke2e');
    try {
      const pool = db!.pool;
      await waitUntil('the consumer applied the 6 records', async () => (await countRows(pool, 'applied_ids').catch(() => 0)) >= 6, 30_000, 50);
      const user = (await pool.query('SELECT downloaded FROM users WHERE id = $1', [USER.id])).rows[0];
      assert.equal(Number(user?.downloaded ?? 0), 600 * 0.5 + 800 * 0.5, 'nothing of the 4000 bytes under the token');
      const ends = (await pool.query('SELECT torrent_id, reason FROM token_ends WHERE user_id = $1 ORDER BY torrent_id', [USER.id])).rows;
      assert.deepEqual(
        ends.map((row) => [Number(row.torrent_id), row.reason]),
        [
          [HELD.id, 'completed'],
          [EXPIRED.id, 'expired'],
        ],
      );
    } finally {
      consumer.child.kill('SIGTERM');
      await consumer.exit;
    }
  });
});
