/**
 * GET /users/:id/peers end to end over the HTTP frontend of a private tracker (memory driver) with
 * private.connectable_check: a peer whose announced port listens on loopback is listed connectable,
 * one whose port is closed is listed not connectable and told so in its next answer's warning. With
 * the redis driver, a check made by one replica is listed by another (t:conn:IP:PORT, t:up:ID).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startAdminTracker, type AdminClient } from '../helpers/admin.js';
import { announcePath, decode, randomHash, text } from '../helpers/http.js';
import { redisCli, redisMissing, startRedis, type RedisServer } from '../helpers/redis.js';
import type { TestTracker } from '../helpers/tracker.js';

describe('GET /users/:id/peers with the connectability check', () => {
  let t: TestTracker & { admin: AdminClient };
  let server: Server;
  let open: number;
  let closed: number;
  const passkey = randomBytes(16).toString('hex');
  const infoHash = randomHash();

  before(async () => {
    server = createServer((socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    open = (server.address() as { port: number }).port;
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    closed = (probe.address() as { port: number }).port;
    await new Promise((resolve) => probe.close(resolve));
    t = await startAdminTracker({
      private_enabled: true,
      private: { connectable_check: true, connectable_private_ranges: true, connectable_warning: true, connectable_timeout: 1 },
    });
    assert.equal((await t.admin.put('/users/9', { passkey })).status, 201);
    assert.equal((await t.admin.put(`/torrents/${infoHash.toString('hex')}`, { id: 90 })).status, 201);
  });
  after(async () => {
    await t.close();
    server.close();
  });

  it('lists each announced (address, port) with what the check found, and warns the one not connectable', async () => {
    const ids = [randomBytes(20), randomBytes(20)];
    const announce = async (i: number, port: number, event?: 'started') =>
      decode((await t.get(announcePath({ infoHash, peerId: ids[i], port, event }, `/${passkey}`))).body);
    await announce(0, open, 'started');
    await announce(1, closed, 'started');
    type Listed = { address: string; port: number; connectable: boolean | null };
    let peers: Listed[] = [];
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(50)) {
      peers = (await t.admin.get('/users/9/peers')).json.peers as Listed[];
      if (peers.length === 2 && peers.every((p) => p.connectable !== null)) break;
    }
    const byPort = new Map(peers.map((p) => [p.port, p]));
    assert.deepEqual(byPort.get(open), { ...byPort.get(open), address: '127.0.0.1', connectable: true });
    assert.deepEqual(byPort.get(closed), { ...byPort.get(closed), address: '127.0.0.1', connectable: false });
    assert.equal(text((await announce(1, closed))['warning message']), 'your client is not connectable: open its listening port');
    assert.equal((await announce(0, open))['warning message'], undefined);
    assert.deepEqual((await t.admin.get('/users/10/peers')).json, { count: 0, peers: [] });
  });
});

describe('GET /users/:id/peers across two replicas (redis driver)', { skip: redisMissing() ?? false }, () => {
  let redis: RedisServer;
  let replicas: Array<TestTracker & { admin: AdminClient }> = [];
  let server: Server;
  let open: number;
  const passkey = randomBytes(16).toString('hex');
  const infoHash = randomHash();

  before(async () => {
    server = createServer((socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    open = (server.address() as { port: number }).port;
    redis = await startRedis();
    const config = {
      private_enabled: true,
      tracker: { driver: 'redis', params: { url: redis.url, prefix: 'pc:' } },
      private: { connectable_check: true, connectable_private_ranges: true },
    };
    replicas = [await startAdminTracker(config), await startAdminTracker(config)];
    assert.equal((await replicas[0]!.admin.put('/users/9', { passkey })).status, 201);
    assert.equal((await replicas[0]!.admin.put(`/torrents/${infoHash.toString('hex')}`, { id: 90 })).status, 201);
  });
  after(async () => {
    await Promise.all(replicas.map((r) => r.close()));
    await redis.kill();
    server.close();
  });

  it('lists on one replica the peer another replica saw and checked', async () => {
    await replicas[0]!.get(announcePath({ infoHash, port: open, event: 'started' }, `/${passkey}`));
    let listed: unknown[] = [];
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(100)) {
      listed = (await replicas[1]!.admin.get('/users/9/peers')).json.peers as unknown[];
      if (listed.length === 1 && (listed[0] as { connectable: boolean | null }).connectable !== null) break;
    }
    assert.deepEqual(
      listed.map((p) => ({ ...(p as object), last_seen: undefined })),
      [{ address: '127.0.0.1', port: open, connectable: true, last_seen: undefined }],
    );
    assert.equal(await redisCli(redis.port, 'GET', `pc:conn:127.0.0.1:${open}`), '1');
  });
});
