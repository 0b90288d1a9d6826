/**
 * Conformance, WebRTC (WebTorrent) swarms and signal delivery: the obligations of TrackerStore.webtorrent
 * (src/store/webtorrent-driver.ts), for a driver that offers it, private mode's accounting among them
 * (totals shared with the compact swarms, snatches, the per-user peer limit). About 5 seconds of
 * waiting (expiry).
 *
 *   import { webTorrentSuite } from 'shoal/testing';
 *   webTorrentSuite('mine', ({ peerTtl }) => myDriver.open({}, { peerTtl, logger }));
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WebTorrentAnnounce, WebTorrentResult, WebTorrentSignal, WebTorrentSwarms } from '../store/webtorrent-driver.js';
import { priv, storeUnderTest, uid, v4Addr, type ConformanceContext, type StoreFactory } from './harness.js';

/** A random 20-byte id as WebTorrent writes it (BinaryId). */
const newId = (): string => randomBytes(20).toString('latin1');
const ids = (result: WebTorrentResult): string[] => result.peers.map((p) => p.peerId);

/** Adds this group's tests to the enclosing describe(), against the store that `ctx` holds. */
export function defineWebTorrentTests(ctx: ConformanceContext): void {
  const { fresh } = ctx;
  const swarms = (): WebTorrentSwarms => {
    const webtorrent = ctx.store.webtorrent;
    if (!webtorrent) assert.fail('the store offers no WebRTC swarms (TrackerStore.webtorrent)');
    return webtorrent;
  };
  const rtc = (overrides: Partial<WebTorrentAnnounce> = {}): Promise<WebTorrentResult> =>
    swarms().announce({ infoHash: ctx.hash.toString('latin1'), peerId: newId(), seeder: false, event: 'none', numwant: 10, ...overrides });
  const counts = async (): Promise<number[]> => {
    const [c] = await swarms().scrape([ctx.hash.toString('latin1')]);
    return [c!.complete, c!.incomplete, c!.downloaded];
  };

  it('registers peers by peer_id and counts seeders and leechers after the announce', async () => {
    fresh();
    const seeder = newId();
    let r = await rtc({ peerId: seeder, seeder: true, event: 'started' });
    assert.deepEqual([r.complete, r.incomplete], [1, 0]);
    r = await rtc({ event: 'started' });
    assert.deepEqual([r.complete, r.incomplete], [1, 1]);
    r = await rtc({ peerId: seeder, seeder: true });
    assert.deepEqual([r.complete, r.incomplete], [1, 1], 'a refresh is not a new peer');
    assert.deepEqual(await counts(), [1, 1, 0]);
  });

  it('picks up to numwant distinct other peers, each with its replica, never the announcer', async () => {
    fresh();
    const members = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const id = newId();
      members.add(id);
      await rtc({ peerId: id, numwant: 0 });
    }
    const me = newId();
    const r = await rtc({ peerId: me, numwant: 4 });
    assert.equal(r.peers.length, 4);
    assert.equal(new Set(ids(r)).size, 4, 'distinct');
    for (const id of ids(r)) assert.ok(members.has(id), 'a member of the swarm');
    for (const peer of r.peers) assert.equal(peer.replica, swarms().replica, 'the replica that announced it');
    const all = await rtc({ peerId: me, numwant: 10 });
    assert.equal(all.peers.length, 6, 'every other peer, and not the announcer');
    assert.ok(!ids(all).includes(me));
  });

  it('picks at random, not the same peers every time', async () => {
    fresh();
    for (let i = 0; i < 10; i++) await rtc({ numwant: 0 });
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) for (const id of ids(await rtc({ numwant: 1 }))) seen.add(id);
    assert.ok(seen.size >= 4, `20 picks of 1 reached only ${seen.size} distinct peers`);
  });

  it('gives a seeder leechers only, and a leecher seeders first', async () => {
    fresh();
    const seeders = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const id = newId();
      seeders.add(id);
      await rtc({ peerId: id, seeder: true, numwant: 0 });
    }
    for (let i = 0; i < 3; i++) await rtc({ numwant: 0 });
    const seederId = newId();
    seeders.add(seederId);
    const fromSeeder = await rtc({ peerId: seederId, seeder: true, numwant: 10 });
    assert.equal(fromSeeder.peers.length, 3);
    for (const id of ids(fromSeeder)) assert.ok(!seeders.has(id), 'no seeder for a seeder');
    const fromLeecher = await rtc({ numwant: 4 });
    assert.deepEqual(new Set(ids(fromLeecher)), seeders, 'the seeders first');
  });

  it('stopped removes the peer and picks no one; completed counts one snatch, left = 0 none', async () => {
    fresh();
    const id = newId();
    await rtc({ numwant: 0 });
    await rtc({ peerId: id, event: 'started' });
    let r = await rtc({ peerId: id, seeder: true, event: 'completed' });
    assert.deepEqual([r.complete, r.incomplete, r.downloaded], [1, 1, 1]);
    r = await rtc({ peerId: id, seeder: true, event: 'completed' });
    assert.equal(r.downloaded, 1, 'a seeder completing again is no snatch');
    await rtc({ seeder: true });
    assert.deepEqual(await counts(), [2, 1, 1], 'left = 0 makes a seeder without a snatch');
    r = await rtc({ peerId: id, event: 'stopped', numwant: 10 });
    assert.deepEqual([r.complete, r.incomplete, r.peers.length], [1, 1, 0]);
  });

  it('keeps WebRTC peers and compact peers apart', async () => {
    fresh();
    await rtc({ seeder: true, numwant: 0 });
    const compact = await ctx.ann({ v4: v4Addr(), seeder: false });
    assert.equal(compact.peers4.length, 0, 'a compact announce gets no WebRTC peer');
    assert.equal(compact.complete, 0, 'nor counts one');
    const r = await rtc({ numwant: 10 });
    assert.deepEqual([r.complete, r.incomplete, r.peers.length], [1, 1, 1], 'the compact leecher is not in the WebRTC swarm');
  });

  it('refuses a denied or unregistered torrent and changes nothing', async () => {
    fresh();
    await ctx.store.catalogue.addHash('deny', ctx.hash);
    const denied = await rtc({ numwant: 5 });
    assert.equal(denied.refused, 'denied');
    await ctx.store.catalogue.removeHash('deny', ctx.hash);
    assert.deepEqual(await counts(), [0, 0, 0]);
    fresh();
    const unregistered = await rtc({ access: { requireRegistered: true, requireAllowed: false } });
    assert.equal(unregistered.refused, 'unregistered');
    const notAllowed = await rtc({ access: { requireRegistered: false, requireAllowed: true } });
    assert.equal(notAllowed.refused, 'not_allowed');
    assert.deepEqual(await counts(), [0, 0, 0]);
  });

  it('expires peers that stop announcing, with their routes (peer TTL 3 s, a second of lag allowed)', async () => {
    fresh();
    const stale = newId();
    const live = newId();
    await rtc({ peerId: stale, numwant: 0 });
    await sleep(2000);
    await rtc({ peerId: live, numwant: 0 });
    await sleep(2300);
    assert.deepEqual(await counts(), [0, 1, 0], 'only the peer seen within the TTL counts');
    const r = await rtc({ numwant: 10 });
    assert.deepEqual(ids(r), [live], 'and only it is picked');
  });

  const register = async (id: number, terms: { up?: number; down?: number; freeleech?: boolean } = {}): Promise<void> => {
    fresh();
    await ctx.store.catalogue.putTorrent({
      infoHash: ctx.hash,
      id,
      upMultiplier: terms.up ?? 1,
      downMultiplier: terms.down ?? 1,
      freeleech: terms.freeleech ?? false,
    });
  };

  it("private mode: swaps a peer's totals atomically, drops them on stopped, and answers the torrent's terms", async () => {
    await register(2 ** 40 + 11, { up: 2, down: 0.5, freeleech: true });
    const user = uid();
    const peerId = newId();
    let r = await rtc({ peerId, event: 'started', access: priv(user, 0, 0) });
    assert.equal(r.refused, undefined);
    assert.equal(r.previous, null, 'a new peer has no previous totals');
    assert.deepEqual(r.torrent, { id: 2 ** 40 + 11, upMultiplier: 2, downMultiplier: 0.5, freeleech: true });
    r = await rtc({ peerId, access: priv(user, 2 ** 40, 12345) });
    assert.deepEqual(r.previous, { uploaded: 0, downloaded: 0 });
    r = await rtc({ peerId, access: priv(user, 2 ** 41, 99999) });
    assert.deepEqual(r.previous, { uploaded: 2 ** 40, downloaded: 12345 });
    const other = await rtc({ peerId, access: priv(user + 1, 5, 5) });
    assert.equal(other.previous, null, 'another user with the same peer_id has totals of its own');
    r = await rtc({ peerId, event: 'stopped', access: priv(user, 2 ** 41 + 1, 99999) });
    assert.deepEqual(r.previous, { uploaded: 2 ** 41, downloaded: 99999 });
    assert.deepEqual([r.complete, r.incomplete], [0, 0], 'the stopped peer left the swarm (peers are kept by peer_id)');
    r = await rtc({ peerId, event: 'started', access: priv(user, 0, 0) });
    assert.equal(r.previous, null, 'a stopped peer starts afresh');
  });

  it('private mode: one set of totals per (user, torrent, peer_id), shared with the compact swarms', async () => {
    await register(21);
    const user = uid();
    const peerId = randomBytes(20);
    const addr = v4Addr();
    await ctx.ann({ v4: addr, peerId, event: 'started', access: priv(user, 0, 0) });
    await ctx.ann({ v4: addr, peerId, access: priv(user, 300, 400) });
    const r = await rtc({ peerId: peerId.toString('latin1'), access: priv(user, 300, 400) });
    assert.deepEqual(r.previous, { uploaded: 300, downloaded: 400 }, 'the WebSocket announce of the same totals credits nothing');
    const compact = await ctx.ann({ v4: addr, peerId, access: priv(user, 500, 400) });
    assert.deepEqual(compact.previous, { uploaded: 300, downloaded: 400 });
    assert.deepEqual([compact.complete, compact.incomplete], [0, 1], 'yet the swarms stay apart');
  });

  it('private mode: counts one snatch per peer and torrent and says so, whichever swarm it completes in', async () => {
    await register(22);
    const user = uid();
    const peerId = newId();
    assert.equal((await rtc({ peerId, event: 'started', access: priv(user, 0, 0) })).snatched, false);
    const done = await rtc({ peerId, seeder: true, event: 'completed', access: priv(user, 0, 100) });
    assert.deepEqual([done.snatched, done.downloaded], [true, 1]);
    const again = await rtc({ peerId, seeder: true, event: 'completed', access: priv(user, 0, 100) });
    assert.deepEqual([again.snatched, again.downloaded], [false, 1]);
    // A peer that completed in the compact swarm counts no second snatch here.
    const both = randomBytes(20);
    await ctx.ann({ v4: v4Addr(), peerId: both, event: 'completed', seeder: true, access: priv(user, 0, 100) });
    const late = await rtc({ peerId: both.toString('latin1'), event: 'completed', seeder: true, access: priv(user, 0, 100) });
    assert.deepEqual([late.snatched, late.downloaded], [false, 1]);
  });

  it('private mode: answers a retried announce (same id) as the first run did', async () => {
    await register(23);
    const user = uid();
    const peerId = newId();
    await rtc({ peerId, event: 'started', access: { ...priv(user, 0, 0), announceId: 'w1' } });
    const first = await rtc({ peerId, seeder: true, event: 'completed', access: { ...priv(user, 100, 200), announceId: 'w2' } });
    const again = await rtc({ peerId, seeder: true, event: 'completed', access: { ...priv(user, 100, 200), announceId: 'w2' } });
    assert.deepEqual([first.previous, first.snatched], [{ uploaded: 0, downloaded: 0 }, true]);
    assert.deepEqual([again.previous, again.snatched, again.downloaded], [{ uploaded: 0, downloaded: 0 }, true, 1], 'the first answer, no second snatch');
  });

  it("private mode: a user's WebRTC peers count against its peer limit; a new one beyond is refused and changes nothing", async () => {
    await register(24);
    const user = uid();
    const limited = { ...priv(user, 0, 0), peerLimit: 2 };
    const [a, b] = [newId(), newId()];
    assert.equal((await rtc({ peerId: a, event: 'started', access: limited })).refused, undefined);
    await ctx.ann({ v4: v4Addr(), peerId: randomBytes(20), event: 'started', access: limited });
    const refused = await rtc({ peerId: b, event: 'started', access: limited });
    assert.equal(refused.refused, 'peer_limit', 'one WebRTC and one compact peer: the limit of 2 is reached');
    assert.deepEqual(await counts(), [0, 1, 0], 'the refused peer was not added');
    assert.equal((await rtc({ peerId: a, access: limited })).refused, undefined, 'a re-announce passes');
    await rtc({ peerId: a, event: 'stopped', access: limited });
    assert.equal((await rtc({ peerId: b, event: 'started', access: limited })).refused, undefined, 'room again after a stop');
  });

  it("private mode: a hybrid torrent's v2 hash is no torrent here (unregistered)", async () => {
    fresh();
    const v2 = randomBytes(20);
    await ctx.store.catalogue.putTorrent({ infoHash: ctx.hash, infoHashV2: v2, id: 25, upMultiplier: 1, downMultiplier: 1, freeleech: false });
    const r = await swarms().announce({
      infoHash: v2.toString('latin1'),
      peerId: newId(),
      seeder: false,
      event: 'started',
      numwant: 5,
      access: priv(uid(), 0, 0),
    });
    assert.equal(r.refused, 'unregistered');
    assert.equal((await rtc({ access: priv(uid(), 0, 0) })).refused, undefined, 'its v1 hash is served');
  });

  it('delivers a signal sent to its own replica, and reports a replica no one listens as', async () => {
    const webtorrent = swarms();
    const received: WebTorrentSignal[] = [];
    await webtorrent.onSignal((signal) => received.push(signal));
    const signal: WebTorrentSignal = {
      kind: 'offer',
      infoHash: newId(),
      from: newId(),
      fromReplica: webtorrent.replica,
      to: newId(),
      offerId: newId(),
      sdp: Buffer.from(JSON.stringify('v=0 ünïcode'), 'utf8'),
    };
    assert.equal(await webtorrent.send(webtorrent.replica, signal), true);
    const deadline = Date.now() + 2000;
    while (received.length === 0 && Date.now() < deadline) await sleep(10);
    assert.deepEqual(received, [signal]);
    assert.equal(await webtorrent.send(`gone-${randomBytes(4).toString('hex')}`, { ...signal, kind: 'answer' }), false);
  });
}

/** This group of the conformance suite on its own, against a store of its own. */
export function webTorrentSuite(driverName: string, open: StoreFactory): void {
  describe(`tracker driver conformance, webtorrent: ${driverName}`, () => {
    defineWebTorrentTests(storeUnderTest(open));
  });
}
