/**
 * WebTorrent private accounting end to end: real WebSocket clients (the ws package) announce through
 * /PASSKEY/announce to a private tracker process (the real CLI) with the redis driver and the
 * redis-stream backend on a real redis-server. The test reads the stream and checks each credited
 * delta, then lets the reference consumer apply the same records to PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { UNKNOWN_LEFT, type AccountingRecord } from '../../src/backend/driver.js';
import { fromFields } from '../../src/backend/stream/entry.js';
import { startConsumer } from '../helpers/accounting.js';
import { adminClient, ADMIN_TOKEN } from '../helpers/admin.js';
import { countRows, createDatabase, postgresMissing, type TestDatabase } from '../helpers/postgres.js';
import { redisMissing, startRedis, type RedisServer } from '../helpers/redis.js';
import { startTrackerProcess, type ChildTracker, type TestTracker } from '../helpers/tracker.js';
import { waitUntil } from '../helpers/wait.js';
import { announce, binaryId, isAnnounceReply, isFailure, WsClient, type Message } from '../helpers/ws.js';

const STREAM = 'e2e:webtorrent';
const USER = { id: 4100, passkey: 'wspasskey'.padEnd(32, '0'), up: 2, down: 1 };
const TORRENT = { id: 2 ** 34 + 1, infoHash: Buffer.from('ws-e2e-torrent-00001'), up: 1, down: 0.5 };
const FREELEECH = { id: 2 ** 34 + 2, infoHash: Buffer.from('ws-e2e-torrent-00002') };

describe('WebTorrent private accounting end to end: WebSockets, redis, the stream', { skip: redisMissing() ?? false }, () => {
  let redis: RedisServer;
  let reader: Redis;
  let tracker: (TestTracker & { proc: ChildTracker }) | null = null;
  const clients: WsClient[] = [];
  /** Every record the tracker wrote, in stream order. */
  let records: AccountingRecord[] = [];

  before(async () => {
    redis = await startRedis();
    reader = new Redis(redis.url, { lazyConnect: true });
    await reader.connect();
    tracker = await startTrackerProcess({
      TRACKER_TRACKER_DRIVER: 'redis',
      TRACKER_TRACKER_PARAMS: JSON.stringify({ url: redis.url, prefix: 'wse2e:' }),
      TRACKER_PRIVATE_ENABLED: 'true',
      TRACKER_BACKEND_DRIVER: 'redis-stream',
      TRACKER_BACKEND_PARAMS: JSON.stringify({ url: redis.url, stream: STREAM, flush_interval: 50, batch_size: 50 }),
      TRACKER_UDP_ADDR: '',
      TRACKER_ADMIN_ADDR: '127.0.0.1:0',
      TRACKER_ADMIN_TOKEN: ADMIN_TOKEN,
    });
    await waitUntil('tracker ready', async () => (await tracker!.get('/readyz')).status === 200, 30_000, 50);
    const admin = adminClient(tracker.adminPort!);
    assert.equal((await admin.put(`/users/${USER.id}`, { passkey: USER.passkey, up_multiplier: USER.up, down_multiplier: USER.down })).status, 201);
    assert.equal(
      (await admin.put(`/torrents/${TORRENT.infoHash.toString('hex')}`, { id: TORRENT.id, up_multiplier: TORRENT.up, down_multiplier: TORRENT.down })).status,
      201,
    );
    assert.equal((await admin.put(`/torrents/${FREELEECH.infoHash.toString('hex')}`, { id: FREELEECH.id, freeleech: true })).status, 201);
  });
  after(async () => {
    for (const c of clients) c.ws.terminate();
    if (tracker) await tracker.close();
    reader?.disconnect();
    await redis?.kill();
  });

  const open = async (): Promise<WsClient> => {
    const client = await WsClient.open(`ws://127.0.0.1:${tracker!.port}/${USER.passkey}/announce`);
    clients.push(client);
    return client;
  };
  const readStream = async (): Promise<AccountingRecord[]> => (await reader.xrange(STREAM, '-', '+')).map(([, fields]) => fromFields(fields));
  /** Waits for the stream to hold `count` records in all, and returns the new ones. */
  const newRecords = async (count: number): Promise<AccountingRecord[]> => {
    const seen = records.length;
    await waitUntil(`${count} records in the stream`, async () => (records = await readStream()).length >= count, 10_000, 20);
    assert.equal(records.length, count, 'no more records than announces');
    return records.slice(seen);
  };
  const credited = (r: AccountingRecord): Array<number | string | boolean> => [r.event, r.rawUploaded, r.rawDownloaded, r.uploaded, r.downloaded, r.snatched];

  it('credits each announce its delta since the previous one, multiplied, with a snatch on completed', async () => {
    const hash = TORRENT.infoHash.toString('latin1');
    const peerId = '-WW0208-' + binaryId().slice(0, 12);
    const client = await open();
    const say = (extra: Record<string, unknown>): Promise<Message> =>
      client.request(announce(hash, peerId, { numwant: 0, ...extra }), (m) => isAnnounceReply(m) || isFailure(m));
    assert.equal((await say({ event: 'started', uploaded: 0, downloaded: 0, left: 1000 })).interval, 120);
    assert.ok(isAnnounceReply(await say({ uploaded: 1000, downloaded: 400, left: 600 })));
    assert.ok(isAnnounceReply(await say({ event: 'completed', uploaded: 1500, downloaded: 1000, left: 0 })));
    const got = await newRecords(3);
    assert.deepEqual(got.map(credited), [
      ['started', 0, 0, 0, 0, false],
      ['none', 1000, 400, 2000, 200, false],
      ['completed', 500, 600, 1000, 300, true],
    ]);
    for (const r of got) {
      assert.deepEqual([r.userId, r.torrentId, r.infoHash.toString('latin1'), r.peerId.toString('latin1')], [USER.id, TORRENT.id, hash, peerId]);
      assert.deepEqual([r.transport, r.port, r.ipv4 || r.ipv6, r.interval], ['webtorrent', 0, r.ipv4 ? '127.0.0.1' : '::ffff:127.0.0.1', 120]);
    }
    assert.deepEqual(
      got.map((r) => [r.left, r.reportedUploaded, r.reportedDownloaded]),
      [
        [1000, 0, 0],
        [600, 1000, 400],
        [0, 1500, 1000],
      ],
    );

    // Bad input: a failure reason each, and no record, no change of the stored totals.
    for (const bad of [{ uploaded: -1 }, { uploaded: 1.5 }, { downloaded: 2 ** 60 }, { left: -5 }, { left: 'x' }, { uploaded: '1700' }]) {
      const reply = await say({ uploaded: 1700, downloaded: 1000, left: 0, ...bad });
      assert.ok(isFailure(reply), `refused: ${JSON.stringify(bad)}`);
      assert.match(reply['failure reason'], /invalid (uploaded|downloaded|left)/);
    }
    assert.ok(isAnnounceReply(await say({ uploaded: 1700, downloaded: 1000, left: 0 })));
    assert.ok(isAnnounceReply(await say({ event: 'stopped', uploaded: 1800, downloaded: 1000, left: 0 })));
    assert.deepEqual((await newRecords(5)).map(credited), [
      ['none', 200, 0, 400, 0, false],
      ['stopped', 100, 0, 200, 0, false],
    ]);
  });

  it('closing the socket is a stopped in each of its swarms, crediting the last reported totals once', async () => {
    const client = await open();
    const free = FREELEECH.infoHash.toString('latin1');
    const main = TORRENT.infoHash.toString('latin1');
    const idFree = '-WW0208-' + binaryId().slice(0, 12);
    const idMain = '-WW0208-' + binaryId().slice(0, 12);
    const reply = (m: Message) => isAnnounceReply(m) || isFailure(m);
    await client.request(announce(free, idFree, { event: 'started', left: null }), reply);
    assert.ok(isAnnounceReply(await client.request(announce(free, idFree, { uploaded: 64, downloaded: 5000, left: null }), reply)));
    await client.request(announce(main, idMain, { event: 'started', left: 0 }), reply);
    const before = records.length;
    // Events are written at once, plain announces at the next flush: find the plain one by its event.
    const plain = (await newRecords(before + 3)).filter((r) => r.event === 'none');
    assert.equal(plain.length, 1);
    assert.deepEqual(credited(plain[0]!), ['none', 64, 5000, 128, 0, false], 'freeleech: nothing downloaded is credited');
    assert.equal(plain[0]!.left, UNKNOWN_LEFT, 'a peer without the size yet');
    await client.close();
    const stops = await newRecords(before + 5);
    const byPeer = new Map(stops.map((r) => [r.peerId.toString('latin1'), r]));
    assert.deepEqual(credited(byPeer.get(idFree)!), ['stopped', 0, 0, 0, 0, false]);
    assert.deepEqual([byPeer.get(idFree)!.reportedUploaded, byPeer.get(idFree)!.left], [64, UNKNOWN_LEFT]);
    assert.deepEqual(credited(byPeer.get(idMain)!), ['stopped', 0, 0, 0, 0, false]);
    assert.equal(byPeer.get(idMain)!.left, 0);
    // The stops left the swarms and their totals: a new start counts from zero.
    const again = await open();
    await again.request(announce(main, idMain, { event: 'started', uploaded: 10, left: 0 }), reply);
    assert.deepEqual((await newRecords(before + 6)).map(credited), [['started', 10, 0, 20, 0, false]]);
    await again.request(announce(main, idMain, { event: 'stopped', uploaded: 10, left: 0 }), reply);
    await newRecords(before + 7);
  });

  it('a socket closed while its announce is on its way credits that announce once, never the older totals again', async () => {
    const main = TORRENT.infoHash.toString('latin1');
    for (let round = 0; round < 5; round++) {
      const client = await open();
      const peerId = '-WW0208-' + binaryId().slice(0, 12);
      await client.request(announce(main, peerId, { event: 'started', uploaded: 0, left: 0, numwant: 0 }), isAnnounceReply);
      await client.request(announce(main, peerId, { uploaded: 1000, left: 0, numwant: 0 }), isAnnounceReply);
      await newRecords(records.length + 2);
      const before = records.length;
      // The announce and the end of the connection leave together: the tracker sees the socket close
      // while the announce waits on Redis.
      client.send(announce(main, peerId, { uploaded: 1500, left: 0, numwant: 0 }));
      client.ws.terminate();
      await client.closed;
      await waitUntil('the announce and the stop', async () => (records = await readStream()).slice(before).some((r) => r.event === 'stopped'), 10_000, 20);
      await new Promise((resolve) => setTimeout(resolve, 300));
      records = await readStream();
      const mine = records.slice(before).filter((r) => r.peerId.toString('latin1') === peerId);
      assert.equal(
        mine.reduce((n, r) => n + r.rawUploaded, 0),
        500,
        `round ${round}: the last announce's 500 bytes once: ${JSON.stringify(mine.map((r) => [r.event, r.rawUploaded]))}`,
      );
      assert.equal(mine.at(-1)!.event, 'stopped');
      assert.equal(mine.filter((r) => r.event === 'stopped').length, 1, `round ${round}: one stop, the close's`);
    }
  });

  it('the reference consumer applies the same records to PostgreSQL', { skip: postgresMissing() ?? false, timeout: 60_000 }, async () => {
    let db: TestDatabase | null = null;
    let consumer: ChildTracker | null = null;
    try {
      db = await createDatabase();
      consumer = startConsumer(redis.url, STREAM, db.url, 'wse2e');
      const pool = db.pool;
      await waitUntil('the consumer applied every record', async () => (await countRows(pool, 'applied_ids').catch(() => 0)) >= records.length, 30_000, 50);
      assert.equal(await countRows(pool, 'dead_letters'), 0);
      const sum = (pick: (r: AccountingRecord) => number) => records.reduce((n, r) => n + pick(r), 0);
      const user = (await pool.query('SELECT uploaded, downloaded FROM users WHERE id = $1', [USER.id])).rows[0];
      assert.deepEqual([Number(user.uploaded), Number(user.downloaded)], [sum((r) => r.uploaded), sum((r) => r.downloaded)]);
      assert.deepEqual(
        [sum((r) => r.uploaded), sum((r) => r.downloaded)],
        [2000 + 1000 + 400 + 200 + 128 + 20 + 5 * 2 * 1500, 200 + 300],
        'the deltas credited above',
      );
      const snatches = (await pool.query('SELECT snatches FROM torrents WHERE id = $1', [TORRENT.id])).rows[0];
      assert.equal(Number(snatches.snatches), 1);
      assert.equal(await countRows(pool, 'active_peers'), 0, 'every peer stopped (or its socket closed)');
    } finally {
      consumer?.child.kill('SIGTERM');
      if (consumer) await consumer.exit;
      await db?.drop();
    }
  });
});
