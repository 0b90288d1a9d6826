/**
 * The user ledger (addresses per user, torrents downloading per user): distinct members per user within a
 * window, in one process and shared by replicas through a real redis-server (each replica counts what
 * the others wrote, a flush later).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { LocalUserLedger, MAX_MEMBERS_PER_USER } from '../../src/store/user-ledger.js';
import { RedisUserLedger } from '../../src/store/redis/user-ledger.js';
import { connectRedis, type RedisClient } from '../../src/redis/connection.js';
import { redisMissing, startRedis, type RedisServer } from '../helpers/redis.js';

const limits = (limit: number, enforce = false) => ({ windowSeconds: 60, limit, enforce });

describe('user ledger, in process', () => {
  it('counts distinct addresses within the window, and forgets older ones', async () => {
    let now = 1_000_000;
    const ledger = new LocalUserLedger(() => now);
    assert.deepEqual(ledger.note(1, '10.0.0.1', limits(0)), { count: 1, refused: false, added: true });
    assert.deepEqual(ledger.note(1, '10.0.0.1', limits(0)), { count: 1, refused: false, added: false });
    now += 30_000;
    assert.deepEqual(ledger.note(1, '2001:db8::1', limits(0)), { count: 2, refused: false, added: true });
    assert.deepEqual(ledger.note(2, '10.0.0.1', limits(0)), { count: 1, refused: false, added: true }, 'users apart');
    now += 31_000;
    assert.deepEqual(ledger.note(1, '10.0.0.9', limits(0)), { count: 2, refused: false, added: true }, 'the first one is out of the window');
    assert.deepEqual(
      (await ledger.list(1)).map((a) => a.member),
      ['10.0.0.9', '2001:db8::1'],
    );
  });

  it('counts a new address beyond the limit, and refuses it only when enforced (without keeping it)', () => {
    const ledger = new LocalUserLedger();
    ledger.note(1, 'a', limits(2));
    ledger.note(1, 'b', limits(2));
    assert.deepEqual(ledger.note(1, 'c', limits(2)), { count: 3, refused: false, added: true });
    assert.deepEqual(ledger.note(1, 'd', limits(2, true)), { count: 3, refused: true, added: false });
    assert.deepEqual(ledger.note(1, 'd', limits(2, true)), { count: 3, refused: true, added: false }, 'a refused address is not remembered');
    assert.deepEqual(ledger.note(1, 'a', limits(2, true)), { count: 3, refused: false, added: false }, 'a known one passes');
    assert.deepEqual(ledger.counters, { overLimit: 3, refused: 2 });
  });

  it('forgets a member at once: it no longer counts, and comes back as new', () => {
    const ledger = new LocalUserLedger();
    ledger.note(1, 'a', limits(2, true));
    ledger.note(1, 'b', limits(2, true));
    assert.equal(ledger.note(1, 'c', limits(2, true)).refused, true);
    ledger.forget(1, 'a');
    ledger.forget(1, 'nothing');
    ledger.forget(9, 'a');
    assert.deepEqual(ledger.note(1, 'c', limits(2, true)), { count: 2, refused: false, added: true });
    assert.deepEqual(ledger.note(1, 'a', limits(2, true)), { count: 2, refused: true, added: false });
  });

  it('keeps a bounded number of addresses per user', async () => {
    const ledger = new LocalUserLedger();
    for (let i = 0; i < MAX_MEMBERS_PER_USER + 50; i++) ledger.note(1, `10.0.${i >> 8}.${i & 255}`, limits(0));
    assert.equal((await ledger.list(1)).length, MAX_MEMBERS_PER_USER);
  });
});

const missing = redisMissing();

describe('user ledger, shared through Redis', { skip: missing ?? false }, () => {
  let server: RedisServer;
  const clients: RedisClient[] = [];
  before(async () => {
    server = await startRedis();
  });
  after(async () => {
    for (const client of clients) client.disconnect();
    await server.kill();
  });
  const replica = (): RedisUserLedger => {
    const client = connectRedis({ url: server.url, commandTimeout: 2000, connectTimeout: 2000 }, pino({ level: 'silent' }));
    clients.push(client);
    return new RedisUserLedger(client, 'al:ua:', pino({ level: 'silent' }));
  };

  it('counts the addresses other replicas saw, a flush later, and lists them from Redis', async () => {
    const [a, b] = [replica(), replica()];
    try {
      a.note(5, '10.0.0.1', limits(2, true));
      b.note(5, '10.0.0.2', limits(2, true));
      await Promise.all([a.flush(), b.flush()]);
      a.note(6, '10.9.9.9', limits(2, true));
      await a.flush(); // reads back the shared counts of the users it writes for
      b.note(5, '10.0.0.2', limits(2, true));
      await b.flush();
      assert.deepEqual(b.note(5, '10.0.0.3', limits(2, true)), { count: 2, refused: true, added: false }, "b knows of a's address");
      assert.deepEqual((await a.list(5)).map((x) => x.member).sort(), ['10.0.0.1', '10.0.0.2']);
    } finally {
      a.close();
      b.close();
    }
  });

  it('removes a forgotten member from Redis, so the other replicas count it gone a flush later', async () => {
    const [a, b] = [replica(), replica()];
    try {
      a.note(7, 'x', limits(2, true));
      b.note(7, 'y', limits(2, true));
      await Promise.all([a.flush(), b.flush()]);
      b.note(7, 'y', limits(2, true));
      await b.flush();
      assert.equal(b.note(7, 'z', limits(2, true)).refused, true, 'x and y held');
      a.forget(7, 'x');
      await a.flush();
      b.note(7, 'y', limits(2, true));
      b.forget(7, 'y');
      await b.flush();
      assert.deepEqual(
        (await b.list(7)).map((m) => m.member),
        [],
      );
      assert.equal(b.note(7, 'z', limits(1, true)).refused, false, 'both gone: room again');
    } finally {
      a.close();
      b.close();
    }
  });
});
