/**
 * Private mode's policy and accounting in the Tracker, over the memory store: passkeys, registered
 * torrents, approved clients, and the delta each announce hands to the backend.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { AccountingRecord } from '../../src/backend/driver.js';
import type { AnnounceRequest } from '../../src/bittorrent/announce.js';
import { ClientError } from '../../src/bittorrent/errors.js';
import { MemoryStore } from '../../src/store/memory/store.js';
import { loadConfig } from '../../src/config/config.js';
import { Tracker, trackerPolicy, type TrackerPolicy } from '../../src/tracker/tracker.js';
import { UserAgentRules } from '../../src/tracker/user-agents.js';
import { KeepingBackend } from '../helpers/accounting.js';
import { eventually } from '../../src/testing/harness.js';

// Announces follow each other at once here: min interval enforcement would hold their totals back.
const POLICY: TrackerPolicy = { ...trackerPolicy(loadConfig()), intervalJitter: 0, private: true, minIntervalEnforcement: 'off' };

describe('private mode accounting', () => {
  let store: MemoryStore;
  let backend: KeepingBackend;
  let tracker: Tracker;
  const infoHash = randomBytes(20);
  const passkey = 'a'.repeat(32);

  before(async () => {
    store = new MemoryStore({ peerTtlMs: 60_000, reapIntervalMs: 1000 });
    backend = new KeepingBackend();
    tracker = new Tracker(store, backend, POLICY);
    await store.catalogue.putUser({ id: 7, passkey, upMultiplier: 2, downMultiplier: 1, enabled: true });
    await store.catalogue.putTorrent({ infoHash, id: 99, upMultiplier: 1, downMultiplier: 0.5, freeleech: false });
  });
  after(() => store.close());

  const request = (overrides: Partial<AnnounceRequest>): AnnounceRequest => ({
    infoHash,
    peerId: Buffer.from('-qB4630-000000000001'),
    port: 6881,
    uploaded: 0,
    downloaded: 0,
    left: 1000,
    event: 'none',
    numwant: 10,
    compact: true,
    noPeerId: true,
    sourceIp: Buffer.from([10, 0, 0, 1]),
    passkey,
    ...overrides,
  });
  const requestOn = request;
  const last = (): AccountingRecord => backend.records.at(-1)!;

  it('refuses announces without a passkey, with an unknown one, or for a disabled user', async () => {
    await assert.rejects(tracker.announce(request({ passkey: undefined })), (e: Error) => e instanceof ClientError && /private tracker/.test(e.message));
    await assert.rejects(tracker.announce(request({ passkey: 'nope' })), /unknown passkey/);
    await store.catalogue.putUser({ id: 8, passkey: 'b'.repeat(32), upMultiplier: 1, downMultiplier: 1, enabled: false });
    await assert.rejects(tracker.announce(request({ passkey: 'b'.repeat(32) })), /disabled/);
    await assert.rejects(tracker.announce(request({ infoHash: randomBytes(20) })), /unregistered torrent/);
    await assert.rejects(tracker.scrape({ infoHashes: [infoHash] }), /private tracker/);
    assert.equal(backend.records.length, 0, 'refused announces are not accounted');
  });

  it("hands the backend each announce's delta, multiplied, with a unique id", async () => {
    await tracker.announce(request({ event: 'started' }));
    assert.deepEqual([last().rawUploaded, last().rawDownloaded, last().uploaded, last().downloaded], [0, 0, 0, 0]);
    await tracker.announce(request({ uploaded: 1000, downloaded: 4000 }));
    assert.deepEqual([last().rawUploaded, last().rawDownloaded, last().uploaded, last().downloaded], [1000, 4000, 2000, 2000]);
    await tracker.announce(request({ uploaded: 1500, downloaded: 4000 }));
    assert.deepEqual([last().rawUploaded, last().rawDownloaded, last().uploaded, last().downloaded], [500, 0, 1000, 0]);
    assert.equal(last().userId, 7);
    assert.equal(last().torrentId, 99);
    assert.ok(last().infoHash.equals(infoHash));
    assert.equal(new Set(backend.records.map((r) => r.id)).size, backend.records.length);
  });

  it('counts a counter that went backwards (a client restart) from zero', async () => {
    await tracker.announce(request({ uploaded: 300, downloaded: 10 }));
    assert.deepEqual([last().rawUploaded, last().rawDownloaded], [300, 10]);
  });

  it('marks the snatch once, and counts nothing downloaded under freeleech', async () => {
    await tracker.announce(request({ event: 'completed', left: 0, uploaded: 300, downloaded: 20 }));
    assert.equal(last().snatched, true);
    assert.equal(last().downloaded, 5);
    await store.catalogue.setGlobalFreeleech(true);
    await tracker.announce(request({ left: 0, uploaded: 400, downloaded: 120 }));
    assert.deepEqual([last().snatched, last().rawDownloaded, last().downloaded, last().uploaded], [false, 100, 0, 200]);
    await store.catalogue.setGlobalFreeleech(false);
    await store.catalogue.putTorrent({ infoHash, id: 99, upMultiplier: 1, downMultiplier: 0.5, freeleech: true });
    await tracker.announce(request({ left: 0, uploaded: 400, downloaded: 220 }));
    assert.deepEqual([last().rawDownloaded, last().downloaded], [100, 0]);
  });

  it('accounts the stop and forgets the totals, so a new start counts from zero', async () => {
    await tracker.announce(request({ event: 'stopped', left: 0, uploaded: 450, downloaded: 220 }));
    assert.deepEqual([last().event, last().rawUploaded], ['stopped', 50]);
    await tracker.announce(request({ event: 'started', uploaded: 5, downloaded: 0 }));
    assert.deepEqual([last().event, last().rawUploaded], ['started', 5]);
  });

  it('sets only a baseline for a peer it does not know unless it says started (no session credited twice)', async () => {
    const peerId = Buffer.from('-qB4630-000000000777');
    await tracker.announce(request({ peerId, uploaded: 5_000_000, downloaded: 7_000_000 }));
    assert.deepEqual([last().rawUploaded, last().rawDownloaded, last().uploaded], [0, 0, 0], 'forgotten or unknown: its totals may have been credited already');
    await tracker.announce(request({ peerId, uploaded: 5_000_400, downloaded: 7_000_000 }));
    assert.deepEqual([last().rawUploaded, last().rawDownloaded], [400, 0], 'counted from the baseline');
  });

  it('credits whole bytes without losing one to binary fractions', async () => {
    await store.catalogue.putUser({ id: 9, passkey: 'c'.repeat(32), upMultiplier: 1.15, downMultiplier: 1, enabled: true });
    const peerId = Buffer.from('-qB4630-000000000999');
    await tracker.announce(request({ passkey: 'c'.repeat(32), peerId, event: 'started' }));
    await tracker.announce(request({ passkey: 'c'.repeat(32), peerId, uploaded: 100 }));
    assert.equal(last().uploaded, 115, '100 * 1.15 is 114.99999999999999 in floating point');
  });

  it('refuses a user without download rights an announce with bytes left, with "downloading disabled", and lets it seed and stop', async () => {
    const key = 'd'.repeat(32);
    const peerId = Buffer.from('-qB4630-00000000cl01');
    const seeding = randomBytes(20);
    const leeching = randomBytes(20);
    await store.catalogue.putTorrent({ infoHash: seeding, id: 101, upMultiplier: 1, downMultiplier: 1, freeleech: false });
    await store.catalogue.putTorrent({ infoHash: leeching, id: 103, upMultiplier: 1, downMultiplier: 1, freeleech: false });
    const request = (overrides: Partial<AnnounceRequest>): AnnounceRequest => requestOn({ infoHash: leeching, ...overrides });
    await store.catalogue.putUser({ id: 10, passkey: key, upMultiplier: 1, downMultiplier: 1, enabled: true, canLeech: false });
    const count = backend.records.length;
    await assert.rejects(
      tracker.announce(request({ passkey: key, peerId, event: 'started', left: 1 })),
      (e: Error) => e instanceof ClientError && e.message === 'downloading disabled',
    );
    await assert.rejects(tracker.announce(request({ passkey: key, peerId, uploaded: 10, left: 500 })), /^ClientError: downloading disabled$/);
    assert.equal(backend.records.length, count, 'a refused announce is not accounted');
    assert.equal((await store.scrape([leeching]))[0]!.incomplete, 0, 'nor stored');
    await tracker.announce(request({ passkey: key, peerId, infoHash: seeding, event: 'started', left: 0 }));
    await tracker.announce(request({ passkey: key, peerId, infoHash: seeding, uploaded: 700, left: 0 }));
    assert.deepEqual([last().userId, last().rawUploaded], [10, 700], 'seeding is credited');
    // Revoked while leeching: its stop still goes through and carries its last totals.
    await store.catalogue.putUser({ id: 10, passkey: key, upMultiplier: 1, downMultiplier: 1, enabled: true });
    await tracker.announce(request({ passkey: key, peerId, event: 'started', left: 400 }));
    await store.catalogue.putUser({ id: 10, passkey: key, upMultiplier: 1, downMultiplier: 1, enabled: true, canLeech: false });
    await assert.rejects(tracker.announce(request({ passkey: key, peerId, uploaded: 5, downloaded: 100, left: 300 })), /downloading disabled/);
    await tracker.announce(request({ passkey: key, peerId, event: 'stopped', uploaded: 5, downloaded: 100, left: 300 }));
    assert.deepEqual([last().event, last().rawUploaded, last().rawDownloaded], ['stopped', 5, 100]);
  });

  it('counts no download under personal freeleech until its time, and says which rule made it free', async () => {
    const key = 'e'.repeat(32);
    const peerId = Buffer.from('-qB4630-00000000fl01');
    const now = Math.floor(Date.now() / 1000);
    const torrent = randomBytes(20);
    await store.catalogue.putTorrent({ infoHash: torrent, id: 102, upMultiplier: 1, downMultiplier: 0.5, freeleech: false });
    const request = (overrides: Partial<AnnounceRequest>): AnnounceRequest => requestOn({ infoHash: torrent, ...overrides });
    await store.catalogue.putUser({ id: 11, passkey: key, upMultiplier: 1, downMultiplier: 1, enabled: true, freeleechUntil: now + 3600 });
    await tracker.announce(request({ passkey: key, peerId, event: 'started' }));
    await tracker.announce(request({ passkey: key, peerId, uploaded: 10, downloaded: 1000 }));
    assert.deepEqual([last().rawDownloaded, last().downloaded, last().downMultiplier, last().freeleech], [1000, 0, 0, 'personal']);
    await store.catalogue.setGlobalFreeleech(true);
    await tracker.announce(request({ passkey: key, peerId, uploaded: 10, downloaded: 1500 }));
    assert.equal(last().freeleech, 'global', 'the broadest rule is named');
    await store.catalogue.setGlobalFreeleech(false);
    await store.catalogue.putUser({ id: 11, passkey: key, upMultiplier: 1, downMultiplier: 1, enabled: true, freeleechUntil: now - 1 });
    await tracker.announce(request({ passkey: key, peerId, uploaded: 10, downloaded: 2000 }));
    assert.deepEqual([last().rawDownloaded, last().downloaded, last().freeleech], [500, 250, undefined], 'over: counted again (torrent multiplier 0.5)');
  });

  it('counts no download on a torrent while a freeleech token holds; completing uses it up, and a token past its time expires', async () => {
    const key = 'k'.repeat(32);
    const peerId = Buffer.from('-qB4630-00000000tk01');
    const now = Math.floor(Date.now() / 1000);
    const [torrent, other] = [randomBytes(20), randomBytes(20)];
    await store.catalogue.putTorrent({ infoHash: torrent, id: 107, upMultiplier: 1, downMultiplier: 0.5, freeleech: false });
    await store.catalogue.putTorrent({ infoHash: other, id: 108, upMultiplier: 1, downMultiplier: 1, freeleech: false });
    await store.catalogue.putUser({ id: 13, passkey: key, upMultiplier: 1, downMultiplier: 1, enabled: true });
    await store.catalogue.putToken(13, { torrentId: 107, infoHash: torrent, until: 0 });
    await store.catalogue.putToken(13, { torrentId: 108, infoHash: other, until: now - 1 });
    const ended: string[] = [];
    const observer = {
      overBudget: () => {},
      tooSoon: () => {},
      notStored: () => {},
      peerListWithheld: () => {},
      tokenEnded: (end: string, failed: boolean) => void ended.push(`${end} ${failed}`),
    };
    const watched = new Tracker(store, backend, POLICY, observer);
    const on = (infoHash: Buffer, overrides: Partial<AnnounceRequest>) => watched.announce(requestOn({ infoHash, passkey: key, peerId, ...overrides }));

    await on(torrent, { event: 'started' });
    await on(torrent, { uploaded: 10, downloaded: 1000 });
    assert.deepEqual([last().rawDownloaded, last().downloaded, last().downMultiplier, last().freeleech, last().tokenEnd], [1000, 0, 0, 'token', undefined]);
    await on(torrent, { uploaded: 20, downloaded: 3000, left: 0, event: 'completed' });
    assert.deepEqual(
      [last().rawDownloaded, last().downloaded, last().freeleech, last().snatched, last().tokenEnd],
      [2000, 0, 'token', true, 'completed'],
      'free up to the completion',
    );
    await eventually(async () => (await store.catalogue.listTokens(13))!.every((t) => t.torrentId !== 107), 'the used-up token deleted');
    await on(torrent, { uploaded: 30, downloaded: 3500, left: 0 });
    assert.deepEqual([last().downloaded, last().freeleech, last().tokenEnd], [250, undefined, undefined], 'counted again after the completion');

    await on(other, { event: 'started' });
    assert.equal(last().tokenEnd, 'expired');
    await on(other, { uploaded: 10, downloaded: 400 });
    assert.deepEqual(
      [last().downloaded, last().freeleech, last().tokenEnd],
      [400, undefined, undefined],
      'an expired token counts nothing free, and ends once',
    );
    assert.deepEqual(await store.catalogue.listTokens(13), []);
    assert.deepEqual(ended, ['completed false', 'expired false']);
  });

  it('answers an announce on a torrent deleted with a reason "torrent deleted: <reason>", accounting nothing', async () => {
    const deleted = randomBytes(20);
    await store.catalogue.putTorrent({ infoHash: deleted, id: 104, upMultiplier: 1, downMultiplier: 1, freeleech: false });
    await store.catalogue.deleteTorrent(deleted, { text: 'trumped by a better encode', ttlSeconds: 60 });
    const count = backend.records.length;
    await assert.rejects(
      tracker.announce(request({ infoHash: deleted })),
      (e: Error) => e instanceof ClientError && e.message === 'torrent deleted: trumped by a better encode',
    );
    await assert.rejects(tracker.announce(request({ infoHash: randomBytes(20) })), /^ClientError: unregistered torrent$/);
    assert.equal(backend.records.length, count);
  });

  it('refuses an announced port of private.denied_ports, naming the rule; a stop goes through', async () => {
    const ports = new Tracker(store, backend, {
      ...POLICY,
      deniedPorts: [
        { text: '6881-6889', first: 6881, last: 6889 },
        { text: '1214', first: 1214, last: 1214 },
      ],
    });
    const key = 'f'.repeat(32);
    await store.catalogue.putUser({ id: 13, passkey: key, upMultiplier: 1, downMultiplier: 1, enabled: true });
    const at = (port: number, event: AnnounceRequest['event'] = 'started') =>
      ports.announce(request({ passkey: key, peerId: Buffer.from('-qB4630-00000000pt01'), port, event }));
    const count = backend.records.length;
    await assert.rejects(at(6881), /^ClientError: port 6881 is denied on this tracker \(private\.denied_ports: 6881-6889\); use another port$/);
    await assert.rejects(at(6889), /6881-6889/);
    await assert.rejects(at(1214), /private\.denied_ports: 1214\)/);
    assert.equal(backend.records.length, count, 'refused: nothing accounted');
    await at(6890);
    await at(6880, 'none');
    await at(6885, 'stopped');
    assert.deepEqual(
      backend.records.slice(count).map((r) => [r.event, r.port]),
      [
        ['started', 6890],
        ['none', 6880],
        ['stopped', 6885],
      ],
    );
    await tracker.announce(request({ passkey: key, peerId: Buffer.from('-qB4630-00000000pt02'), port: 6881, event: 'started' }));
  });

  it('refuses a User-Agent of private.denied_user_agents, naming the rule; no User-Agent (UDP) and a stop go through', async () => {
    const strict = new Tracker(store, backend, { ...POLICY, deniedUserAgents: new UserAgentRules(['^BitLord', 'Xunlei']) });
    const key = 'g'.repeat(32);
    await store.catalogue.putUser({ id: 14, passkey: key, upMultiplier: 1, downMultiplier: 1, enabled: true });
    const at = (userAgent: string | undefined, event: AnnounceRequest['event'] = 'started') =>
      strict.announce(request({ passkey: key, peerId: Buffer.from('-qB4630-00000000ua01'), userAgent, event }));
    await assert.rejects(at('BitLord/2.4'), /^ClientError: your client is denied on this tracker \(private\.denied_user_agents: \^BitLord\)$/);
    await assert.rejects(at('Thunder xunlei 7'), /denied_user_agents: Xunlei\)/);
    await at('qBittorrent/4.6.3');
    await at(undefined, 'none');
    await at('BitLord/2.4', 'stopped');
    const publicMode = new Tracker(store, null, { ...POLICY, private: false, deniedUserAgents: new UserAgentRules(['^BitLord']) });
    await publicMode.announce(request({ passkey: undefined, userAgent: 'BitLord/2.4' }));
  });

  it('answers a user past private.peer_list_budget without peers, still tracking and crediting it, and says so to the observer', async () => {
    let withheld = 0;
    const observer = { overBudget: () => {}, tooSoon: () => {}, notStored: () => {}, peerListWithheld: () => void withheld++, tokenEnded: () => {} };
    const limited = new Tracker(store, backend, { ...POLICY, peerListBudget: { budget: 2, windowSeconds: 3600 } }, observer);
    const swarm = randomBytes(20);
    await store.catalogue.putTorrent({ infoHash: swarm, id: 106, upMultiplier: 1, downMultiplier: 1, freeleech: false });
    const key = 'h'.repeat(32);
    await store.catalogue.putUser({ id: 15, passkey: key, upMultiplier: 1, downMultiplier: 1, enabled: true });
    await tracker.announce(
      request({ infoHash: swarm, peerId: Buffer.from('-qB4630-00000000pl00'), sourceIp: Buffer.from([10, 9, 9, 9]), left: 0, event: 'started' }),
    );
    const mine = (uploaded: number, numwant = 10) =>
      limited.announce(
        request({ infoHash: swarm, passkey: key, peerId: Buffer.from('-qB4630-00000000pl01'), uploaded, numwant, event: uploaded === 0 ? 'started' : 'none' }),
      );
    assert.equal((await mine(0)).peers4.length, 6);
    assert.equal((await mine(0, 0)).peers4.length, 0, 'an announce that asks for no peers spends nothing');
    assert.equal((await mine(100)).peers4.length, 6);
    const past = await mine(300);
    assert.deepEqual([past.peers4.length, past.complete, past.incomplete, withheld], [0, 1, 1, 1], 'counts, no peers');
    assert.deepEqual([last().userId, last().rawUploaded], [15, 200], 'and credited');
  });

  it('admits only approved clients when asked to', async () => {
    const strict = new Tracker(store, backend, { ...POLICY, approvedClientsOnly: true });
    await assert.rejects(strict.announce(request({})), /client is not approved/);
    await store.catalogue.putClient({ prefix: '-qB46', name: 'qBittorrent 4.6' });
    await strict.announce(request({ uploaded: 5 }));
    await assert.rejects(strict.announce(request({ peerId: Buffer.from('-TR3000-000000000001') })), /client is not approved/);
    await store.catalogue.putClient({ prefix: '-qB4630', name: 'qBittorrent 4.6.3', action: 'deny' });
    for (const t of [strict, tracker]) {
      await assert.rejects(t.announce(request({ uploaded: 6 })), /^ClientError: your client is denied on this tracker \(qBittorrent 4\.6\.3\)$/);
    }
    await strict.announce(request({ peerId: Buffer.from('-qB4640-000000000001') }));
    await store.catalogue.deleteClient('-qB4630');
  });
});
