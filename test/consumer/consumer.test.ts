/**
 * The reference consumer in this process, against a real redis-server and a real PostgreSQL database
 * of its own: exact totals, redelivered records applied once, dead letters, XAUTOCLAIM of a dead
 * consumer's entries, a failed transaction retried, and the pruning of applied ids.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { AccountingRecord } from '../../src/backend/driver.js';
import { backendDrivers } from '../../src/backend/registry.js';
import { toFields } from '../../src/backend/stream/entry.js';
import { Consumer } from '../../src/consumer/consumer.js';
import { createSchema, pruneAppliedIds } from '../../src/consumer/postgres.js';
import { generationKey, GroupMember } from '../../src/consumer/stream.js';
import { connectRedis, type RedisClient } from '../../src/redis/connection.js';
import { databaseTotals, expectedTotals, makeRecord } from '../helpers/accounting.js';
import { countRows, createDatabase, postgresMissing, type TestDatabase } from '../helpers/postgres.js';
import { redisMissing, startRedis, type RedisServer } from '../helpers/redis.js';
import { waitUntil } from '../helpers/wait.js';

const missing = redisMissing() ?? postgresMissing();
const silent = pino({ level: 'silent' });

describe('reference consumer', { skip: missing ?? false }, () => {
  let redis: RedisServer;
  let admin: Redis;
  const clients: RedisClient[] = [];
  let count = 0;

  before(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
  });
  after(async () => {
    admin.disconnect();
    for (const client of clients) client.disconnect();
    await redis.kill();
  });

  /** Runs a test with a stream key and a PostgreSQL database of its own, dropped afterwards. */
  async function withScene(test: (stream: string, db: TestDatabase) => Promise<void>): Promise<void> {
    const db = await createDatabase();
    try {
      await test(`acct:${process.pid}:${count++}`, db);
    } finally {
      await db.drop();
    }
  }

  function member(stream: string, name: string): GroupMember {
    const client = connectRedis({ url: redis.url, commandTimeout: 2000, connectTimeout: 2000 }, silent);
    clients.push(client);
    return new GroupMember(client, stream, 'accounting', name);
  }

  /** A consumer running in the background; stop() waits for its loop to end. */
  function run(stream: string, db: TestDatabase, options: { name?: string; batchSize?: number; claimIdleMs?: number } = {}) {
    const consumer = new Consumer({
      member: member(stream, options.name ?? 'live'),
      pool: db.pool,
      logger: silent,
      batchSize: options.batchSize ?? 50,
      claimIdleMs: options.claimIdleMs ?? 30_000,
      blockMs: 100,
    });
    const done = consumer.run();
    return {
      consumer,
      async stop() {
        consumer.stop();
        await done;
      },
    };
  }

  const add = (stream: string, fields: string[]): Promise<unknown> => admin.xadd(stream, '*', ...fields);
  const drained = (stream: string) => async () => (await admin.xlen(stream)) === 0;

  it('applies what the redis-stream driver wrote, with exact totals', () =>
    withScene(async (stream, db) => {
      const driver = backendDrivers.get('redis-stream')!;
      const backend = await driver.open({ url: redis.url, stream, batch_size: 100, flush_interval: 10 }, { logger: silent });
      const records = Array.from({ length: 1000 }, (_, i) => makeRecord(i, 'exact'));
      for (const r of records) await backend.record(r);
      await backend.close();
      const c = run(stream, db, { batchSize: 64 });
      await waitUntil('the stream applied', drained(stream));
      await c.stop();
      assert.deepEqual(await databaseTotals(db.pool), expectedTotals(records));
      assert.equal(c.consumer.totals.applied, 1000);
      assert.equal(await countRows(db.pool, 'applied_ids'), 1000);
      assert.deepEqual(await admin.xpending(stream, 'accounting'), [0, null, null, null], 'everything acknowledged');
    }));

  it('reads the next batch while applying one, and applies a batch read ahead before it stops', () =>
    withScene(async (stream, db) => {
      const records = Array.from({ length: 90 }, (_, i) => makeRecord(i, 'ahead'));
      for (const r of records) await add(stream, toFields(r));
      const events: string[] = [];
      class Watched extends GroupMember {
        override async next(count: number, blockMs: number): ReturnType<GroupMember['next']> {
          const read = await super.next(count, blockMs);
          if (read.entries.length > 0) events.push(`read ${read.entries.length}`);
          return read;
        }
        override async done(streamIds: string[]): Promise<void> {
          await super.done(streamIds);
          events.push(`done ${streamIds.length}`);
        }
      }
      const client = connectRedis({ url: redis.url, commandTimeout: 2000, connectTimeout: 2000 }, silent);
      clients.push(client);
      const consumer = new Consumer({
        member: new Watched(client, stream, 'accounting', 'ahead'),
        pool: db.pool,
        logger: silent,
        batchSize: 30,
        claimIdleMs: 30_000,
        blockMs: 100,
      });
      const running = consumer.run();
      await waitUntil('two batches read', async () => events.filter((e) => e.startsWith('read')).length >= 2);
      consumer.stop();
      await running;
      // The second batch was read before the first was acknowledged; the third, read ahead while the
      // second was applied, was applied although stop() came first.
      assert.deepEqual(events.slice(0, 2), ['read 30', 'read 30']);
      assert.equal(events.filter((e) => e.startsWith('done')).length, events.filter((e) => e.startsWith('read')).length, events.join(', '));
      assert.deepEqual(await admin.xpending(stream, 'accounting'), [0, null, null, null], 'nothing left pending');
      assert.equal(await countRows(db.pool, 'applied_ids'), events.filter((e) => e.startsWith('done')).length * 30);
    }));

  it('applies a redelivered record once: the same id added twice, in one batch or in later ones', () =>
    withScene(async (stream, db) => {
      const records = Array.from({ length: 100 }, (_, i) => makeRecord(i, 'again'));
      for (const r of records) await add(stream, toFields(r));
      await add(stream, toFields(records[99]!)); // right behind itself: the same batch
      const c = run(stream, db, { batchSize: 200 });
      await waitUntil('the first pass', drained(stream));
      for (const r of records.slice(10, 20)) await add(stream, toFields(r)); // much later: new batches
      await waitUntil('the second pass', drained(stream));
      await c.stop();
      assert.deepEqual(await databaseTotals(db.pool), expectedTotals(records));
      assert.deepEqual([c.consumer.totals.applied, c.consumer.totals.duplicates], [100, 11]);
    }));

  it('sets malformed entries aside in dead_letters, acknowledges them, and goes on', () =>
    withScene(async (stream, db) => {
      const good = Array.from({ length: 30 }, (_, i) => makeRecord(i, 'mixed'));
      const withField = (r: AccountingRecord, name: string, value: string): string[] => {
        const fields = toFields(r);
        fields[fields.indexOf(name) + 1] = value;
        return fields;
      };
      const bad: string[][] = [
        ['id', 'lonely'],
        withField(makeRecord(100, 'bad'), 'event', 'exploded'),
        withField(makeRecord(101, 'bad'), 'id', 'nul\u0000id'),
        withField(makeRecord(102, 'bad'), 'info_hash', 'zz'),
        withField(makeRecord(103, 'bad'), 'up', '-5'),
        withField(makeRecord(104, 'bad'), 'user', 'x\u0000'),
      ];
      for (const r of good.slice(0, 10)) await add(stream, toFields(r));
      for (const fields of bad) await add(stream, fields);
      for (const r of good.slice(10, 20)) await add(stream, toFields(r));
      // An entry this consumer was handed before and that was deleted (trimmed) before it was applied.
      const me = member(stream, 'live');
      await me.join();
      const { entries: handed } = await me.next(100, 10);
      assert.equal(handed.length, 26);
      await admin.xdel(stream, handed[0]!.streamId);
      const c = run(stream, db, { batchSize: 8 });
      await waitUntil('the stream applied', drained(stream));
      for (const r of good.slice(20)) await add(stream, toFields(r));
      await waitUntil('entries after the bad ones applied', drained(stream));
      await c.stop();
      assert.deepEqual(await databaseTotals(db.pool), expectedTotals(good.slice(1)));
      const letters = (await db.pool.query('SELECT stream_id, fields, error FROM dead_letters ORDER BY stream_id')).rows;
      assert.equal(letters.length, 7, JSON.stringify(letters));
      const errors = letters.map((l) => l.error as string).join('\n');
      for (const reason of [
        /unknown event undefined/,
        /unknown event "exploded"/,
        /id contains a NUL/,
        /info_hash is not 20 bytes of hex/,
        /field up is not a non-negative integer/,
        /field user/,
        /deleted from the stream before it was applied/,
      ]) {
        assert.match(errors, reason);
      }
      assert.deepEqual(letters.find((l) => l.stream_id === handed[0]!.streamId)?.fields, null);
      assert.deepEqual(letters.find((l) => (l.fields as string[] | null)?.[1] === 'lonely')?.fields, ['id', 'lonely']);
      assert.deepEqual(await admin.xpending(stream, 'accounting'), [0, null, null, null]);
    }));

  it('sets aside a record the database refuses (a total beyond bigint) instead of retrying its batch forever', () =>
    withScene(async (stream, db) => {
      await createSchema(db.pool);
      // User 1's total is a hair below bigint's limit: any further upload overflows it.
      await db.pool.query('INSERT INTO users (id, uploaded, downloaded) VALUES (1, 9223372036854775000, 0)');
      const poison = makeRecord(0, 'poison', { userId: 1, uploaded: 10_000 });
      const others = Array.from({ length: 20 }, (_, i) => makeRecord(i + 1, 'poison', { userId: 2 + (i % 3) }));
      await add(stream, toFields(others[0]!));
      await add(stream, toFields(poison));
      for (const r of others.slice(1)) await add(stream, toFields(r));
      const c = run(stream, db, { batchSize: 50 });
      await waitUntil('the stream applied', drained(stream));
      await c.stop();
      assert.equal(await countRows(db.pool, 'dead_letters'), 1);
      const [letter] = (await db.pool.query('SELECT error, fields FROM dead_letters')).rows;
      assert.match(letter.error, /database refused the record: .*out of range/);
      assert.ok(JSON.stringify(letter.fields).includes(poison.id));
      assert.equal(await countRows(db.pool, 'applied_ids'), 20, 'every other record is applied');
      const users = (await db.pool.query('SELECT id, uploaded FROM users ORDER BY id')).rows.map((r) => [Number(r.id), String(r.uploaded)]);
      assert.deepEqual(users[0], [1, '9223372036854775000'], 'the refused record left no trace');
      const expected = expectedTotals(others).users;
      for (const u of expected)
        assert.ok(
          users.some(([id, up]) => id === u.id && up === String(u.uploaded)),
          `user ${u.id}`,
        );
    }));

  it('takes over what a dead consumer read and never acknowledged, once claim_idle has passed (XAUTOCLAIM)', () =>
    withScene(async (stream, db) => {
      const records = Array.from({ length: 120 }, (_, i) => makeRecord(i, 'orphan'));
      const dead = member(stream, 'dead');
      await dead.join();
      for (const r of records) await add(stream, toFields(r));
      assert.equal((await dead.next(500, 10)).entries.length, 120, 'the dead consumer got every entry');
      const started = Date.now();
      const c = run(stream, db, { claimIdleMs: 1000, batchSize: 50 });
      await sleep(400);
      assert.equal(c.consumer.totals.applied, 0, 'not claimed before claim_idle');
      await waitUntil('the orphans applied', drained(stream));
      assert.ok(Date.now() - started >= 900, 'claimed after claim_idle');
      await c.stop();
      assert.equal(c.consumer.totals.claimed, 120);
      assert.deepEqual(await databaseTotals(db.pool), expectedTotals(records));
      assert.deepEqual(await admin.xpending(stream, 'accounting'), [0, null, null, null]);
    }));

  it('rolls back a batch that fails (totals and applied ids alike) and applies it once the database recovers', () =>
    withScene(async (stream, db) => {
      await createSchema(db.pool);
      // A constraint that every new row breaks: each batch fails at its users upsert, after its ids went in.
      await db.pool.query('ALTER TABLE users ADD CONSTRAINT refuse_all CHECK (uploaded < 0) NOT VALID');
      const records = Array.from({ length: 40 }, (_, i) => makeRecord(i, 'retry'));
      for (const r of records) await add(stream, toFields(r));
      const c = run(stream, db, { batchSize: 10 });
      await sleep(600);
      assert.equal(await countRows(db.pool, 'applied_ids'), 0, 'nothing half-applied');
      assert.equal(await countRows(db.pool, 'user_torrents'), 0);
      await db.pool.query('ALTER TABLE users DROP CONSTRAINT refuse_all');
      await waitUntil('the stream applied', drained(stream));
      await c.stop();
      assert.deepEqual(await databaseTotals(db.pool), expectedTotals(records));
    }));

  it('notices that Redis went back to an older copy of its data, and counts a session it never saw from 0 (its start was in what was lost)', () =>
    withScene(async (stream, db) => {
      const c = run(stream, db);
      const credited = async (userId: number): Promise<number> =>
        Number((await db.pool.query('SELECT uploaded FROM users WHERE id = $1', [userId])).rows[0]?.uploaded ?? 0);
      // A session reopened by the tracker (it lost the totals): open, counting from its reported totals.
      const reopened = (n: number, userId: number): AccountingRecord =>
        makeRecord(n, 'rollback', {
          userId,
          event: 'none',
          rawUploaded: 0,
          rawDownloaded: 0,
          uploaded: 0,
          downloaded: 0,
          snatched: false,
          time: Date.now(),
          ipv4: '127.0.0.1',
          ipv6: '',
          port: 6881,
          interval: 1800,
          reportedUploaded: 5000,
          reportedDownloaded: 0,
          session: { epoch: `e-${n}`, seq: 1, baseUploaded: 5000, baseDownloaded: 0, open: true },
          upMultiplier: 1,
          downMultiplier: 1,
        });
      // Before any loss: such a session counts from its base, as the tracker did (nothing is known of it).
      await add(stream, toFields(reopened(1, 901)));
      await waitUntil('the first record applied', drained(stream));
      await waitUntil('applied', async () => c.consumer.totals.applied === 1);
      assert.equal(await credited(901), 0);
      // Redis comes back from an older copy: the stream and its group survive, the generation counter goes back.
      await admin.set(generationKey(stream), '0');
      await add(stream, toFields(reopened(2, 902)));
      await waitUntil('the second record applied', async () => c.consumer.totals.applied === 2);
      await c.stop();
      assert.equal(await credited(902), 5000, 'after the loss, a session never seen counts from 0');
      assert.equal(await credited(901), 0);
      const row = (await db.pool.query('SELECT generation FROM stream_position WHERE stream = $1', [stream])).rows[0];
      assert.equal(Number(row.generation), 1, 'the older copy is the reference from now on');
    }));

  it('prunes applied ids older than the retention, and only those', async () => {
    const db = await createDatabase();
    try {
      await createSchema(db.pool);
      await createSchema(db.pool); // idempotent
      await db.pool.query("INSERT INTO applied_ids (id, applied_at) VALUES ('old', now() - interval '8 days'), ('new', now() - interval '6 days')");
      assert.equal(await pruneAppliedIds(db.pool), 1);
      assert.deepEqual((await db.pool.query('SELECT id FROM applied_ids')).rows, [{ id: 'new' }]);
    } finally {
      await db.drop();
    }
  });
});
