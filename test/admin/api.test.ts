/** The management API over real sockets, against a tracker started with boot() and the memory driver. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { registerTrackerDriver } from '../../src/store/registry.js';
import { ADMIN_TOKEN, adminClient, startAdminTracker, type AdminClient, type AdminReply, unreachableStoreDriver } from '../helpers/admin.js';
import { announcePath, randomHash } from '../helpers/http.js';
import type { TestTracker } from '../helpers/tracker.js';

/** Every error: the status, a JSON `{"error"}` matching `message`, and nothing like a stack trace. */
function assertError(reply: AdminReply, status: number, message: RegExp): void {
  assert.equal(reply.status, status, reply.body.toString());
  assert.match(String(reply.headers['content-type']), /^application\/json/);
  assert.deepEqual(Object.keys(reply.json), ['error']);
  assert.match(reply.json.error, message);
  assert.doesNotMatch(reply.body.toString(), /\bat .*\.js|Error:/, 'no stack trace');
}

const hex = (): string => randomHash().toString('hex');

describe('management API', () => {
  let t: TestTracker & { admin: AdminClient };
  let api: AdminClient;
  before(async () => {
    t = await startAdminTracker();
    api = t.admin;
  });
  after(() => t.close());

  describe('authentication', () => {
    it('refuses a request without a token with 401 and WWW-Authenticate: Bearer', async () => {
      const reply = await api.send('GET', '/freeleech', { headers: { authorization: '' } });
      assertError(reply, 401, /missing bearer token/);
      assert.match(String(reply.headers['www-authenticate']), /^Bearer /);
    });

    it('refuses a wrong token, a token of another length, and another scheme', async () => {
      for (const authorization of [`Bearer ${ADMIN_TOKEN.slice(0, -1)}x`, `Bearer ${ADMIN_TOKEN}x`, 'Bearer x', `Basic ${ADMIN_TOKEN}`, ADMIN_TOKEN]) {
        const reply = await api.send('GET', '/freeleech', { headers: { authorization } });
        assertError(reply, 401, /bearer token/);
        assert.match(String(reply.headers['www-authenticate']), /^Bearer /);
      }
      assert.equal((await adminClient(t.adminPort!, 'not-the-token-0123456789').get('/freeleech')).status, 401);
    });

    it('checks the token before routing: an unknown path is a 401, not a 404', async () => {
      assertError(await api.send('GET', '/nothing-here', { headers: { authorization: '' } }), 401, /token/);
    });

    it('accepts the scheme in any case', async () => {
      assert.equal((await api.send('GET', '/freeleech', { headers: { authorization: `bearer ${ADMIN_TOKEN}` } })).status, 200);
    });
  });

  describe('/users/:id', () => {
    it('creates (201, defaults filled in), reads, replaces (200) and deletes (204) a user', async () => {
      assertError(await api.get('/users/41'), 404, /user 41 not found/);
      const created = await api.put('/users/41', { passkey: 'a'.repeat(32) });
      assert.equal(created.status, 201);
      assert.deepEqual(created.json, {
        id: 41,
        passkey: 'a'.repeat(32),
        up_multiplier: 1,
        down_multiplier: 1,
        enabled: true,
        can_leech: true,
        freeleech_until: 0,
        download_slots: 0,
      });
      assert.deepEqual((await api.get('/users/41')).json, created.json);

      const controls = { can_leech: false, freeleech_until: 4294967295, download_slots: 1000 };
      const replaced = await api.put('/users/41', { passkey: 'Bb_-9', up_multiplier: 2.5, down_multiplier: 0, enabled: false, ...controls });
      assert.equal(replaced.status, 200);
      assert.deepEqual(replaced.json, { id: 41, passkey: 'Bb_-9', up_multiplier: 2.5, down_multiplier: 0, enabled: false, ...controls });
      assert.deepEqual((await api.get('/users/41')).json, replaced.json);
      // A GET answer sent back as is (with its id) is a valid PUT; a PUT replaces, so omitted fields reset.
      assert.equal((await api.put('/users/41', (await api.get('/users/41')).json)).status, 200);
      assert.deepEqual((await api.put('/users/41', (await api.get('/users/41')).json)).json, replaced.json);
      const reset = (await api.put('/users/41', { passkey: 'Bb_-9' })).json;
      assert.deepEqual([reset.enabled, reset.can_leech, reset.freeleech_until], [true, true, 0]);
      assert.deepEqual((await api.get('/users/41')).json, reset);

      assert.equal((await api.delete('/users/41')).status, 204);
      assertError(await api.get('/users/41'), 404, /not found/);
      assertError(await api.delete('/users/41'), 404, /user 41 not found/);
    });

    it('accepts the ends of the id range and refuses what is outside it, naming the id', async () => {
      assert.equal((await api.put('/users/1', { passkey: 'first' })).status, 201);
      assert.equal((await api.put('/users/4294967295', { passkey: 'last' })).status, 201);
      for (const id of ['0', '4294967296', '-1', 'abc', '1e3', '0x10', '7.0', '%201', '99999999999999999999']) {
        assertError(await api.get(`/users/${id}`), 400, /^id: must be an integer from 1 to 4294967295$/);
        assertError(await api.put(`/users/${id}`, { passkey: 'x' }), 400, /^id: /);
      }
    });

    it('refuses a passkey already held by another user with 409, and leaves both users as they were', async () => {
      await api.put('/users/51', { passkey: 'shared-key' });
      assertError(await api.put('/users/52', { passkey: 'shared-key' }), 409, /passkey already belongs to user 51/);
      assertError(await api.get('/users/52'), 404, /not found/);
      assert.equal((await api.get('/users/51')).json.passkey, 'shared-key');
    });

    it('refuses bad fields with 400 naming the field', async () => {
      const cases: Array<[unknown, RegExp]> = [
        [{}, /^passkey: required$/],
        [{ passkey: '' }, /^passkey: must be 1 to 128 characters/],
        [{ passkey: 'a'.repeat(129) }, /^passkey: /],
        [{ passkey: 'has space' }, /^passkey: /],
        [{ passkey: 'slash/y' }, /^passkey: /],
        [{ passkey: 'ünicode' }, /^passkey: /],
        [{ passkey: 42 }, /^passkey: /],
        [{ passkey: 'ok', up_multiplier: -0.5 }, /^up_multiplier: must be a number from 0 to 100$/],
        [{ passkey: 'ok', up_multiplier: 100.01 }, /^up_multiplier: /],
        [{ passkey: 'ok', down_multiplier: '1' }, /^down_multiplier: /],
        [{ passkey: 'ok', down_multiplier: null }, /^down_multiplier: /],
        [{ passkey: 'ok', enabled: 'yes' }, /^enabled: must be true or false$/],
        [{ passkey: 'ok', enabled: 1 }, /^enabled: /],
        [{ passkey: 'ok', upMultiplier: 2 }, /^upMultiplier: unknown field/],
        [{ passkey: 'ok', id: 8 }, /^id: does not match the URL$/],
        [{ passkey: 'ok', can_leech: 'false' }, /^can_leech: must be true or false$/],
        [{ passkey: 'ok', can_leech: null }, /^can_leech: /],
        [{ passkey: 'ok', freeleech_until: -1 }, /^freeleech_until: must be an integer from 0 to 4294967295 \(Unix seconds\)$/],
        [{ passkey: 'ok', freeleech_until: 2 ** 32 }, /^freeleech_until: /],
        [{ passkey: 'ok', freeleech_until: '2030-01-01' }, /^freeleech_until: /],
        [{ passkey: 'ok', canLeech: false }, /^canLeech: unknown field/],
      ];
      for (const [body, message] of cases) assertError(await api.put('/users/7', body), 400, message);
      // JSON itself cannot say Infinity, but an overflowing literal becomes one.
      assertError(await api.send('PUT', '/users/7', { body: '{"passkey":"ok","up_multiplier":1e999}' }), 400, /^up_multiplier: /);
      assertError(await api.get('/users/7'), 404, /not found/);
      assert.equal((await api.put('/users/7', { passkey: 'a'.repeat(128), up_multiplier: 100, down_multiplier: 0 })).status, 201);
    });
  });

  describe('/torrents/:info_hash', () => {
    it('registers (201), reads, replaces (200) and unregisters (204) a torrent; hex in any case', async () => {
      const hash = hex();
      assertError(await api.get(`/torrents/${hash}`), 404, new RegExp(`torrent ${hash} not found`));
      const created = await api.put(`/torrents/${hash.toUpperCase()}`, { id: 9 });
      assert.equal(created.status, 201);
      assert.deepEqual(created.json, { info_hash: hash, id: 9, up_multiplier: 1, down_multiplier: 1, freeleech: false });
      assert.deepEqual((await api.get(`/torrents/${hash}`)).json, created.json);
      const replaced = await api.put(`/torrents/${hash}`, {
        info_hash: hash.toUpperCase(),
        id: 2 ** 53 - 1,
        up_multiplier: 0.5,
        down_multiplier: 2,
        freeleech: true,
      });
      assert.equal(replaced.status, 200);
      assert.deepEqual(replaced.json, { info_hash: hash, id: 2 ** 53 - 1, up_multiplier: 0.5, down_multiplier: 2, freeleech: true });
      assert.equal((await api.delete(`/torrents/${hash}`)).status, 204);
      assertError(await api.delete(`/torrents/${hash}`), 404, /not found/);
    });

    it('unregisters with a reason, and refuses a bad reason with 400, deleting nothing', async () => {
      const hash = hex();
      await api.put(`/torrents/${hash}`, { id: 10 });
      const bad: Array<[unknown, RegExp]> = [
        [{ reason: '' }, /^reason: must be 1 to 200 characters, without control characters$/],
        [{ reason: 'x'.repeat(201) }, /^reason: /],
        [{ reason: 'two\nlines' }, /^reason: /],
        [{ reason: 5 }, /^reason: /],
        [{}, /^reason: required$/],
        [{ reason: 'ok', why: 'x' }, /^why: unknown field/],
      ];
      for (const [body, message] of bad) assertError(await api.delete(`/torrents/${hash}`, body), 400, message);
      assertError(await api.send('DELETE', `/torrents/${hash}`, { body: 'reason=x', headers: { 'content-type': 'text/plain' } }), 415, /JSON/);
      assert.equal((await api.get(`/torrents/${hash}`)).status, 200, 'still registered');
      assert.equal((await api.delete(`/torrents/${hash}`, { reason: 'dupe of 9, ünïcode is fine' })).status, 204);
      assertError(await api.get(`/torrents/${hash}`), 404, /not found/);
    });

    it('refuses a bad info hash or bad fields with 400 naming them', async () => {
      for (const bad of ['abc', hex().slice(1), hex() + '0', 'g'.repeat(40), '%20' + hex().slice(3)]) {
        assertError(await api.get(`/torrents/${bad}`), 400, /^info_hash: must be 40 hexadecimal characters$/);
        assertError(await api.get(`/torrents/${bad}/swarm`), 400, /^info_hash: /);
      }
      const hash = hex();
      const cases: Array<[unknown, RegExp]> = [
        [{}, /^id: required$/],
        [{ id: 0 }, /^id: must be an integer from 1 to 9007199254740991$/],
        [{ id: 2 ** 53 }, /^id: /],
        [{ id: 1.5 }, /^id: /],
        [{ id: '3' }, /^id: /],
        [{ id: 3, freeleech: 'true' }, /^freeleech: must be true or false$/],
        [{ id: 3, up_multiplier: 101 }, /^up_multiplier: /],
        [{ id: 3, info_hash: hex() }, /^info_hash: does not match the URL$/],
        [{ id: 3, name: 'x' }, /^name: unknown field/],
      ];
      for (const [body, message] of cases) assertError(await api.put(`/torrents/${hash}`, body), 400, message);
      assertError(await api.get(`/torrents/${hash}`), 404, /not found/);
    });

    it('registers a hybrid torrent with info_hash_v2: found by either hash, and no hash held twice (409)', async () => {
      const [v1, v2, other] = [hex(), hex(), hex()];
      const created = await api.put(`/torrents/${v1}`, { id: 77, info_hash_v2: v2.toUpperCase() });
      assert.equal(created.status, 201);
      assert.deepEqual(created.json, { info_hash: v1, info_hash_v2: v2, id: 77, up_multiplier: 1, down_multiplier: 1, freeleech: false });
      assert.deepEqual((await api.get(`/torrents/${v2}`)).json, created.json, 'GET by the v2 hash answers the torrent');
      assertError(await api.put(`/torrents/${other}`, { id: 78, info_hash_v2: v2 }), 409, /registered to another torrent/);
      assertError(await api.put(`/torrents/${v2}`, { id: 79 }), 409, /v2 info hash of torrent/);
      assertError(await api.put(`/torrents/${other}`, { id: 78, info_hash_v2: 'xyz' }), 400, /^info_hash_v2: must be 40 hexadecimal characters/);
      assertError(await api.put(`/torrents/${other}`, { id: 78, info_hash_v2: other }), 400, /^info_hash_v2: must differ/);
      const plain = await api.put(`/torrents/${v1}`, { id: 77 });
      assert.deepEqual(plain.json, { info_hash: v1, id: 77, up_multiplier: 1, down_multiplier: 1, freeleech: false }, 'a PUT without it drops it');
      assertError(await api.get(`/torrents/${v2}`), 404, /not found/);
    });

    it('GET /torrents/:info_hash/swarm gives the live counts, registered or not', async () => {
      const hash = randomHash();
      assert.deepEqual((await api.get(`/torrents/${hash.toString('hex')}/swarm`)).json, { complete: 0, incomplete: 0, downloaded: 0 });
      await t.get(announcePath({ infoHash: hash, port: 7001, left: 0 }));
      await t.get(announcePath({ infoHash: hash, port: 7002 }));
      await t.get(announcePath({ infoHash: hash, port: 7003, event: 'completed', left: 0 }));
      assert.deepEqual((await api.get(`/torrents/${hash.toString('hex')}/swarm`)).json, { complete: 2, incomplete: 1, downloaded: 1 });
    });
  });

  describe('batches, pages and syncs', () => {
    it('puts users in a batch and pages through them; a bad item or a key twice refuses the whole batch, naming the item', async () => {
      const users = Array.from({ length: 25 }, (_, i) => ({ id: 70_001 + i, passkey: `bulkuser-${i}-`.padEnd(16, '0'), up_multiplier: 1 + i / 10 }));
      assert.deepEqual((await api.put('/users', users)).json, { count: 25 });
      const seen: number[] = [];
      for (let after = 70_000, pages = 0; pages < 10; pages++) {
        const page = (await api.get(`/users?after=${after}&limit=10`)).json;
        seen.push(...page.users.filter((u: { id: number }) => u.id > 70_000 && u.id < 80_000).map((u: { id: number }) => u.id));
        if (page.next === null) break;
        after = page.next;
      }
      assert.deepEqual(
        seen,
        users.map((u) => u.id),
      );
      assert.deepEqual((await api.get('/users/70005')).json.up_multiplier, 1.4);
      const cases: Array<[unknown, RegExp]> = [
        [[...users.slice(0, 2), { id: 70_100 }], /^\[2\]\.passkey: required/],
        [[{ id: 0, passkey: 'p0000000' }], /^\[0\]\.id: must be an integer from 1/],
        [[{ id: 70_101, passkey: 'p1000000', upMultiplier: 2 }], /^\[0\]\.upMultiplier: unknown field/],
        [[users[0], { ...users[1], id: users[0]!.id }], /^\[1\]: user id 70001 comes twice/],
        [[users[0], { ...users[1], passkey: users[0]!.passkey }], /^\[1\]: passkey bulkuser-0-0* comes twice/],
        [[], /1 to 10000 items/],
        [{ id: 1 }, /must be a JSON array/],
        [[7], /^\[0\]: must be a JSON object/],
      ];
      for (const [body, message] of cases) assertError(await api.put('/users', body), 400, message);
      const fresh = { id: 70_200, passkey: 'freshbulk0000000' };
      assertError(await api.put('/users', [fresh, { id: 70_201, passkey: users[3]!.passkey }]), 409, /passkey already belongs to user 70004/);
      assert.equal((await api.get('/users/70200')).status, 404, 'nothing of a refused batch is written');
      assertError(await api.get('/users?after=-1'), 400, /after/);
      assertError(await api.get('/users?limit=10001'), 400, /limit/);
    });

    it('registers torrents in a batch and pages through them by hash; a hash twice, as v1 or v2, refuses the batch', async () => {
      const torrents = Array.from({ length: 12 }, (_, i) => ({ info_hash: hex(), id: 80_000 + i, ...(i === 0 ? { info_hash_v2: hex() } : {}) }));
      assert.deepEqual((await api.put('/torrents', torrents)).json, { count: 12 });
      assert.equal((await api.get(`/torrents/${torrents[0]!.info_hash_v2}`)).json.id, 80_000);
      const ours = new Set(torrents.map((t) => t.info_hash));
      const seen: string[] = [];
      for (let after = '', pages = 0; pages < 100; pages++) {
        const page = (await api.get(`/torrents?limit=5${after ? `&after=${after}` : ''}`)).json;
        seen.push(...page.torrents.map((t: { info_hash: string }) => t.info_hash).filter((h: string) => ours.has(h)));
        if (page.next === null) break;
        after = page.next;
      }
      assert.deepEqual(seen, [...ours].sort());
      assertError(
        await api.put('/torrents', [{ info_hash: hex(), id: 1, info_hash_v2: torrents[1]!.info_hash }, torrents[1]]),
        400,
        /^\[1\]: info hash [0-9a-f]{40} comes twice/,
      );
      assertError(await api.put('/torrents', [{ id: 1 }]), 400, /^\[0\]\.info_hash: required/);
      const fresh = hex();
      assertError(
        await api.put('/torrents', [
          { info_hash: fresh, id: 2 },
          { info_hash: hex(), id: 3, info_hash_v2: torrents[0]!.info_hash_v2 },
        ]),
        409,
        /registered to another torrent/,
      );
      assert.equal((await api.get(`/torrents/${fresh}`)).status, 404, 'nothing of a refused batch is written');
    });

    it('syncs torrents: what was put under the sync stays, the rest goes on replace; a finished or unknown sync is 404', async () => {
      const stale = { info_hash: hex(), id: 81_000 };
      await api.put('/torrents', [stale]);
      const begun = await api.send('POST', '/sync/torrents');
      assert.equal(begun.status, 201);
      const sync = begun.json.sync as string;
      const current = Array.from({ length: 3 }, (_, i) => ({ info_hash: hex(), id: 81_001 + i }));
      assert.equal((await api.put(`/torrents?sync=${sync}`, current.slice(0, 2))).status, 200);
      assert.equal((await api.put(`/torrents?sync=${sync}`, current.slice(2))).status, 200);
      assertError(await api.put(`/users?sync=${sync}`, [{ id: 81_000, passkey: 'wrongkind0000000' }]), 404, /no open users sync/);
      assertError(await api.put('/torrents?sync=nothex', current), 400, /sync/);
      const done = await api.send('POST', `/sync/torrents/${sync}`, { body: '{"replace": true}', headers: { 'content-type': 'application/json' } });
      assert.equal(done.status, 200);
      assert.ok(done.json.removed >= 1);
      assert.equal((await api.get(`/torrents/${stale.info_hash}`)).status, 404, 'not in the sync: removed');
      for (const t of current) assert.equal((await api.get(`/torrents/${t.info_hash}`)).status, 200);
      assertError(
        await api.send('POST', `/sync/torrents/${sync}`, { body: '{"replace": false}', headers: { 'content-type': 'application/json' } }),
        404,
        /no open torrents sync/,
      );
      assertError(await api.send('POST', '/sync/peers'), 404, /no such sync kind/);
    });
  });

  describe('/clients', () => {
    it('approves prefixes (201, then 200), lists them sorted and percent-encoded where needed, and removes them', async () => {
      assert.deepEqual((await api.get('/clients')).json, { clients: [] });
      assert.equal((await api.put('/clients/-qB46', { name: 'qBittorrent 4.6' })).status, 201);
      assert.equal((await api.put('/clients/-qB46', { name: 'qBittorrent 4.6.x' })).status, 200);
      assert.equal((await api.put('/clients/M7-', { name: 'Mainline 7' })).status, 201);
      assert.equal((await api.put('/clients/T03', { name: 'BitTornado 0.3' })).status, 201);
      // BitComet follows its tag with binary version bytes: any byte goes, percent-encoded.
      const bitcomet = await api.put('/clients/exbc%00%38', { name: 'BitComet' });
      assert.equal(bitcomet.status, 201);
      assert.deepEqual(bitcomet.json, { prefix: 'exbc%008', name: 'BitComet', action: 'allow' });
      // An escaped unreserved character is the same prefix.
      assert.equal((await api.put('/clients/%2DqB46', { prefix: '-qB46', name: 'qBittorrent' })).status, 200);
      const denied = await api.put('/clients/T03', { name: 'BitTornado 0.3', action: 'deny' });
      assert.deepEqual([denied.status, denied.json], [200, { prefix: 'T03', name: 'BitTornado 0.3', action: 'deny' }]);
      assert.deepEqual((await api.get('/clients')).json.clients, [
        { prefix: '-qB46', name: 'qBittorrent', action: 'allow' },
        { prefix: 'M7-', name: 'Mainline 7', action: 'allow' },
        { prefix: 'T03', name: 'BitTornado 0.3', action: 'deny' },
        { prefix: 'exbc%008', name: 'BitComet', action: 'allow' },
      ]);
      // What GET shows goes straight back into a URL.
      for (const client of (await api.get('/clients')).json.clients) assert.equal((await api.delete(`/clients/${client.prefix}`)).status, 204);
      assertError(await api.delete('/clients/M7-'), 404, /client M7- not found/);
      assert.deepEqual((await api.get('/clients')).json, { clients: [] });
    });

    it('refuses a prefix of more than 20 bytes, a malformed escape, and a bad name', async () => {
      assert.equal((await api.put(`/clients/${'A'.repeat(20)}`, { name: 'twenty' })).status, 201);
      assertError(await api.put(`/clients/${'A'.repeat(21)}`, { name: 'x' }), 400, /^prefix: must be 1 to 20 bytes/);
      assertError(await api.put(`/clients/${'%41'.repeat(21)}`, { name: 'x' }), 400, /^prefix: /);
      assertError(await api.put('/clients/-qB%G6', { name: 'x' }), 400, /^prefix: /);
      assertError(await api.put('/clients/-qB%4', { name: 'x' }), 400, /^prefix: /);
      assertError(await api.delete('/clients/%ZZ'), 400, /^prefix: /);
      assertError(await api.put('/clients/-XX1', {}), 400, /^name: required$/);
      assertError(await api.put('/clients/-XX1', { name: ' ' }), 400, /^name: must be a non-empty string/);
      assertError(await api.put('/clients/-XX1', { name: 'x'.repeat(101) }), 400, /^name: /);
      assertError(await api.put('/clients/-XX1', { name: 'x', prefix: '-XX2' }), 400, /^prefix: does not match the URL$/);
      assertError(await api.put('/clients/-XX1', { name: 'x', action: 'block' }), 400, /^action: must be "allow" or "deny"$/);
      assertError(await api.put('/clients/-XX1', { name: 'x', action: null }), 400, /^action: /);
      assert.equal((await api.delete(`/clients/${'A'.repeat(20)}`)).status, 204);
    });
  });

  describe('/lists/:list', () => {
    it('adds, lists and removes hashes on the allow and deny lists, separately', async () => {
      const [a, b] = [hex(), hex()];
      const added = await api.put(`/lists/allow/${a.toUpperCase()}`);
      assert.equal(added.status, 200);
      assert.deepEqual(added.json, { list: 'allow', info_hash: a });
      assert.equal((await api.put(`/lists/allow/${a}`)).status, 200, 'adding twice is harmless');
      await api.put(`/lists/deny/${b}`);
      assert.deepEqual((await api.get('/lists/allow')).json, { info_hashes: [a] });
      assert.deepEqual((await api.get('/lists/deny')).json, { info_hashes: [b] });
      assertError(await api.delete(`/lists/deny/${a}`), 404, new RegExp(`${a} on the deny list not found`));
      assert.equal((await api.delete(`/lists/allow/${a}`)).status, 204);
      assert.equal((await api.delete(`/lists/deny/${b}`)).status, 204);
      assert.deepEqual((await api.get('/lists/allow')).json, { info_hashes: [] });
    });

    it('answers 404 for a list other than allow and deny, 400 for a bad hash', async () => {
      assertError(await api.get('/lists/grey'), 404, /no such list/);
      assertError(await api.put(`/lists/grey/${hex()}`), 404, /no such list/);
      assertError(await api.put('/lists/allow/xyz'), 400, /^info_hash: /);
      assertError(await api.delete('/lists/deny/xyz'), 400, /^info_hash: /);
    });
  });

  describe('/freeleech', () => {
    it('reads and sets the global switch', async () => {
      assert.deepEqual((await api.get('/freeleech')).json, { enabled: false });
      assert.deepEqual((await api.put('/freeleech', { enabled: true })).json, { enabled: true });
      assert.deepEqual((await api.get('/freeleech')).json, { enabled: true });
      assert.deepEqual((await api.put('/freeleech', { enabled: false })).json, { enabled: false });
      assertError(await api.put('/freeleech', { enabled: 'on' }), 400, /^enabled: must be true or false$/);
      assertError(await api.put('/freeleech', {}), 400, /^enabled: required$/);
    });
  });

  describe('errors', () => {
    it('answers 404 for an unknown route', async () => {
      for (const path of ['/', '/user/1', '/userz', '/users/1/extra', '/torrents/x/y/z']) assertError(await api.get(path), 404, /no such route/);
    });

    it('answers 405 with Allow for a known path under another method', async () => {
      const reply = await api.send('POST', '/users/1', { body: '{}', headers: { 'content-type': 'application/json' } });
      assertError(reply, 405, /method POST not allowed/);
      assert.deepEqual(String(reply.headers.allow).split(', ').sort(), ['DELETE', 'GET', 'HEAD', 'PUT']);
      assert.equal((await api.send('DELETE', '/clients')).headers.allow, 'HEAD, GET');
      assertError(await api.send('PUT', `/torrents/${hex()}/swarm`), 405, /not allowed/);
      assertError(await api.send('PATCH', '/freeleech'), 405, /not allowed/);
      assertError(await api.send('PROPFIND', '/freeleech'), 405, /not allowed/);
      const options = await api.send('OPTIONS', '/freeleech');
      assertError(options, 405, /not allowed/);
      assert.equal(options.headers.allow, 'HEAD, GET, PUT');
    });

    it('answers 400 for a body that is not one JSON object, 415 for another media type', async () => {
      const json = { 'content-type': 'application/json' };
      assertError(await api.send('PUT', '/users/3', { body: '{"passkey": ', headers: json }), 400, /not valid JSON/);
      assertError(await api.send('PUT', '/users/3', { body: '["passkey"]', headers: json }), 400, /must be a JSON object/);
      assertError(await api.send('PUT', '/users/3', { body: 'null', headers: json }), 400, /must be a JSON object/);
      assertError(await api.send('PUT', '/users/3', { headers: json }), 400, /a JSON body is required/);
      assertError(await api.send('PUT', '/users/3', { body: Buffer.from('{"passkey":"\xff"}', 'latin1'), headers: json }), 400, /not valid UTF-8/);
      assertError(
        await api.send('PUT', '/users/3', { body: 'passkey=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
        415,
        /must be JSON/,
      );
      // A body without a Content-Type is read as JSON (curl -d sends form-urlencoded, -H fixes that).
      assert.equal((await api.send('PUT', '/users/3', { body: '{"passkey":"ok3"}' })).status, 201);
    });

    it('answers 413 for a body over 64 KiB, declared or chunked, and stays up', async () => {
      const big = JSON.stringify({ passkey: 'x', pad: 'y'.repeat(64 * 1024) });
      assertError(await api.send('PUT', '/users/4', { body: big }), 413, /larger than 65536 bytes/);
      assertError(await api.send('PUT', '/users/4', { body: big, headers: { 'transfer-encoding': 'chunked' } }), 413, /larger than 65536 bytes/);
      assert.equal((await api.get('/freeleech')).status, 200);
    });
  });
});

describe('management API with an unreachable store', () => {
  registerTrackerDriver('unreachable-catalogue', unreachableStoreDriver);
  let t: TestTracker & { admin: AdminClient };
  before(async () => {
    t = await startAdminTracker({ tracker: { driver: 'unreachable-catalogue', params: {} } });
  });
  after(() => t.close());

  it("answers 503 JSON without the driver's message, for reads and writes alike", async () => {
    const replies = [
      await t.admin.get('/users/1'),
      await t.admin.put('/users/1', { passkey: 'k' }),
      await t.admin.delete(`/torrents/${hex()}`),
      await t.admin.get(`/torrents/${hex()}/swarm`),
      await t.admin.get('/clients'),
      await t.admin.get('/lists/deny'),
      await t.admin.get('/freeleech'),
      await t.admin.put('/freeleech', { enabled: true }),
    ];
    for (const reply of replies) {
      assertError(reply, 503, /^the tracker store is unavailable, try again later$/);
      assert.doesNotMatch(reply.body.toString(), /ECONNREFUSED/);
    }
  });

  it('still validates before touching the store', async () => {
    assertError(await t.admin.put('/users/0', { passkey: 'k' }), 400, /^id: /);
  });
});
