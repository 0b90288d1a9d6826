/**
 * What the management API changes for clients, end to end: catalogue entries made over the API, then
 * announces over the tracker's HTTP frontend, answered by the rules of the tracker's configuration.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { AccountingRecord } from '../../src/backend/driver.js';
import { registerBackendDriver } from '../../src/backend/registry.js';
import { startAdminTracker, type AdminClient } from '../helpers/admin.js';
import { announcePath, decode, peerList, randomHash, scrapePath, text } from '../helpers/http.js';
import type { TestTracker } from '../helpers/tracker.js';

type AdminTracker = TestTracker & { admin: AdminClient };

/** The accounting records of every private announce, as a site's backend would receive them. */
const records: AccountingRecord[] = [];
registerBackendDriver('capture', {
  wantsRecords: true,
  async open() {
    return { record: (entry: AccountingRecord) => void records.push(entry), flush: async () => {}, close: async () => {} };
  },
});

/** Announces and returns the failure reason, or null with the decoded answer when there is none. */
async function announce(t: TestTracker, path: string): Promise<{ failure: string | null; answer: Record<string, any> }> {
  const reply = await t.get(path);
  assert.equal(reply.status, 200, 'tracker errors are bencoded with status 200');
  const answer = decode(reply.body);
  return { failure: answer['failure reason'] === undefined ? null : text(answer['failure reason']), answer };
}

const pick = (r: AccountingRecord): { uploaded: number; downloaded: number } => ({ uploaded: r.uploaded, downloaded: r.downloaded });

const peerIdOf = (prefix: string): Buffer => Buffer.concat([Buffer.from(prefix, 'latin1'), randomBytes(20 - prefix.length)]);

describe('private mode: users and torrents from the API', () => {
  let t: AdminTracker;
  before(async () => {
    t = await startAdminTracker({ private_enabled: true, min_interval_enforcement: 'off', backend: { driver: 'capture', params: {} } });
  });
  after(() => t.close());

  it('refuses an announce without a passkey, and one with an unknown passkey', async () => {
    const infoHash = randomHash();
    assert.match((await announce(t, announcePath({ infoHash }))).failure ?? '', /private tracker: use the announce URL with your passkey/);
    assert.equal((await announce(t, announcePath({ infoHash }, '/nosuchpasskey'))).failure, 'unknown passkey');
  });

  it('tracks a registered torrent for a user put over the API, on both passkey URL forms', async () => {
    const infoHash = randomHash();
    await t.admin.put('/users/100', { passkey: 'alicepasskey0000' });
    await t.admin.put('/users/101', { passkey: 'bobpasskey000000' });
    await t.admin.put(`/torrents/${infoHash.toString('hex')}`, { id: 5000 });
    const first = await announce(t, announcePath({ infoHash, port: 7100, left: 0 }, '/alicepasskey0000'));
    assert.equal(first.failure, null);
    const second = await announce(t, announcePath({ infoHash, port: 7101 }, '/users/bobpasskey000000'));
    assert.equal(second.failure, null);
    assert.deepEqual(peerList(second.answer.peers, 4), ['127.0.0.1:7100']);
    assert.deepEqual([second.answer.complete, second.answer.incomplete], [1, 1]);
    assert.deepEqual((await t.admin.get(`/torrents/${infoHash.toString('hex')}/swarm`)).json, { complete: 1, incomplete: 1, downloaded: 0 });
    // Scrapes need a known passkey too.
    assert.equal(decode((await t.get(scrapePath([infoHash], '/nosuchpasskey'))).body)['failure reason'] !== undefined, true);
    assert.equal(decode((await t.get(scrapePath([infoHash], '/alicepasskey0000'))).body)['failure reason'], undefined);
  });

  it('refuses an unregistered torrent, and a torrent once unregistered', async () => {
    const infoHash = randomHash();
    await t.admin.put('/users/110', { passkey: 'carolpasskey0000' });
    assert.equal((await announce(t, announcePath({ infoHash }, '/carolpasskey0000'))).failure, 'unregistered torrent');
    await t.admin.put(`/torrents/${infoHash.toString('hex')}`, { id: 5001 });
    assert.equal((await announce(t, announcePath({ infoHash }, '/carolpasskey0000'))).failure, null);
    await t.admin.delete(`/torrents/${infoHash.toString('hex')}`);
    assert.equal((await announce(t, announcePath({ infoHash }, '/carolpasskey0000'))).failure, 'unregistered torrent');
  });

  it('tells announces on a torrent deleted with a reason "torrent deleted: <reason>", until it is registered again', async () => {
    const infoHash = randomHash();
    const hex = infoHash.toString('hex');
    await t.admin.put('/users/150', { passkey: 'gracepasskey0000' });
    await t.admin.put(`/torrents/${hex}`, { id: 5005 });
    assert.equal((await announce(t, announcePath({ infoHash }, '/gracepasskey0000'))).failure, null);
    assert.equal((await t.admin.delete(`/torrents/${hex}`, { reason: 'dupe of torrent 5000' })).status, 204);
    assert.equal((await announce(t, announcePath({ infoHash }, '/gracepasskey0000'))).failure, 'torrent deleted: dupe of torrent 5000');
    await t.admin.put(`/torrents/${hex}`, { id: 5005 });
    assert.equal((await announce(t, announcePath({ infoHash }, '/gracepasskey0000'))).failure, null);
    assert.equal((await t.admin.delete(`/torrents/${hex}`)).status, 204);
    assert.equal((await announce(t, announcePath({ infoHash }, '/gracepasskey0000'))).failure, 'unregistered torrent', 'deleted without a reason');
  });

  it('gives freeleech tokens over the API, by either hash of a hybrid torrent: free until completed, then deleted', async () => {
    const [v1, v2] = [randomHash(), randomHash()];
    const [h1, h2] = [v1.toString('hex'), v2.toString('hex')];
    await t.admin.put('/users/160', { passkey: 'heidipasskey0000' });
    await t.admin.put(`/torrents/${h1}`, { id: 5010, info_hash_v2: h2 });
    assert.equal((await t.admin.put(`/users/160/tokens/${h2}`, {})).status, 201);
    const put = await t.admin.put(`/users/160/tokens/${h1}`, { until: 4_000_000_000 });
    assert.deepEqual([put.status, put.json], [200, { info_hash: h1, torrent_id: 5010, until: 4_000_000_000 }], 'one token for both hashes');
    assert.deepEqual((await t.admin.get(`/users/160/tokens/${h2}`)).json, { info_hash: h1, torrent_id: 5010, until: 4_000_000_000 });
    assert.deepEqual((await t.admin.get('/users/160/tokens')).json, { tokens: [{ info_hash: h1, torrent_id: 5010, until: 4_000_000_000 }] });
    assert.equal((await t.admin.put(`/users/161/tokens/${h1}`, {})).status, 404, 'no such user');
    assert.equal((await t.admin.put(`/users/160/tokens/${randomHash().toString('hex')}`, {})).status, 404, 'no such torrent');
    assert.equal((await t.admin.put(`/users/160/tokens/${h1}`, { until: -1 })).status, 400);
    assert.equal((await t.admin.put(`/users/160/tokens/${h1}`, { until: 1, extra: true })).status, 400);
    assert.equal((await t.admin.get('/users/161/tokens')).status, 404);

    const peerId = peerIdOf('-qB4630-');
    const path = (overrides: Partial<Parameters<typeof announcePath>[0]>) =>
      announcePath({ infoHash: v2, peerId, port: 7160, ...overrides }, '/heidipasskey0000');
    assert.equal((await announce(t, path({ event: 'started', left: 1000 }))).failure, null);
    assert.equal((await announce(t, path({ downloaded: 600, left: 400 }))).failure, null);
    assert.deepEqual([records.at(-1)!.rawDownloaded, records.at(-1)!.downloaded, records.at(-1)!.freeleech], [600, 0, 'token']);
    assert.equal((await announce(t, path({ downloaded: 1000, left: 0, event: 'completed' }))).failure, null);
    assert.deepEqual([records.at(-1)!.downloaded, records.at(-1)!.freeleech, records.at(-1)!.tokenEnd], [0, 'token', 'completed']);
    assert.equal((await t.admin.get(`/users/160/tokens/${h1}`)).status, 404, 'used up');

    await t.admin.put(`/users/160/tokens/${h1}`, {});
    assert.equal((await t.admin.delete(`/users/160/tokens/${h2}`)).status, 204);
    assert.equal((await t.admin.delete(`/users/160/tokens/${h2}`)).status, 404);
    assert.deepEqual((await t.admin.get('/users/160/tokens')).json, { tokens: [] });
  });

  it('limits a user to download_slots torrents downloading at once, over HTTP', async () => {
    const hashes = [randomHash(), randomHash(), randomHash()];
    for (const [i, hash] of hashes.entries()) await t.admin.put(`/torrents/${hash.toString('hex')}`, { id: 5020 + i });
    const put = await t.admin.put('/users/170', { passkey: 'ivanpasskey00000', download_slots: 2 });
    assert.equal(put.json.download_slots, 2);
    assert.equal((await t.admin.get('/users/170')).json.download_slots, 2);
    assert.equal((await t.admin.put('/users/171', { passkey: 'ivanpasskey00001', download_slots: 1001 })).status, 400);
    const path = (hash: Buffer, event: 'started' | 'stopped') => announcePath({ infoHash: hash, event, port: 7170 }, '/ivanpasskey00000');
    assert.equal((await announce(t, path(hashes[0]!, 'started'))).failure, null);
    assert.equal((await announce(t, path(hashes[1]!, 'started'))).failure, null);
    assert.match((await announce(t, path(hashes[2]!, 'started'))).failure ?? '', /downloading 2 torrents already, the most its download slots allow/);
    assert.equal((await announce(t, path(hashes[0]!, 'stopped'))).failure, null);
    assert.equal((await announce(t, path(hashes[2]!, 'started'))).failure, null);
    await t.admin.put('/users/170', { passkey: 'ivanpasskey00000' });
    assert.equal((await t.admin.get('/users/170')).json.download_slots, 0, 'left out: no limit');
    assert.equal((await announce(t, path(hashes[0]!, 'started'))).failure, null);
  });

  it('refuses a disabled user, an old passkey after a change, and a deleted user', async () => {
    const infoHash = randomHash();
    await t.admin.put(`/torrents/${infoHash.toString('hex')}`, { id: 5002 });
    await t.admin.put('/users/120', { passkey: 'davepasskey00000', enabled: false });
    assert.match((await announce(t, announcePath({ infoHash }, '/davepasskey00000'))).failure ?? '', /account is disabled/);
    await t.admin.put('/users/120', { passkey: 'davepasskey00000' });
    assert.equal((await announce(t, announcePath({ infoHash }, '/davepasskey00000'))).failure, null);
    await t.admin.put('/users/120', { passkey: 'davenewpasskey00' });
    assert.equal((await announce(t, announcePath({ infoHash }, '/davepasskey00000'))).failure, 'unknown passkey');
    assert.equal((await announce(t, announcePath({ infoHash }, '/davenewpasskey00'))).failure, null);
    await t.admin.delete('/users/120');
    assert.equal((await announce(t, announcePath({ infoHash }, '/davenewpasskey00'))).failure, 'unknown passkey');
  });

  it('credits with the multipliers put over the API, and nothing downloaded under freeleech', async () => {
    const infoHash = randomHash();
    const hex = infoHash.toString('hex');
    await t.admin.put('/users/130', { passkey: 'erinpasskey00000', up_multiplier: 2, down_multiplier: 0.5 });
    await t.admin.put(`/torrents/${hex}`, { id: 5003, up_multiplier: 1.5 });
    const peerId = peerIdOf('-TS0001-');
    /** Reports totals growing by 1000 up and 1000 down, and returns what the backend was handed. */
    let total = 0;
    const step = async (): Promise<AccountingRecord> => {
      total += 1000;
      const { failure } = await announce(t, announcePath({ infoHash, peerId, uploaded: total, downloaded: total }, '/erinpasskey00000'));
      assert.equal(failure, null);
      const record = records.at(-1)!;
      assert.deepEqual([record.userId, record.torrentId, record.rawUploaded, record.rawDownloaded], [130, 5003, 1000, 1000]);
      return record;
    };
    // The client starts with zero totals; the tracker knows the peer from then on.
    assert.equal((await announce(t, announcePath({ infoHash, peerId, event: 'started' }, '/erinpasskey00000'))).failure, null);
    assert.deepEqual(pick(await step()), { uploaded: 3000, downloaded: 500 });
    await t.admin.put('/freeleech', { enabled: true });
    assert.deepEqual(pick(await step()), { uploaded: 3000, downloaded: 0 }, 'global freeleech');
    await t.admin.put('/freeleech', { enabled: false });
    assert.deepEqual(pick(await step()), { uploaded: 3000, downloaded: 500 });
    await t.admin.put(`/torrents/${hex}`, { id: 5003, up_multiplier: 1.5, freeleech: true });
    assert.deepEqual(pick(await step()), { uploaded: 3000, downloaded: 0 }, 'torrent freeleech');
    assert.equal(records.at(-1)!.freeleech, 'torrent');
    await t.admin.put(`/torrents/${hex}`, { id: 5003, up_multiplier: 1.5 });
    await t.admin.put('/users/130', {
      passkey: 'erinpasskey00000',
      up_multiplier: 2,
      down_multiplier: 0.5,
      freeleech_until: Math.floor(Date.now() / 1000) + 600,
    });
    assert.deepEqual(pick(await step()), { uploaded: 3000, downloaded: 0 }, 'personal freeleech');
    assert.equal(records.at(-1)!.freeleech, 'personal');
  });

  it('refuses a user whose download rights were revoked over the API "downloading disabled" while leeching, not while seeding', async () => {
    const infoHash = randomHash();
    await t.admin.put(`/torrents/${infoHash.toString('hex')}`, { id: 5004 });
    await t.admin.put('/users/140', { passkey: 'frankpasskey0000', can_leech: false });
    const path = (left: number, event?: 'started' | 'stopped') =>
      announcePath({ infoHash, port: 7140, left, ...(event ? { event } : {}) }, '/frankpasskey0000');
    assert.equal((await announce(t, path(1000, 'started'))).failure, 'downloading disabled');
    assert.equal((await announce(t, path(0, 'started'))).failure, null);
    assert.equal((await announce(t, path(0))).failure, null);
    await t.admin.put('/users/140', { passkey: 'frankpasskey0000' });
    assert.equal((await announce(t, path(1000))).failure, null, 'rights given back');
  });
});

describe('private.deleted_reason_ttl 0, private.denied_ports, private.denied_user_agents', () => {
  let t: AdminTracker;
  before(async () => {
    t = await startAdminTracker({ private_enabled: true, private: { deleted_reason_ttl: 0, denied_ports: ['6881-6889'], denied_user_agents: ['^BitLord'] } });
  });

  it('refuses an announce whose User-Agent is denied, naming the rule', async () => {
    const infoHash = randomHash();
    await t.admin.put('/users/162', { passkey: 'judypasskey00000' });
    await t.admin.put(`/torrents/${infoHash.toString('hex')}`, { id: 5008 });
    const path = announcePath({ infoHash, port: 51413 }, '/judypasskey00000');
    const failure = async (userAgent: string) => text(decode((await t.get(path, { 'user-agent': userAgent })).body)['failure reason'] ?? '');
    assert.equal(await failure('BitLord/2.4'), 'your client is denied on this tracker (private.denied_user_agents: ^BitLord)');
    assert.equal(await failure('qBittorrent/4.6.3'), '');
  });

  it('refuses an announce on a denied port naming the rule, and takes the same on another port', async () => {
    const infoHash = randomHash();
    await t.admin.put('/users/161', { passkey: 'ivanpasskey00000' });
    await t.admin.put(`/torrents/${infoHash.toString('hex')}`, { id: 5007 });
    assert.equal(
      (await announce(t, announcePath({ infoHash, port: 6885 }, '/ivanpasskey00000'))).failure,
      'port 6885 is denied on this tracker (private.denied_ports: 6881-6889); use another port',
    );
    assert.equal((await announce(t, announcePath({ infoHash, port: 51413 }, '/ivanpasskey00000'))).failure, null);
  });
  after(() => t.close());

  it('answers "unregistered torrent" for a torrent deleted with a reason', async () => {
    const infoHash = randomHash();
    await t.admin.put('/users/160', { passkey: 'heidipasskey0000' });
    await t.admin.put(`/torrents/${infoHash.toString('hex')}`, { id: 5006 });
    assert.equal((await t.admin.delete(`/torrents/${infoHash.toString('hex')}`, { reason: 'dupe' })).status, 204);
    assert.equal((await announce(t, announcePath({ infoHash, port: 51413 }, '/heidipasskey0000'))).failure, 'unregistered torrent');
  });
});

describe('public mode: the deny list', () => {
  let t: AdminTracker;
  before(async () => {
    t = await startAdminTracker();
  });
  after(() => t.close());

  it('refuses a denied hash, and only that one, until it is taken off the list', async () => {
    const [denied, other] = [randomHash(), randomHash()];
    assert.equal((await announce(t, announcePath({ infoHash: denied }))).failure, null);
    assert.equal((await t.admin.put(`/lists/deny/${denied.toString('hex')}`)).status, 200);
    assert.equal((await announce(t, announcePath({ infoHash: denied }))).failure, 'this torrent is not allowed on this tracker');
    assert.equal((await announce(t, announcePath({ infoHash: other }))).failure, null);
    await t.admin.delete(`/lists/deny/${denied.toString('hex')}`);
    assert.equal((await announce(t, announcePath({ infoHash: denied }))).failure, null);
  });

  it('ignores the allow list while approved_torrents_only is off', async () => {
    await t.admin.put(`/lists/allow/${randomHash().toString('hex')}`);
    assert.equal((await announce(t, announcePath({ infoHash: randomHash() }))).failure, null);
  });
});

describe('approved_torrents_only: the allow list', () => {
  let t: AdminTracker;
  before(async () => {
    t = await startAdminTracker({ approved_torrents_only: true });
  });
  after(() => t.close());

  it('tracks only hashes on the allow list, and the deny list still wins', async () => {
    const infoHash = randomHash();
    const hex = infoHash.toString('hex');
    assert.equal((await announce(t, announcePath({ infoHash }))).failure, 'this torrent is not on the allow list of this tracker');
    await t.admin.put(`/lists/allow/${hex}`);
    assert.equal((await announce(t, announcePath({ infoHash }))).failure, null);
    await t.admin.put(`/lists/deny/${hex}`);
    assert.equal((await announce(t, announcePath({ infoHash }))).failure, 'this torrent is not allowed on this tracker');
    await t.admin.delete(`/lists/deny/${hex}`);
    await t.admin.delete(`/lists/allow/${hex}`);
    assert.match((await announce(t, announcePath({ infoHash }))).failure ?? '', /not on the allow list/);
  });
});

describe('denied client prefixes, without approved_clients_only', () => {
  let t: AdminTracker;
  before(async () => {
    t = await startAdminTracker();
  });
  after(() => t.close());

  it('refuses peer_ids of a denied prefix in public mode, and no others, until it is removed', async () => {
    const tryClient = async (prefix: string): Promise<string | null> =>
      (await announce(t, announcePath({ infoHash: randomHash(), peerId: peerIdOf(prefix) }))).failure;
    assert.equal(await tryClient('-BB1000-'), null);
    await t.admin.put('/clients/-BB1', { name: 'BB 1.x', action: 'deny' });
    assert.deepEqual((await t.admin.get('/clients')).json, { clients: [{ prefix: '-BB1', name: 'BB 1.x', action: 'deny' }] });
    assert.equal(await tryClient('-BB1000-'), 'your client is denied on this tracker (BB 1.x)');
    assert.equal(await tryClient('-BB2000-'), null, 'no allow list: the rest pass');
    assert.equal((await t.admin.delete('/clients/-BB1')).status, 204);
    assert.equal(await tryClient('-BB1000-'), null);
  });
});

describe('approved_clients_only: client prefixes', () => {
  let t: AdminTracker;
  before(async () => {
    t = await startAdminTracker({ approved_clients_only: true });
  });
  after(() => t.close());

  const tryClient = async (prefix: string): Promise<string | null> =>
    (await announce(t, announcePath({ infoHash: randomHash(), peerId: peerIdOf(prefix) }))).failure;

  it('accepts Azureus-style peer_ids by the prefix approved, and no others', async () => {
    assert.match((await tryClient('-XX1234-')) ?? '', /client is not approved/);
    await t.admin.put('/clients/-XX12', { name: 'XX 1.2' });
    assert.equal(await tryClient('-XX1234-'), null);
    assert.equal(await tryClient('-XX1299-'), null);
    assert.match((await tryClient('-XX2000-')) ?? '', /not approved/);
    assert.match((await tryClient('-XY1234-')) ?? '', /not approved/);
  });

  it('accepts Shadow-style and Mainline-style peer_ids, and binary prefixes', async () => {
    assert.match((await tryClient('T03I-----')) ?? '', /not approved/);
    await t.admin.put('/clients/T03', { name: 'BitTornado 0.3' });
    await t.admin.put('/clients/M7-', { name: 'Mainline 7' });
    await t.admin.put('/clients/exbc%00%38', { name: 'BitComet 0.56' });
    assert.equal(await tryClient('T03I-----'), null);
    assert.equal(await tryClient('M7-2-1--'), null);
    assert.equal(await tryClient('exbc\x00\x38LORD'), null);
    assert.match((await tryClient('exbc\x00\x39LORD')) ?? '', /not approved/);
    assert.match((await tryClient('M6-9-0--')) ?? '', /not approved/);
  });

  it('refuses a denied prefix within an approved one, naming it, and admits the rest', async () => {
    await t.admin.put('/clients/-QQ', { name: 'QQ' });
    assert.equal((await t.admin.put('/clients/-QQ10', { name: 'QQ 1.0 (reports no downloads)', action: 'deny' })).status, 201);
    assert.equal(await tryClient('-QQ1000-'), 'your client is denied on this tracker (QQ 1.0 (reports no downloads))');
    assert.equal(await tryClient('-QQ2000-'), null);
  });

  it('refuses a client again once its prefix is removed', async () => {
    await t.admin.put('/clients/-ZZ', { name: 'ZZ' });
    assert.equal(await tryClient('-ZZ0100-'), null);
    assert.equal((await t.admin.delete('/clients/-ZZ')).status, 204);
    assert.match((await tryClient('-ZZ0100-')) ?? '', /not approved/);
  });
});
