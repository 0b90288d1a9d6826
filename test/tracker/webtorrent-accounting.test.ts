/**
 * Private mode's accounting of WebTorrent announces in the WebTorrentTracker, over the memory store: the
 * same deltas, multipliers, snatches and record as a compact announce's (test/tracker/accounting.test.ts),
 * one set of totals with the compact swarms, and the per-user limits.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { UNKNOWN_LEFT, type AccountingRecord } from '../../src/backend/driver.js';
import { loadConfig } from '../../src/config/config.js';
import { MemoryStore } from '../../src/store/memory/store.js';
import { Tracker, trackerPolicy, type TrackerPolicy } from '../../src/tracker/tracker.js';
import { WebTorrentTracker, type WebTorrentAnnounceRequest } from '../../src/tracker/webtorrent.js';
import { KeepingBackend } from '../helpers/accounting.js';

const POLICY: TrackerPolicy = { ...trackerPolicy(loadConfig()), intervalJitter: 0, private: true, minIntervalEnforcement: 'off' };

describe('private mode accounting of WebTorrent announces', () => {
  let store: MemoryStore;
  let backend: KeepingBackend;
  let tracker: Tracker;
  let rtc: WebTorrentTracker;
  const infoHash = randomBytes(20);
  const passkey = 'w'.repeat(32);
  const peerId = '-WW0208-' + 'a'.repeat(12);

  before(async () => {
    store = new MemoryStore({ peerTtlMs: 60_000, reapIntervalMs: 1000 });
    backend = new KeepingBackend();
    tracker = new Tracker(store, backend, POLICY);
    rtc = new WebTorrentTracker(tracker, store.webtorrent, 120);
    await store.catalogue.putUser({ id: 7, passkey, upMultiplier: 2, downMultiplier: 1, enabled: true });
    await store.catalogue.putTorrent({ infoHash, id: 99, upMultiplier: 1, downMultiplier: 0.5, freeleech: false });
  });
  after(() => store.close());

  const request = (overrides: Partial<WebTorrentAnnounceRequest>): WebTorrentAnnounceRequest => ({
    infoHash: infoHash.toString('latin1'),
    peerId,
    uploaded: 0,
    downloaded: 0,
    left: 1000,
    event: 'none',
    offers: 0,
    numwant: undefined,
    passkey,
    clientAddress: Buffer.from([10, 0, 0, 9]).toString('hex'),
    ...overrides,
  });
  const last = (): AccountingRecord => backend.records.at(-1)!;
  const deltas = (): number[] => [last().rawUploaded, last().rawDownloaded, last().uploaded, last().downloaded];

  it('refuses without a passkey, with an unknown one, and an unregistered torrent, accounting nothing', async () => {
    await assert.rejects(rtc.announce(request({ passkey: undefined })), /private tracker/);
    await assert.rejects(rtc.announce(request({ passkey: 'nope' })), /unknown passkey/);
    await assert.rejects(rtc.announce(request({ infoHash: randomBytes(20).toString('latin1') })), /unregistered torrent/);
    assert.equal(backend.records.length, 0);
  });

  it("hands the backend each announce's delta, multiplied, in the compact records' shape", async () => {
    await rtc.announce(request({ event: 'started' }));
    assert.deepEqual(deltas(), [0, 0, 0, 0]);
    await rtc.announce(request({ uploaded: 1000, downloaded: 4000 }));
    assert.deepEqual(deltas(), [1000, 4000, 2000, 2000]);
    const record = last();
    const started = backend.records.at(-2)!;
    // The session opened by the started announce: its record id names the epoch, counted from 0.
    assert.deepEqual(record.session, { epoch: started.id, seq: 2, baseUploaded: 0, baseDownloaded: 0, open: false, completed: false });
    assert.deepEqual(
      { ...record, id: '', time: 0, session: undefined, infoHash: record.infoHash.toString('hex'), peerId: record.peerId.toString('latin1') },
      {
        id: '',
        userId: 7,
        torrentId: 99,
        infoHash: infoHash.toString('hex'),
        peerId,
        event: 'none',
        rawUploaded: 1000,
        rawDownloaded: 4000,
        uploaded: 2000,
        downloaded: 2000,
        left: 1000,
        snatched: false,
        time: 0,
        ipv4: '10.0.0.9',
        ipv6: '',
        port: 0,
        reportedUploaded: 1000,
        reportedDownloaded: 4000,
        interval: 120,
        upMultiplier: 2,
        downMultiplier: 0.5,
        session: undefined,
        transport: 'webtorrent',
      },
    );
    assert.ok(Math.abs(record.time - Date.now()) < 5000);
    assert.equal(new Set(backend.records.map((r) => r.id)).size, backend.records.length, 'unique ids');
  });

  it('counts a counter that went backwards from zero, and a left it does not know as UNKNOWN_LEFT', async () => {
    await rtc.announce(request({ uploaded: 300, downloaded: 10, left: undefined }));
    assert.deepEqual(deltas().slice(0, 2), [300, 10]);
    assert.equal(last().left, UNKNOWN_LEFT);
  });

  it('marks the snatch once, and counts nothing downloaded under freeleech', async () => {
    await rtc.announce(request({ event: 'completed', left: 0, uploaded: 300, downloaded: 20 }));
    assert.deepEqual([last().snatched, last().downloaded], [true, 5]);
    await rtc.announce(request({ event: 'completed', left: 0, uploaded: 300, downloaded: 20 }));
    assert.equal(last().snatched, false, 'a seeder completing again is no snatch');
    await store.catalogue.setGlobalFreeleech(true);
    await rtc.announce(request({ left: 0, uploaded: 400, downloaded: 120 }));
    assert.deepEqual([last().rawDownloaded, last().downloaded, last().uploaded], [100, 0, 200]);
    await store.catalogue.setGlobalFreeleech(false);
  });

  it('accounts the stop and forgets the totals, so a new start counts from zero', async () => {
    await rtc.announce(request({ event: 'stopped', left: 0, uploaded: 450, downloaded: 120 }));
    assert.deepEqual([last().event, last().rawUploaded], ['stopped', 50]);
    await rtc.announce(request({ event: 'started', uploaded: 5 }));
    assert.deepEqual([last().event, last().rawUploaded], ['started', 5]);
  });

  it('sets only a baseline for a peer it does not know unless it says started', async () => {
    const other = '-WW0208-' + 'b'.repeat(12);
    await rtc.announce(request({ peerId: other, uploaded: 5_000_000, downloaded: 7_000_000 }));
    assert.deepEqual(deltas(), [0, 0, 0, 0]);
    await rtc.announce(request({ peerId: other, uploaded: 5_000_400, downloaded: 7_000_000 }));
    assert.deepEqual(deltas().slice(0, 2), [400, 0]);
  });

  it('credits a client announcing one peer_id over HTTP and WebSocket once (WebTorrent desktop)', async () => {
    const id = '-WD0100-' + 'c'.repeat(12);
    const compact = (uploaded: number, event: 'started' | 'none' = 'none') =>
      tracker.announce({
        infoHash,
        peerId: Buffer.from(id, 'latin1'),
        port: 6881,
        uploaded,
        downloaded: 0,
        left: 0,
        event,
        numwant: 10,
        compact: true,
        noPeerId: true,
        sourceIp: Buffer.from([10, 0, 0, 10]),
        passkey,
      });
    await compact(0, 'started');
    await rtc.announce(request({ peerId: id, event: 'started', left: 0 }));
    await compact(1000);
    assert.equal(last().rawUploaded, 1000);
    await rtc.announce(request({ peerId: id, uploaded: 1000, left: 0 }));
    assert.equal(last().rawUploaded, 0, 'the same totals over the other transport credit nothing');
    await rtc.announce(request({ peerId: id, uploaded: 1600, left: 0 }));
    await compact(1600);
    assert.deepEqual(
      backend.records.slice(-2).map((r) => [r.transport ?? 'compact', r.rawUploaded]),
      [
        ['webtorrent', 600],
        ['compact', 0],
      ],
    );
  });

  it('applies the per-user peer limit and the address limit with the same failure reasons', async () => {
    const limited = new WebTorrentTracker(new Tracker(store, backend, { ...POLICY, peersPerTorrent: 1 }), store.webtorrent, 120);
    const hash = randomBytes(20);
    await store.catalogue.putTorrent({ infoHash: hash, id: 100, upMultiplier: 1, downMultiplier: 1, freeleech: false });
    const before = backend.records.length;
    await limited.announce(request({ infoHash: hash.toString('latin1'), peerId: '-WW0208-' + 'd'.repeat(12), event: 'started' }));
    await assert.rejects(
      limited.announce(request({ infoHash: hash.toString('latin1'), peerId: '-WW0208-' + 'e'.repeat(12), event: 'started' })),
      /your account already runs 1 peers on this torrent/,
    );
    assert.equal(backend.records.length, before + 1, 'the refused announce is not accounted');
    const strict = new WebTorrentTracker(
      new Tracker(store, backend, { ...POLICY, addressLimits: { windowSeconds: 60, limit: 1, enforce: true } }),
      store.webtorrent,
      120,
    );
    await store.catalogue.putUser({ id: 8, passkey: 'x'.repeat(32), upMultiplier: 1, downMultiplier: 1, enabled: true });
    await strict.announce(request({ passkey: 'x'.repeat(32), peerId: '-WW0208-' + 'f'.repeat(12), clientAddress: '0a000001' }));
    await assert.rejects(
      strict.announce(request({ passkey: 'x'.repeat(32), peerId: '-WW0208-' + 'g'.repeat(12), clientAddress: '0a000002' })),
      /addresses already/,
    );
  });

  it('refuses a user without download rights a leeching announce (an unknown left too), not a seeding one or a stop', async () => {
    const key = 'r'.repeat(32);
    await store.catalogue.putUser({ id: 12, passkey: key, upMultiplier: 1, downMultiplier: 1, enabled: true, canLeech: false });
    const id = '-WW0208-' + 'r'.repeat(12);
    await assert.rejects(rtc.announce(request({ passkey: key, peerId: id, event: 'started', left: 10 })), /^ClientError: downloading disabled$/);
    await assert.rejects(rtc.announce(request({ passkey: key, peerId: id, event: 'started', left: undefined })), /downloading disabled/);
    const count = backend.records.length;
    await rtc.announce(request({ passkey: key, peerId: id, event: 'started', left: 0 }));
    await rtc.announce(request({ passkey: key, peerId: id, event: 'stopped', left: 10 }));
    assert.deepEqual(
      backend.records.slice(count).map((r) => [r.userId, r.event]),
      [
        [12, 'started'],
        [12, 'stopped'],
      ],
    );
  });

  it('tells a WebTorrent announce on a torrent deleted with a reason "torrent deleted: <reason>"', async () => {
    const deleted = randomBytes(20);
    await store.catalogue.putTorrent({ infoHash: deleted, id: 105, upMultiplier: 1, downMultiplier: 1, freeleech: false });
    await store.catalogue.deleteTorrent(deleted, { text: 'merged into 106', ttlSeconds: 60 });
    await assert.rejects(rtc.announce(request({ infoHash: deleted.toString('latin1') })), /^ClientError: torrent deleted: merged into 106$/);
  });
});
