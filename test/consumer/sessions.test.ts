/**
 * Credits from cumulative counters, applied to a real PostgreSQL database by the consumer's batch
 * transaction: a record lost before the stream is covered by the session's next one; a record retried
 * under another id, duplicated or late credits nothing more; a counter reset opens an epoch from 0;
 * after the tracker lost a peer's totals (a Redis restart), the open epoch continues the known marks
 * instead of crediting the whole counter again; a plain record arriving after its session's stop makes
 * no active_peers row. Each record here is what the tracker's Lua would write for that history.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { AccountingRecord, AccountingSession } from '../../src/backend/driver.js';
import { fromFields, toFields } from '../../src/backend/stream/entry.js';
import { applyBatch, createSchema } from '../../src/consumer/postgres.js';
import { createDatabase, postgresMissing, type TestDatabase } from '../helpers/postgres.js';

const missing = postgresMissing();
const options = { seedGraceSeconds: 60, peerTtlSeconds: 3600 };
const T0 = 1_800_000_000_000;
let ids = 0;
let users = 100;

/** A private announce's record as the tracker writes it: reported totals, the Lua's delta, its session. */
function record(
  userId: number,
  session: AccountingSession,
  reported: [number, number],
  delta: [number, number],
  overrides: Partial<AccountingRecord> = {},
): AccountingRecord {
  const r: AccountingRecord = {
    id: `sess-${ids++}`,
    userId,
    torrentId: 10,
    infoHash: createHash('sha1').update('t').digest(),
    peerId: Buffer.from('-qB4630-abcdefghijkl'),
    event: 'none',
    rawUploaded: delta[0],
    rawDownloaded: delta[1],
    uploaded: delta[0],
    downloaded: delta[1],
    left: 100,
    snatched: false,
    time: T0 + session.seq * 1000,
    ipv4: '10.0.0.1',
    ipv6: '',
    port: 6881,
    reportedUploaded: reported[0],
    reportedDownloaded: reported[1],
    interval: 1800,
    session,
    upMultiplier: 1,
    downMultiplier: 1,
    ...overrides,
  };
  // Through the stream's own format, as the consumer reads it.
  return fromFields(toFields(r));
}

const epoch = (name: string, seq: number, base: [number, number] = [0, 0], open = false): AccountingSession => ({
  epoch: name,
  seq,
  baseUploaded: base[0],
  baseDownloaded: base[1],
  open,
});

describe('consumer: credits from cumulative counters (session marks)', { skip: missing ?? false }, () => {
  let db: TestDatabase;
  before(async () => {
    db = await createDatabase();
    await createSchema(db.pool);
  });
  after(() => db.drop());

  const apply = (...records: AccountingRecord[]) => applyBatch(db.pool, { records, deadLetters: [] }, options, { id: 'test-run', startedAt: new Date() });
  const credited = async (userId: number): Promise<[number, number]> => {
    const row = (await db.pool.query('SELECT uploaded, downloaded FROM users WHERE id = $1', [userId])).rows[0];
    return row ? [Number(row.uploaded), Number(row.downloaded)] : [0, 0];
  };
  const activeRows = async (userId: number): Promise<number> =>
    Number((await db.pool.query('SELECT count(*) AS n FROM active_peers WHERE user_id = $1', [userId])).rows[0].n);

  it("a record lost before the stream is credited by the session's next one, and counted as recovered", async () => {
    const user = users++;
    const before = (await db.pool.query("SELECT recovered_uploaded FROM credit_recovery WHERE run = 'test-run'")).rows[0];
    await apply(record(user, epoch('e1', 1), [0, 0], [0, 0], { event: 'started' }));
    // seq 2 (100 up, 40 down) never reaches the stream: its replica died with it buffered.
    const outcome = await apply(record(user, epoch('e1', 3), [250, 90], [150, 50]));
    assert.deepEqual(await credited(user), [250, 90], 'the next record brings the lost bytes');
    assert.deepEqual([outcome.recovery.records, outcome.recovery.uploaded, outcome.recovery.downloaded], [1, 100n, 40n]);
    const after = (await db.pool.query("SELECT recovered_uploaded, recovered_downloaded FROM credit_recovery WHERE run = 'test-run'")).rows[0];
    assert.equal(Number(after.recovered_uploaded) - Number(before?.recovered_uploaded ?? 0), 100, 'credit_recovery holds it per run');
  });

  it('an announce in flight at a kill, retried on another replica under a new id, credits its bytes once', async () => {
    const user = users++;
    await apply(record(user, epoch('e2', 1), [0, 0], [0, 0], { event: 'started' }));
    // Replica A ran the announce (the Lua swapped the totals: delta 100) and died before its record was written;
    // the client retried on B with the same totals: B's record has delta 0, and the next seq.
    const retried = record(user, epoch('e2', 3), [100, 0], [0, 0]);
    await apply(retried);
    assert.deepEqual(await credited(user), [100, 0]);
    // The same entry delivered again (a retried XADD), and A's record if it ever shows up late: nothing more.
    const outcome = await apply(retried, record(user, epoch('e2', 2), [100, 0], [100, 0]));
    assert.equal(outcome.duplicates, 1);
    assert.equal(outcome.recovery.suppressedRecords, 1, 'the late record claimed bytes the marks had credited');
    assert.deepEqual(await credited(user), [100, 0]);
  });

  it('records in any order, across batches, credit the same; a plain record after the stop makes no ghost row', async () => {
    const user = users++;
    const started = record(user, epoch('e3', 1), [0, 0], [0, 0], { event: 'started' });
    const a = record(user, epoch('e3', 2), [100, 10], [100, 10]);
    const b = record(user, epoch('e3', 3), [300, 20], [200, 10], { left: 0 });
    const stop = record(user, epoch('e3', 4), [350, 20], [50, 0], { event: 'stopped', left: 0, time: T0 + 3500 });
    // The stop (replica B) reaches the stream before the plain announce buffered on replica A, whose clock runs ahead.
    await apply(stop, started);
    assert.equal(await activeRows(user), 0);
    await apply({ ...b, time: T0 + 9000 });
    await apply(a);
    assert.deepEqual(await credited(user), [350, 20], 'each byte once, whatever the order');
    assert.equal(await activeRows(user), 0, 'the late plain record of a stopped epoch re-creates no active_peers row');
  });

  it('a socket closed with its announce in flight: a second stop opens an epoch at the same millisecond, and no ghost row stays', async () => {
    // The WebSocket frontend's close stopped the peer (seq 4) after its in-flight announce (seq 3), then stopped
    // it once more: the tracker no longer knew the peer and opened an epoch for that stop. All three carry
    // the same time, and the open epoch's seq (1) is smaller than the others': seq orders one epoch only.
    for (const order of [
      [0, 1, 2],
      [2, 0, 1],
      [1, 2, 0],
      [2, 1, 0],
    ] as const) {
      const user = users++;
      const t = { time: T0 + 10_000 };
      await apply(record(user, epoch('ws-h', 1), [0, 0], [0, 0], { event: 'started' }), record(user, epoch('ws-h', 2), [1000, 0], [1000, 0]));
      const late = [
        record(user, epoch('ws-h', 3), [1500, 0], [500, 0], t),
        record(user, epoch('ws-h', 4), [1500, 0], [0, 0], { ...t, event: 'stopped' }),
        record(user, epoch('ws-l', 1, [1500, 0], true), [1500, 0], [0, 0], { ...t, event: 'stopped' }),
      ];
      await apply(...order.map((i) => late[i]!));
      assert.deepEqual(await credited(user), [1500, 0], `order ${order.join()}: each byte once`);
      assert.equal(await activeRows(user), 0, `order ${order.join()}: both stops leave no active_peers row`);
    }
    // Across batches: the open epoch's stop first, then the older epoch's last records.
    const user = users++;
    const t = { time: T0 + 10_000 };
    await apply(record(user, epoch('ws-h2', 1), [0, 0], [0, 0], { event: 'started' }), record(user, epoch('ws-h2', 2), [1000, 0], [1000, 0]));
    await apply(record(user, epoch('ws-l2', 1, [1500, 0], true), [1500, 0], [0, 0], { ...t, event: 'stopped' }));
    await apply(record(user, epoch('ws-h2', 3), [1500, 0], [500, 0], t));
    assert.equal(await activeRows(user), 0, 'a late record of an epoch that went on under another name makes no row');
    await apply(record(user, epoch('ws-h2', 4), [1500, 0], [0, 0], { ...t, event: 'stopped' }));
    assert.deepEqual(await credited(user), [1500, 0]);
    assert.equal(await activeRows(user), 0);
  });

  it('after a Redis failover handed seqs out again, the newer records and the stop still apply: no ghost row', async () => {
    const user = users++;
    const started = record(user, epoch('e-rb', 1), [0, 0], [0, 0], { event: 'started' });
    const a = record(user, epoch('e-rb', 2), [100, 10], [100, 10]);
    const b = record(user, epoch('e-rb', 3), [200, 20], [100, 10]);
    await apply(started, a, b);
    // The new master had the totals of seq 1 only: the next announces are numbered 2 and 3 again.
    const again = record(user, epoch('e-rb', 2), [300, 30], [300, 30], { time: T0 + 4000, left: 0 });
    await apply(again);
    const seeding = (await db.pool.query('SELECT seeder, uploaded FROM active_peers WHERE user_id = $1', [user])).rows[0];
    assert.deepEqual([seeding.seeder, Number(seeding.uploaded)], [true, 300], 'the row shows the newer record, despite its smaller seq');
    const stop = record(user, epoch('e-rb', 3), [300, 30], [0, 0], { time: T0 + 5000, event: 'stopped', left: 0 });
    await apply(stop);
    assert.deepEqual(await credited(user), [300, 30], 'each byte once');
    assert.equal(await activeRows(user), 0, 'the stop removed the row though its seq was already seen');
  });

  it('a counter reset opens an epoch from 0: both runs are credited', async () => {
    const user = users++;
    await apply(record(user, epoch('e4', 1), [0, 0], [0, 0], { event: 'started' }), record(user, epoch('e4', 2), [500, 50], [500, 50]));
    // The client restarted with the same peer_id: the Lua saw 30 < 500 and opened e5 from 0.
    await apply(record(user, epoch('e5', 1, [0, 0]), [30, 5], [30, 5]));
    // A late record of the first run still counts in its own epoch, once.
    await apply(record(user, epoch('e4', 3), [520, 50], [20, 0]), record(user, epoch('e4', 3), [520, 50], [20, 0], { id: 'sess-dup-e4' }));
    assert.deepEqual(await credited(user), [550, 55]);
  });

  it('after the tracker lost the totals (a Redis restart), the open epoch continues the marks: no double credit, nothing lost', async () => {
    const user = users++;
    await apply(record(user, epoch('e6', 1), [0, 0], [0, 0], { event: 'started' }), record(user, epoch('e6', 2), [400, 40], [400, 40]));
    // seq 3 (450 up) was in the part of the stream Redis lost; then the Lua, knowing nothing, opened an
    // open epoch from the reported totals (delta 0): today's baseline would lose 200 bytes.
    const later = { time: T0 + 60_000 };
    await apply(record(user, epoch('e7', 1, [600, 60], true), [600, 60], [0, 0], later));
    assert.deepEqual(await credited(user), [600, 60], 'continued from the mark: the 200 up and 20 down in between are credited, nothing twice');
    await apply(record(user, epoch('e7', 2, [600, 60], true), [700, 60], [100, 0], { time: T0 + 61_000 }));
    // The lost seq 3 reappears (a replica's retry): the marks have passed it.
    await apply(record(user, epoch('e6', 3), [450, 45], [50, 5]));
    assert.deepEqual(await credited(user), [700, 60]);
  });

  it('an open epoch of a session the consumer never saw counts from its base, as the tracker did', async () => {
    const user = users++;
    await apply(record(user, epoch('e8', 1, [5000, 500], true), [5000, 500], [0, 0]));
    assert.deepEqual(await credited(user), [0, 0], 'bytes from before the tracker knew the peer may have been credited elsewhere');
    await apply(record(user, epoch('e8', 2, [5000, 500], true), [5100, 500], [100, 0]));
    assert.deepEqual(await credited(user), [100, 0]);
  });

  it('right after Redis lost the stream, an open epoch of a session never seen counts from 0 (its start was lost with the stream)', async () => {
    const user = users++;
    const r = record(user, epoch('e-lost', 1, [5000, 500], true), [5000, 500], [0, 0]);
    await applyBatch(db.pool, { records: [r], deadLetters: [] }, { ...options, unknownFromZeroUntil: r.time + 1000 });
    assert.deepEqual(await credited(user), [5000, 500]);
    const later = record(user, epoch('e-lost', 2, [5000, 500], true), [5100, 500], [100, 0]);
    await applyBatch(db.pool, { records: [later], deadLetters: [] }, { ...options, unknownFromZeroUntil: r.time + 1000 });
    assert.deepEqual(await credited(user), [5100, 500], 'then from its marks, once');
  });

  it('a record a replica still held at the stream loss, arriving after the open epoch counted from 0, credits nothing twice', async () => {
    const user = users++;
    const lossOptions = (r: AccountingRecord) => ({ ...options, unknownFromZeroUntil: r.time + 1000 });
    const reopened = record(user, epoch('e-reopened', 5, [5000, 500], true), [5000, 500], [0, 0]);
    await applyBatch(db.pool, { records: [reopened], deadLetters: [] }, lossOptions(reopened));
    // The session's earlier run (its start lost with the stream), flushed late by the replica that held it.
    const held = record(user, epoch('e-before', 3), [4000, 400], [1000, 100]);
    await applyBatch(db.pool, { records: [held], deadLetters: [] }, lossOptions(reopened));
    assert.deepEqual(await credited(user), [5000, 500], 'the held record is within the count from 0');
    const stop = record(user, epoch('e-reopened', 6, [5000, 500], true), [5200, 500], [200, 0], { event: 'stopped' });
    await applyBatch(db.pool, { records: [stop], deadLetters: [] }, lossOptions(reopened));
    assert.deepEqual(await credited(user), [5200, 500]);
    assert.equal(await activeRows(user), 0, 'the stop removed the row; the held record made none');
  });

  it('an open epoch whose counters went below the marks is a new run, not a continuation', async () => {
    const user = users++;
    await apply(record(user, epoch('e9', 1), [0, 0], [0, 0], { event: 'started' }), record(user, epoch('e9', 2), [800, 80], [800, 80]));
    await apply(
      record(user, epoch('e10', 1, [20, 2], true), [20, 2], [0, 0], { time: T0 + 60_000 }),
      record(user, epoch('e10', 2, [20, 2], true), [70, 2], [50, 0], { time: T0 + 61_000 }),
    );
    assert.deepEqual(await credited(user), [850, 80]);
  });

  it('credits a recovered gap at the multipliers of the record that brings it', async () => {
    const user = users++;
    await apply(record(user, epoch('e11', 1), [0, 0], [0, 0], { event: 'started' }));
    const r = record(user, epoch('e11', 3), [100, 100], [40, 40], { upMultiplier: 2, downMultiplier: 0 });
    await apply(r);
    assert.deepEqual(await credited(user), [200, 0]);
    const raw = (await db.pool.query('SELECT raw_uploaded, raw_downloaded FROM user_torrents WHERE user_id = $1', [user])).rows[0];
    assert.deepEqual([Number(raw.raw_uploaded), Number(raw.raw_downloaded)], [100, 100], 'raw totals are the reported bytes');
  });

  it('two consumers applying records of one new session at once credit it once (a lock per session)', async () => {
    for (let round = 0; round < 5; round++) {
      const user = users++;
      const first = record(user, epoch(`e-par-${round}`, 2), [100, 10], [100, 10]);
      const second = record(user, epoch(`e-par-${round}`, 3), [300, 30], [200, 20]);
      await Promise.all([apply(first), apply(second)]);
      assert.deepEqual(await credited(user), [300, 30], `round ${round}: each byte once`);
    }
  });

  it("counts a session's snatch once, from whichever record first says the peer completed", async () => {
    const user = users++;
    const snatches = async (): Promise<number> => Number((await db.pool.query('SELECT coalesce(sum(snatches), 0) AS n FROM torrents WHERE id = 77')).rows[0].n);
    const before = await snatches();
    const on = (seq: number, reported: [number, number], overrides: Partial<AccountingRecord>) =>
      record(user, { ...epoch('e-snatch', seq), completed: seq >= 3 }, reported, [0, 0], { torrentId: 77, ...overrides });
    await apply(on(1, [0, 0], { event: 'started' }));
    // seq 3, the completed announce (snatched), never reaches the stream; seq 4 says the peer has completed.
    await apply(on(4, [10, 100], { left: 0 }));
    assert.equal(await snatches(), before + 1, 'the snatch comes with the next record');
    // The completed record after all (a late retry), and more records saying it: no second snatch.
    await apply(on(3, [5, 100], { event: 'completed', snatched: true, left: 0 }), on(5, [20, 100], { left: 0 }));
    assert.equal(await snatches(), before + 1);
    const pair = (await db.pool.query('SELECT snatched FROM user_torrents WHERE user_id = $1 AND torrent_id = 77', [user])).rows[0];
    assert.equal(pair.snatched, true);
  });

  it('records without a session (older trackers) credit their own deltas', async () => {
    const user = users++;
    const old = record(user, epoch('x', 1), [900, 90], [70, 7]);
    delete old.session;
    delete old.upMultiplier;
    delete old.downMultiplier;
    await apply(old);
    assert.deepEqual(await credited(user), [70, 7]);
  });
});
