/**
 * Conformance, swarm: registration, moves between leechers and seeders, events and the snatch count,
 * counts after the announce, IPv4 and IPv6 swarms kept apart, dual-stack announcers, peer ids, scrape,
 * full scrape (where offered), atomic concurrent announces.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { hex, peers6Of, peersOf, storeUnderTest, v4Addr, v6Addr, type ConformanceContext, type StoreFactory } from './harness.js';

/** Adds this group's tests to the enclosing describe(), against the store that `ctx` holds. */
export function defineSwarmTests(ctx: ConformanceContext): void {
  const { ann, fresh } = ctx;

  it('registers a first leecher and returns no peers to it', async () => {
    fresh();
    const r = await ann({ v4: v4Addr(), event: 'started' });
    assert.deepEqual([r.complete, r.incomplete, r.downloaded], [0, 1, 0]);
    assert.equal(r.peers4.length, 0);
    assert.equal(r.peers6.length, 0);
  });

  it('counts one snatch on completed, none on a repeated completed or on left=0', async () => {
    fresh();
    const a = v4Addr();
    await ann({ v4: a, event: 'started' });
    let r = await ann({ v4: a, event: 'completed', seeder: true });
    assert.deepEqual([r.complete, r.incomplete, r.downloaded], [1, 0, 1]);
    r = await ann({ v4: a, event: 'completed', seeder: true });
    assert.equal(r.downloaded, 1, 'a seeder completing again is not a new snatch');
    r = await ann({ v4: v4Addr(), seeder: true });
    assert.deepEqual([r.complete, r.incomplete, r.downloaded], [2, 0, 1], 'left=0 makes a seeder without a snatch');
    r = await ann({ v4: v4Addr(), event: 'completed', seeder: true });
    assert.deepEqual([r.complete, r.downloaded], [3, 2], 'completed from a peer never seen counts');
  });

  it('moves a leecher to the seeders when left reaches 0, and back when it leeches again', async () => {
    fresh();
    const a = v4Addr();
    await ann({ v4: a });
    let r = await ann({ v4: a, seeder: true });
    assert.deepEqual([r.complete, r.incomplete, r.downloaded], [1, 0, 0]);
    r = await ann({ v4: a, seeder: false });
    assert.deepEqual([r.complete, r.incomplete], [0, 1]);
  });

  it('removes a stopped peer, returns it no peers, and keeps the snatch count', async () => {
    fresh();
    const a = v4Addr();
    const b = v4Addr();
    await ann({ v4: a, event: 'completed', seeder: true });
    await ann({ v4: b });
    const r = await ann({ v4: a, event: 'stopped', seeder: true, numwant: 0 });
    assert.equal(r.peers4.length, 0);
    assert.deepEqual([r.complete, r.incomplete, r.downloaded], [0, 1, 1]);
    const seen = await ann({ v4: v4Addr() });
    assert.deepEqual(peersOf(seen.peers4), [hex(b)]);
    await ann({ v4: b, event: 'stopped' });
    const [counts] = await ctx.store.scrape([ctx.hash]);
    assert.deepEqual(counts, { complete: 0, incomplete: 1, downloaded: 1 });
  });

  it('a stopped peer that was never there changes nothing', async () => {
    fresh();
    const r = await ann({ v4: v4Addr(), event: 'stopped' });
    assert.deepEqual([r.complete, r.incomplete, r.downloaded], [0, 0, 0]);
    const [counts] = await ctx.store.scrape([ctx.hash]);
    assert.deepEqual(counts, { complete: 0, incomplete: 0, downloaded: 0 });
  });

  it('keeps IPv4 and IPv6 swarms apart', async () => {
    fresh();
    const a4 = v4Addr();
    const b6 = v6Addr();
    await ann({ v4: a4 });
    const r6 = await ann({ v6: b6 });
    assert.equal(r6.peers4.length, 0, 'an IPv6-only announcer that wants IPv6 only gets no IPv4 peers');
    assert.equal(r6.peers6.length, 0);
    const c6 = v6Addr();
    const r = await ann({ v6: c6 });
    assert.deepEqual(peers6Of(r.peers6), [hex(b6)]);
    assert.deepEqual([r.complete, r.incomplete], [0, 3], 'counts add both families');
  });

  it('registers a dual-stack announcer in both swarms and fills its own families first', async () => {
    fresh();
    const p4 = v4Addr();
    const p6 = v6Addr();
    await ann({ v4: p4 });
    await ann({ v6: p6 });
    const dual = await ann({ v4: v4Addr(), v6: v6Addr(), want4: true, want6: true });
    assert.deepEqual(peersOf(dual.peers4), [hex(p4)]);
    assert.deepEqual(peers6Of(dual.peers6), [hex(p6)]);
    const onlyV4 = await ann({ v4: v4Addr(), want4: true, want6: true, numwant: 1 });
    assert.equal(onlyV4.peers4.length / 6 + onlyV4.peers6.length / 18, 1, 'numwant is the total across families');
    assert.equal(onlyV4.peers4.length, 6, "the announcer's own family is filled first");
    const other = await ann({ v4: v4Addr(), want4: true, want6: true, numwant: 50 });
    assert.equal(other.peers6.length, 2 * 18, 'other families take what numwant leaves');
  });

  it('returns peer ids aligned with the peers when asked', async () => {
    fresh();
    const id = randomBytes(20);
    const a = v4Addr();
    await ctx.store.announce({
      infoHash: ctx.hash,
      peerId: id,
      v4: a,
      seeder: false,
      event: 'none',
      numwant: 50,
      want4: true,
      want6: false,
      subnet4: 0,
      subnet6: 0,
      withPeerIds: false,
    });
    const r = await ann({ v4: v4Addr(), withPeerIds: true });
    assert.deepEqual(peersOf(r.peers4), [hex(a)]);
    assert.ok(r.peerIds4, 'peer ids are returned');
    const known = r.peerIds4!.subarray(0, 20);
    assert.ok(known.equals(id) || known.equals(Buffer.alloc(20)), "the id is the peer's, or all zero where the driver does not keep ids");
  });

  it('scrapes several hashes in order, unknown ones as zero', async () => {
    fresh();
    const first = ctx.hash;
    await ann({ v4: v4Addr(), seeder: true });
    await ann({ v4: v4Addr() });
    await ann({ v4: v4Addr() });
    fresh();
    const second = ctx.hash;
    await ann({ v4: v4Addr(), event: 'completed', seeder: true });
    const counts = await ctx.store.scrape([second, randomBytes(20), first]);
    assert.deepEqual(counts, [
      { complete: 1, incomplete: 0, downloaded: 1 },
      { complete: 0, incomplete: 0, downloaded: 0 },
      { complete: 1, incomplete: 2, downloaded: 0 },
    ]);
  });

  it('a full scrape, where offered, lists each live swarm with the counts its own scrape gives, up to the limit', async (t) => {
    const store = ctx.store;
    if (!store.scrapeAll) return t.skip('the driver offers no full scrape (scrapeAll)');
    const live: Buffer[] = [];
    for (let i = 0; i < 3; i++) {
      fresh();
      live.push(ctx.hash);
      await ann({ v4: v4Addr(), event: 'completed', seeder: true });
      for (let j = 0; j < i; j++) await ann({ v6: v6Addr() });
    }
    fresh();
    const gone = ctx.hash;
    const a = v4Addr();
    await ann({ v4: a, event: 'completed', seeder: true });
    await ann({ v4: a, event: 'stopped', seeder: true });
    const files = await store.scrapeAll(1_000_000);
    const listed = new Map(files.map((f) => [hex(f.infoHash), f.counts]));
    assert.equal(listed.size, files.length, 'each swarm once');
    const counts = await store.scrape(live);
    assert.deepEqual(
      live.map((h) => listed.get(hex(h))),
      counts,
    );
    assert.deepEqual(counts[2], { complete: 1, incomplete: 2, downloaded: 1 });
    assert.equal(listed.has(hex(gone)), false, 'a swarm whose peers all stopped is not listed (its snatch count is)');
    assert.equal((await store.scrapeAll(2)).length, 2, 'no more than the limit');
  });

  it('applies concurrent announces atomically', async () => {
    fresh();
    const results = await Promise.all(Array.from({ length: 200 }, () => ann({ v4: v4Addr(), numwant: 5 })));
    const [counts] = await ctx.store.scrape([ctx.hash]);
    assert.equal(counts!.incomplete, 200);
    for (const r of results) assert.ok(r.incomplete >= 1 && r.incomplete <= 200);
    assert.equal(Math.max(...results.map((r) => r.incomplete)), 200);
  });
}

/** This group of the conformance suite on its own, against a store of its own. */
export function swarmSuite(driverName: string, open: StoreFactory): void {
  describe(`tracker driver conformance, swarm: ${driverName}`, () => {
    defineSwarmTests(storeUnderTest(open));
  });
}
