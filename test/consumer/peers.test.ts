/**
 * active_peers and seed time, applied by the consumer's batch transaction to a real PostgreSQL
 * database: rows upserted per (user, torrent, peer_id) (a hybrid pair and a dual-stack peer are one
 * row), removed on stopped and after the peer TTL; seed time grows between a seeder's announces,
 * capped at its interval plus grace, stops with the peer; a batch delivered again changes nothing.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { AccountingRecord } from '../../src/backend/driver.js';
import { fromFields, toFields } from '../../src/backend/stream/entry.js';
import { clientOf, pruneActivePeers } from '../../src/consumer/sessions.js';
import { applyBatch, createSchema } from '../../src/consumer/postgres.js';
import { createDatabase, postgresMissing, type TestDatabase } from '../helpers/postgres.js';

const missing = postgresMissing();
const options = { seedGraceSeconds: 60, peerTtlSeconds: 3600 };
const T0 = 1_800_000_000_000;
let ids = 0;

function record(overrides: Partial<AccountingRecord>): AccountingRecord {
  return {
    id: `peers-${ids++}`,
    userId: 1,
    torrentId: 10,
    infoHash: createHash('sha1').update('t').digest(),
    peerId: Buffer.from('-qB4630-abcdefghijkl'),
    event: 'none',
    rawUploaded: 0,
    rawDownloaded: 0,
    uploaded: 0,
    downloaded: 0,
    left: 0,
    snatched: false,
    time: T0,
    ipv4: '10.0.0.1',
    ipv6: '',
    port: 6881,
    reportedUploaded: 0,
    reportedDownloaded: 0,
    interval: 1800,
    ...overrides,
  };
}

describe('consumer: active peers and seed time', { skip: missing ?? false }, () => {
  let db: TestDatabase;
  before(async () => {
    db = await createDatabase();
    await createSchema(db.pool);
    await createSchema(db.pool); // idempotent
  });
  after(() => db.drop());

  const apply = (...records: AccountingRecord[]) => applyBatch(db.pool, { records, deadLetters: [] }, options);
  const seedMs = async (userId: number, torrentId: number): Promise<number> =>
    Number(
      (await db.pool.query('SELECT seed_time_ms FROM user_torrents WHERE user_id = $1 AND torrent_id = $2', [userId, torrentId])).rows[0]?.seed_time_ms ?? -1,
    );
  const peers = async (userId: number) =>
    (
      await db.pool.query(
        'SELECT torrent_id, encode(peer_id, $2) AS peer, host(ipv4) AS ipv4, host(ipv6) AS ipv6, port, client, uploaded, downloaded, "left", seeder FROM active_peers WHERE user_id = $1 ORDER BY peer_id',
        [userId, 'escape'],
      )
    ).rows;

  it('names the client from the peer_id prefix', () => {
    assert.equal(clientOf(Buffer.from('-qB4630-abcdefghijkl')), '-qB4630-');
    assert.equal(clientOf(Buffer.from('M7-4-0--abcdefghijkl')), 'M7-4-0--');
    assert.equal(clientOf(Buffer.from([0x41, 0x42, 0x00, 0x43])), 'AB');
  });

  it('carries what active_peers needs through the stream entry, and reads records of older versions', () => {
    const r = record({ ipv6: '2001:db8::1', reportedUploaded: 5, reportedDownloaded: 6, interval: 1900 });
    assert.deepEqual(fromFields(toFields(r)), r);
    const old = toFields(r).slice(0, toFields(r).indexOf('ip4'));
    assert.deepEqual([fromFields(old).port, fromFields(old).interval, fromFields(old).ipv4], [undefined, undefined, undefined]);
    const bad = toFields(r);
    bad[bad.indexOf('ip4') + 1] = "1.2.3.4'; DROP";
    assert.throws(() => fromFields(bad), /not an address/);
  });

  it('keeps one row per (user, torrent, peer_id): a hybrid pair and a dual-stack peer are one peer', async () => {
    const user = 2;
    await apply(
      record({ userId: user, event: 'started', left: 100, time: T0 }),
      record({ userId: user, event: 'started', left: 100, time: T0 + 5, infoHash: createHash('sha1').update('v2').digest() }),
      record({ userId: user, left: 40, time: T0 + 10_000, ipv4: '', ipv6: '2001:db8::7', reportedDownloaded: 60 }),
    );
    const rows = await peers(user);
    assert.equal(rows.length, 1);
    assert.deepEqual(rows[0], {
      torrent_id: '10',
      peer: '-qB4630-abcdefghijkl',
      ipv4: '10.0.0.1',
      ipv6: '2001:db8::7',
      port: 6881,
      client: '-qB4630-',
      uploaded: '0',
      downloaded: '60',
      left: '40',
      seeder: false,
    });
    assert.equal(await seedMs(user, 10), 0, 'a leecher accrues no seed time');
  });

  it("grows seed time between a seeder's announces, caps a gap at interval + grace, and stops with the peer", async () => {
    const user = 3;
    const at = (s: number) => T0 + s * 1000;
    await apply(record({ userId: user, event: 'completed', left: 0, time: at(0), interval: 100 }));
    await apply(record({ userId: user, time: at(100), interval: 100 }), record({ userId: user, time: at(100) + 8, interval: 100 }));
    assert.equal(await seedMs(user, 10), 100_008, 'a gap of 100 s, and 8 ms to the second of a hybrid pair');
    await apply(record({ userId: user, time: at(1100), interval: 100 }));
    assert.equal(await seedMs(user, 10), 100_008 + 160_000, 'a gap of about 1000 s counts interval (100) + grace (60)');
    await apply(record({ userId: user, event: 'stopped', time: at(1150) }));
    assert.equal(await seedMs(user, 10), 310_008);
    assert.deepEqual(await peers(user), [], 'stopped: the row is gone');
    await apply(record({ userId: user, event: 'stopped', time: at(1150) + 4 }));
    assert.deepEqual(await peers(user), [], 'the stop on the other hash makes no row');
    await apply(record({ userId: user, event: 'started', time: at(2000) }));
    assert.equal(await seedMs(user, 10), 310_008, 'a new session starts without credit for the pause');
  });

  it("keeps the latest known connectable of the peer's port: a record without one changes nothing, another port is unknown", async () => {
    const user = 6;
    const connectable = async () => (await db.pool.query('SELECT connectable FROM active_peers WHERE user_id = $1', [user])).rows[0]?.connectable as unknown;
    await apply(record({ userId: user, event: 'started', left: 100, time: T0 }));
    assert.equal(await connectable(), null, 'unknown until checked');
    await apply(record({ userId: user, time: T0 + 1000, connectable: false }));
    assert.equal(await connectable(), false);
    await apply(record({ userId: user, time: T0 + 2000 }));
    assert.equal(await connectable(), false, 'a record without the field keeps the known value');
    await apply(record({ userId: user, time: T0 + 3000, connectable: true }));
    assert.equal(await connectable(), true, 'the latest result wins');
    await apply(record({ userId: user, time: T0 + 4000, port: 51413 }));
    assert.equal(await connectable(), null, 'another port: unknown again');
  });

  it('applies a batch once: the same records again change no seed time and no row', async () => {
    const user = 4;
    const batch = [record({ userId: user, left: 0, time: T0 }), record({ userId: user, left: 0, time: T0 + 30_000 })];
    await apply(...batch);
    const outcome = await apply(...batch);
    assert.equal(outcome.applied, 0);
    assert.equal(await seedMs(user, 10), 30_000);
    const late = record({ userId: user, left: 0, time: T0 + 10_000 });
    await apply(late);
    assert.equal(await seedMs(user, 10), 30_000, 'a late record (older than the row) adds nothing');
  });

  it('drops rows older than the peer TTL', async () => {
    const user = 5;
    await apply(record({ userId: user, time: Date.now() - 7200_000 }), record({ userId: user, torrentId: 11, time: Date.now() }));
    assert.equal((await peers(user)).length, 2);
    assert.equal(await pruneActivePeers(db.pool, 3600), 1);
    assert.deepEqual(
      (await peers(user)).map((r) => r.torrent_id),
      ['11'],
    );
  });
});
