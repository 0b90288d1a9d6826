/**
 * UDP connection id keys agreed through the redis driver when udp.secret is unset: two tracker processes
 * on one real redis-server accept each other's ids, across rotations, and a configured key still wins.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { boot } from '../../../src/boot.js';
import { ConnectionIds } from '../../../src/frontend/udp/connection-id.js';
import { registerTrackerDriver } from '../../../src/store/registry.js';
import { unreachableStoreDriver } from '../../helpers/admin.js';
import { randomHash } from '../../helpers/http.js';
import { plannedRedis, redisCli, redisMissing, startRedis, type RedisServer } from '../../helpers/redis.js';
import { startTrackerProcess, TEST_UDP_SECRET, type TestTracker, type ChildTracker } from '../../helpers/tracker.js';
import { announcePacket, readAnnounceReply, readError, udpConnect, udpRequest } from '../../helpers/udp.js';
import { waitUntil } from '../../helpers/wait.js';

const HOST = '127.0.0.1';
const skip = redisMissing();

type Proc = TestTracker & { proc: ChildTracker };

/** Announces with `connectionId` to `port`: the announce reply's seeders, or the error's text. */
async function announceWith(port: number, connectionId: Buffer): Promise<{ ok: true } | { ok: false; error: string }> {
  const reply = await udpRequest(HOST, port, announcePacket({ connectionId, infoHash: randomHash() }));
  assert.ok(reply, 'an answer');
  if (reply.readUInt32BE(0) === 1) {
    readAnnounceReply(reply);
    return { ok: true };
  }
  return { ok: false, error: readError(reply) };
}

const keysLine = (p: Proc) => p.proc.lines.filter((line) => line.includes('udp connection id keys shared'));

describe('shared UDP connection id keys (redis driver, no udp.secret)', { skip: skip ?? false }, () => {
  let redis: RedisServer;
  let a: Proc;
  let b: Proc;
  const env = (extra: Record<string, string> = {}) => ({
    TRACKER_TRACKER_DRIVER: 'redis',
    TRACKER_TRACKER_PARAMS: JSON.stringify({ url: redis.url }),
    TRACKER_UDP_SECRET: '',
    TRACKER_UDP_ADDR: `${HOST}:0`,
    ...extra,
  });

  before(async () => {
    redis = await startRedis();
    // A rotation every 2 s: each replica re-reads every 0.5 s.
    [a, b] = await Promise.all([
      startTrackerProcess(env({ TRACKER_UDP_SECRET_ROTATION: '2' })),
      startTrackerProcess(env({ TRACKER_UDP_SECRET_ROTATION: '2' })),
    ]);
  });
  after(async () => {
    await Promise.allSettled([a?.close(), b?.close()]);
    await redis?.kill();
  });

  it('creates the keys once, and each replica logs them once', () => {
    const lines = [...keysLine(a), ...keysLine(b)].map((line) => JSON.parse(line) as { created: boolean; rotation_seconds: number });
    assert.equal(lines.length, 2, 'one line per replica');
    assert.deepEqual(lines.map((l) => l.created).sort(), [false, true], 'exactly one replica created them');
    assert.equal(lines[0]!.rotation_seconds, 2);
  });

  it('accepts on B a connection id issued by A, and the other way round', async () => {
    assert.deepEqual(await announceWith(b.udpPort, await udpConnect(HOST, a.udpPort)), { ok: true });
    assert.deepEqual(await announceWith(a.udpPort, await udpConnect(HOST, b.udpPort)), { ok: true });
  });

  it('keeps an id valid across one rotation, and drops it two rotations later', async () => {
    const key = 't:secret:udp';
    const rotatedAt = async () => Number(await redisCli(redis.port, 'HGET', key, 'rotated'));
    const id = await udpConnect(HOST, a.udpPort);
    const first = await rotatedAt();
    await waitUntil('a rotation', async () => (await rotatedAt()) > first, 10_000, 100);
    // Give both replicas a re-read (every 0.5 s) after the rotation.
    await new Promise((resolve) => setTimeout(resolve, 700));
    assert.deepEqual(await announceWith(b.udpPort, id), { ok: true }, 'the previous key is still accepted by B');
    assert.deepEqual(await announceWith(a.udpPort, id), { ok: true }, 'and by A');
    // After the rotation, ids of either replica are good on the other.
    assert.deepEqual(await announceWith(a.udpPort, await udpConnect(HOST, b.udpPort)), { ok: true });
    assert.deepEqual(await announceWith(b.udpPort, await udpConnect(HOST, a.udpPort)), { ok: true });
    const second = await rotatedAt();
    await waitUntil('another rotation', async () => (await rotatedAt()) > second, 10_000, 100);
    await new Promise((resolve) => setTimeout(resolve, 700));
    assert.deepEqual(await announceWith(b.udpPort, id), { ok: false, error: 'invalid connection id' }, 'two rotations later the key is gone');
  });

  it('lets a configured udp.secret win over the shared keys', async () => {
    const own = await startTrackerProcess(env({ TRACKER_UDP_SECRET: TEST_UDP_SECRET }));
    try {
      assert.equal(keysLine(own).length, 0, 'no shared keys read');
      const id = await udpConnect(HOST, own.udpPort);
      const packet = Buffer.concat([id, Buffer.alloc(8)]);
      assert.equal(new ConnectionIds(TEST_UDP_SECRET, '', 60).verify(packet, 0, Buffer.from([127, 0, 0, 1])), true, 'issued under the configured key');
      assert.deepEqual(await announceWith(a.udpPort, id), { ok: false, error: 'invalid connection id' }, 'not under the shared ones');
    } finally {
      await own.close();
    }
  });

  it('refuses connects while Redis is down at start, and serves once it is up', async () => {
    const late = await plannedRedis();
    const c = await startTrackerProcess({ ...env(), TRACKER_TRACKER_PARAMS: JSON.stringify({ url: late.url }) });
    try {
      const connect = Buffer.alloc(16);
      connect.writeBigUInt64BE(0x41727101980n, 0);
      connect.writeUInt32BE(5, 12);
      const reply = await udpRequest(HOST, c.udpPort, connect);
      assert.ok(reply);
      assert.equal(reply.readUInt32BE(0), 3, 'an error packet');
      assert.ok(reply.length <= connect.length, 'never larger than the request');
      await late.start();
      await waitUntil('connects answered', async () => (await udpRequest(HOST, c.udpPort, connect))?.readUInt32BE(0) === 0, 15_000, 200);
      assert.deepEqual(await announceWith(c.udpPort, await udpConnect(HOST, c.udpPort)), { ok: true });
    } finally {
      await c.close();
      await late.kill();
    }
  });
});

describe('a driver that cannot share keys', () => {
  it('refuses to start without udp.secret, naming the key', async () => {
    registerTrackerDriver('test-unshared', unreachableStoreDriver);
    await assert.rejects(
      boot({
        config: { tracker: { driver: 'test-unshared' }, http: { addr: '127.0.0.1:0' }, udp: { addr: '127.0.0.1:0' }, metrics: { addr: '' } },
        env: {},
        logger: pino({ level: 'silent' }),
      }),
      (error: Error) => error.name === 'ConfigError' && /udp\.secret.*cannot share/.test(`${(error as { key?: string }).key} ${error.message}`),
    );
  });
});
