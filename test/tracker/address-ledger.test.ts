/**
 * The address ledger: distinct addresses per user within a window, in one process and shared by
 * replicas through a real redis-server (each replica counts what the others wrote, a flush later).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { LocalAddressLedger, MAX_ADDRESSES_PER_USER } from '../../src/store/address-ledger.js';
import { RedisAddressLedger } from '../../src/store/redis/address-ledger.js';
import { connectRedis, type RedisClient } from '../../src/redis/connection.js';
import { redisMissing, startRedis, type RedisServer } from '../helpers/redis.js';

const limits = (limit: number, enforce = false) => ({ windowSeconds: 60, limit, enforce });

describe('address ledger, in process', () => {
  it('counts distinct addresses within the window, and forgets older ones', async () => {
    let now = 1_000_000;
    const ledger = new LocalAddressLedger(() => now);
    assert.deepEqual(ledger.note(1, '10.0.0.1', limits(0)), { count: 1, refused: false });
    assert.deepEqual(ledger.note(1, '10.0.0.1', limits(0)), { count: 1, refused: false });
    now += 30_000;
    assert.deepEqual(ledger.note(1, '2001:db8::1', limits(0)), { count: 2, refused: false });
    assert.deepEqual(ledger.note(2, '10.0.0.1', limits(0)), { count: 1, refused: false }, 'users apart');
    now += 31_000;
    assert.deepEqual(ledger.note(1, '10.0.0.9', limits(0)), { count: 2, refused: false }, 'the first one is out of the window');
    assert.deepEqual(
      (await ledger.list(1)).map((a) => a.address),
      ['10.0.0.9', '2001:db8::1'],
    );
  });

  it('counts a new address beyond the limit, and refuses it only when enforced (without keeping it)', () => {
    const ledger = new LocalAddressLedger();
    ledger.note(1, 'a', limits(2));
    ledger.note(1, 'b', limits(2));
    assert.deepEqual(ledger.note(1, 'c', limits(2)), { count: 3, refused: false });
    assert.deepEqual(ledger.note(1, 'd', limits(2, true)), { count: 3, refused: true });
    assert.deepEqual(ledger.note(1, 'd', limits(2, true)), { count: 3, refused: true }, 'a refused address is not remembered');
    assert.deepEqual(ledger.note(1, 'a', limits(2, true)), { count: 3, refused: false }, 'a known one passes');
    assert.deepEqual(ledger.counters, { overLimit: 3, refused: 2 });
  });

  it('keeps a bounded number of addresses per user', async () => {
    const ledger = new LocalAddressLedger();
    for (let i = 0; i < MAX_ADDRESSES_PER_USER + 50; i++) ledger.note(1, `10.0.${i >> 8}.${i & 255}`, limits(0));
    assert.equal((await ledger.list(1)).length, MAX_ADDRESSES_PER_USER);
  });
});

const missing = redisMissing();

describe('address ledger, shared through Redis', { skip: missing ?? false }, () => {
  let server: RedisServer;
  const clients: RedisClient[] = [];
  before(async () => {
    server = await startRedis();
  });
  after(async () => {
    for (const client of clients) client.disconnect();
    await server.kill();
  });
  const replica = (): RedisAddressLedger => {
    const client = connectRedis({ url: server.url, commandTimeout: 2000, connectTimeout: 2000 }, pino({ level: 'silent' }));
    clients.push(client);
    return new RedisAddressLedger(client, 'al:', pino({ level: 'silent' }));
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
      assert.deepEqual(b.note(5, '10.0.0.3', limits(2, true)), { count: 2, refused: true }, "b knows of a's address");
      assert.deepEqual((await a.list(5)).map((x) => x.address).sort(), ['10.0.0.1', '10.0.0.2']);
    } finally {
      a.close();
      b.close();
    }
  });
});
