/**
 * Per-user limits end to end, over the HTTP frontend of a private tracker (memory driver): peers per
 * user and torrent (a new peer beyond gets a failure reason naming the limit, re-announces pass), and
 * distinct addresses per user over a window, counted in the API and on /metrics, and refused only
 * when enforced. Addresses vary through X-Forwarded-For from a trusted proxy (loopback).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startAdminTracker, type AdminClient } from '../helpers/admin.js';
import { announcePath, decode, randomHash, text } from '../helpers/http.js';
import type { TestTracker } from '../helpers/tracker.js';

type AdminTracker = TestTracker & { admin: AdminClient };

async function failureOf(t: TestTracker, path: string, from: string): Promise<string | null> {
  const answer = decode((await t.get(path, { 'x-forwarded-for': from })).body);
  return answer['failure reason'] === undefined ? null : text(answer['failure reason']);
}

async function metric(t: TestTracker, name: string): Promise<number> {
  const reply = await fetch(`http://127.0.0.1:${t.metricsPort}/metrics`);
  const line = (await reply.text()).split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1] ?? NaN);
}

for (const enforce of [false, true]) {
  describe(`private mode limits (addresses ${enforce ? 'enforced' : 'counted only'})`, () => {
    let t: AdminTracker;
    const passkey = randomBytes(16).toString('hex');
    const infoHash = randomHash();
    before(async () => {
      t = await startAdminTracker({
        private_enabled: true,
        trusted_proxies: ['127.0.0.0/8', '::1/128'],
        metrics: { addr: '127.0.0.1:0' },
        private: { peers_per_torrent: 2, addresses_per_user: 2, enforce_address_limit: enforce },
      });
      assert.equal((await t.admin.put('/users/9', { passkey })).status, 201);
      assert.equal((await t.admin.put(`/torrents/${infoHash.toString('hex')}`, { id: 90 })).status, 201);
    });
    after(() => t.close());

    it('limits peers per user and torrent: the third new peer is refused with the limit named, known ones pass', async () => {
      const ids = [randomBytes(20), randomBytes(20), randomBytes(20)];
      const path = (i: number) => announcePath({ infoHash, peerId: ids[i], port: 7000 + i }, `/${passkey}`);
      assert.equal(await failureOf(t, path(0), '10.1.0.1'), null);
      assert.equal(await failureOf(t, path(1), '10.1.0.1'), null);
      assert.match((await failureOf(t, path(2), '10.1.0.1')) ?? '', /already runs 2 peers on this torrent/);
      assert.equal(await failureOf(t, path(0), '10.1.0.1'), null, 'a re-announce passes');
    });

    it('counts distinct addresses per user, in the API and on /metrics; refuses a new one only when enforced', async () => {
      const other = randomHash();
      await t.admin.put(`/torrents/${other.toString('hex')}`, { id: 91 });
      const path = () => announcePath({ infoHash: other, event: 'started' }, `/${passkey}`);
      assert.equal(await failureOf(t, path(), '10.2.0.2'), null);
      const third = await failureOf(t, path(), '10.3.0.3');
      const listed = (await t.admin.get('/users/9/addresses')).json;
      assert.equal(await metric(t, 'tracker_private_address_limit_exceeded_total'), 1);
      if (enforce) {
        assert.match(third ?? '', /announced from 2 addresses already/);
        assert.deepEqual(
          listed.addresses.map((a: { address: string }) => a.address),
          ['10.2.0.2', '10.1.0.1'],
        );
        assert.equal(await metric(t, 'tracker_private_address_limit_refused_total'), 1);
        assert.equal(await failureOf(t, path(), '10.2.0.2'), null, 'a known address passes');
      } else {
        assert.equal(third, null);
        assert.equal(listed.count, 3);
        assert.equal(await metric(t, 'tracker_private_address_limit_refused_total'), 0);
      }
    });
  });
}
