/**
 * The catalogue across replicas sharing one Redis: a change made through one tracker's management API
 * reaches the others' caches within a second (pub/sub), and the swarm-slot rules apply at once.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startAdminTracker, type AdminClient } from '../../helpers/admin.js';
import { announcePath, decode, randomHash } from '../../helpers/http.js';
import { redisCli, redisMissing, startRedis, type RedisServer } from '../../helpers/redis.js';
import { startTracker, type TestTracker } from '../../helpers/tracker.js';

const missing = redisMissing();

describe('catalogue shared by replicas (redis driver)', { skip: missing ?? false }, () => {
  let redis: RedisServer;
  let a: TestTracker & { admin: AdminClient };
  let b: TestTracker;
  const infoHash = randomHash();
  const prefix = `cr${randomBytes(3).toString('hex')}:`;

  before(async () => {
    redis = await startRedis();
    const config = { private_enabled: true, approved_clients_only: true, tracker: { driver: 'redis', params: { url: redis.url, prefix } } };
    a = await startAdminTracker(config);
    b = await startTracker(config);
    assert.equal((await a.admin.put('/clients/-qB46', { name: 'qBittorrent 4.6' })).status, 201);
    assert.equal((await a.admin.put(`/torrents/${infoHash.toString('hex')}`, { id: 1 })).status, 201);
  });
  after(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await redis?.kill();
  });

  const failureOn = async (t: TestTracker, passkey: string, peerId = '-qB4630-000000000001'): Promise<string | undefined> => {
    const reply = await t.get(announcePath({ infoHash, peerId: Buffer.from(peerId) }, `/${passkey}`));
    const reason = decode(reply.body)['failure reason'];
    return reason === undefined ? undefined : Buffer.from(reason).toString();
  };
  /** Milliseconds until `check` holds on replica B, failing after a second. */
  const within1s = async (check: () => Promise<boolean>, what: string): Promise<number> => {
    const started = Date.now();
    while (!(await check())) {
      if (Date.now() - started > 1000) assert.fail(`not seen by the other replica within 1 s: ${what}`);
      await sleep(10);
    }
    return Date.now() - started;
  };

  it('a new user is admitted by the other replica within a second, though it cached the passkey as unknown', async () => {
    const passkey = randomBytes(16).toString('hex');
    assert.match((await failureOn(b, passkey))!, /unknown passkey/);
    assert.equal((await a.admin.put('/users/501', { passkey })).status, 201);
    const ms = await within1s(async () => (await failureOn(b, passkey)) === undefined, 'a new user');
    console.log(`# new user seen by the other replica after ${ms} ms`);
  });

  it('disabling, changing the passkey and deleting reach the other replica within a second', async () => {
    const passkey = randomBytes(16).toString('hex');
    await a.admin.put('/users/502', { passkey });
    await within1s(async () => (await failureOn(b, passkey)) === undefined, 'a new user');
    await a.admin.put('/users/502', { passkey, enabled: false });
    await within1s(async () => /disabled/.test((await failureOn(b, passkey)) ?? ''), 'a disabled user');
    const next = randomBytes(16).toString('hex');
    await a.admin.put('/users/502', { passkey: next });
    await within1s(async () => /unknown passkey/.test((await failureOn(b, passkey)) ?? ''), 'the old passkey refused');
    await within1s(async () => (await failureOn(b, next)) === undefined, 'the new passkey admitted');
    await a.admin.delete('/users/502');
    await within1s(async () => /unknown passkey/.test((await failureOn(b, next)) ?? ''), 'a deleted user');
  });

  it('approving and withdrawing a client reach the other replica within a second', async () => {
    const passkey = randomBytes(16).toString('hex');
    await a.admin.put('/users/503', { passkey });
    await within1s(async () => (await failureOn(b, passkey)) === undefined, 'a new user');
    assert.match((await failureOn(b, passkey, '-TR3000-000000000001'))!, /not approved/);
    await a.admin.put('/clients/-TR30', { name: 'Transmission 3.0' });
    await within1s(async () => (await failureOn(b, passkey, '-TR3000-000000000001')) === undefined, 'an approved client');
    await a.admin.delete('/clients/-TR30');
    await within1s(async () => /not approved/.test((await failureOn(b, passkey, '-TR3000-000000000001')) ?? ''), 'a withdrawn client');
  });

  it("registration and the deny list, kept in the swarm's slot, apply on the next announce anywhere", async () => {
    const passkey = randomBytes(16).toString('hex');
    await a.admin.put('/users/504', { passkey });
    await within1s(async () => (await failureOn(b, passkey)) === undefined, 'a new user');
    await a.admin.put(`/lists/deny/${infoHash.toString('hex')}`);
    assert.match((await failureOn(b, passkey))!, /not allowed/);
    await a.admin.delete(`/lists/deny/${infoHash.toString('hex')}`);
    assert.equal(await failureOn(b, passkey), undefined);
    await a.admin.delete(`/torrents/${infoHash.toString('hex')}`);
    assert.match((await failureOn(b, passkey))!, /unregistered/);
    await a.admin.put(`/torrents/${infoHash.toString('hex')}`, { id: 1 });
    assert.equal(await failureOn(b, passkey), undefined);
  });

  it('a change whose message was lost still reaches the other replica, within two counter checks', async () => {
    const passkey = randomBytes(16).toString('hex');
    await a.admin.put('/users/505', { passkey });
    await within1s(async () => (await failureOn(b, passkey)) === undefined, 'a new user');
    // What the API does, minus the message: the change and the counter, as if pub/sub had dropped it.
    await redisCli(redis.port, 'HSET', `${prefix}u:${passkey}`, 'en', '0');
    await redisCli(redis.port, 'INCR', `${prefix}catalogue:version`);
    const started = Date.now();
    while (!/disabled/.test((await failureOn(b, passkey)) ?? '')) {
      assert.ok(Date.now() - started < 3000, 'the missed change is noticed within about two seconds');
      await sleep(50);
    }
    console.log(`# a change without its message was seen after ${Date.now() - started} ms`);
  });
});
