/**
 * Conformance, WebRTC (WebTorrent) swarms and signal delivery: the obligations of TrackerStore.webrtc
 * (src/tracker/webrtc-driver.ts), for a driver that offers it. About 5 seconds of waiting (expiry).
 *
 *   import { webrtcSuite } from 'shoal/testing';
 *   webrtcSuite('mine', ({ peerTtl }) => myDriver.open({}, { peerTtl, logger }));
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RtcAnnounce, RtcResult, RtcSignal, RtcSwarms } from '../tracker/webrtc-driver.js';
import { storeUnderTest, v4Addr, type ConformanceContext, type StoreFactory } from './harness.js';

/** A random 20-byte id as WebTorrent writes it (BinaryId). */
const newId = (): string => randomBytes(20).toString('latin1');
const ids = (result: RtcResult): string[] => result.peers.map((p) => p.peerId);

/** Adds this group's tests to the enclosing describe(), against the store that `ctx` holds. */
export function defineWebRtcTests(ctx: ConformanceContext): void {
  const { fresh } = ctx;
  const swarms = (): RtcSwarms => {
    const webrtc = ctx.store.webrtc;
    if (!webrtc) assert.fail('the store offers no WebRTC swarms (TrackerStore.webrtc)');
    return webrtc;
  };
  const rtc = (overrides: Partial<RtcAnnounce> = {}): Promise<RtcResult> =>
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

  it('delivers a signal sent to its own replica, and reports a replica no one listens as', async () => {
    const webrtc = swarms();
    const received: RtcSignal[] = [];
    await webrtc.onSignal((signal) => received.push(signal));
    const signal: RtcSignal = {
      kind: 'offer',
      infoHash: newId(),
      from: newId(),
      fromReplica: webrtc.replica,
      to: newId(),
      offerId: newId(),
      payload: JSON.stringify({ type: 'offer', sdp: 'v=0 ünïcode' }),
    };
    assert.equal(await webrtc.send(webrtc.replica, signal), true);
    const deadline = Date.now() + 2000;
    while (received.length === 0 && Date.now() < deadline) await sleep(10);
    assert.deepEqual(received, [signal]);
    assert.equal(await webrtc.send(`gone-${randomBytes(4).toString('hex')}`, { ...signal, kind: 'answer' }), false);
  });
}

/** This group of the conformance suite on its own, against a store of its own. */
export function webrtcSuite(driverName: string, open: StoreFactory): void {
  describe(`tracker driver conformance, webrtc: ${driverName}`, () => {
    defineWebRtcTests(storeUnderTest(open));
  });
}
