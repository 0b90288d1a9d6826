/**
 * Conformance, hybrid torrents and per-user limits (private mode): a torrent registered with a second
 * (v2) info hash is served on both under its terms, in two swarms kept apart; a peer's totals are kept
 * per (user, torrent, peer_id), so the second announce of a pair (the same totals, on the other hash)
 * credits nothing, even when both run at once, and a completion counts one snatch; the same peer over
 * IPv4 and IPv6 is one peer; a user's peers per torrent are limited when asked.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { it } from 'node:test';
import { CatalogueConflict, type TorrentEntry } from '../store/catalogue.js';
import type { SwarmResult } from '../store/driver.js';
import { eventually, hex, peersOf, priv, swarmAnnounce, uid, v4Addr, v6Addr, type Announce, type ConformanceContext } from './harness.js';

let nextId = 700_000;

/** Adds this group's tests to the enclosing describe(), against the store that `ctx` holds. */
export function defineHybridTests(ctx: ConformanceContext): void {
  /** Registers a fresh hybrid torrent; returns its two hashes and id. */
  async function hybrid(terms: Partial<TorrentEntry> = {}): Promise<{ v1: Buffer; v2: Buffer; id: number }> {
    const v1 = randomBytes(20);
    const v2 = randomBytes(20);
    const id = nextId++;
    await ctx.store.catalogue.putTorrent({ infoHash: v1, infoHashV2: v2, id, upMultiplier: 1, downMultiplier: 1, freeleech: false, ...terms });
    return { v1, v2, id };
  }
  const on = (infoHash: Buffer, overrides: Announce): Promise<SwarmResult> => ctx.store.announce(swarmAnnounce(infoHash, overrides));

  it('registers a hybrid torrent under both hashes, and refuses a hash held by another torrent', async () => {
    const { v1, v2, id } = await hybrid({ upMultiplier: 2, freeleech: true });
    const expected = { infoHash: v1, infoHashV2: v2, id, upMultiplier: 2, downMultiplier: 1, freeleech: true };
    assert.deepEqual(await ctx.store.catalogue.getTorrent(v1), expected);
    assert.deepEqual(await ctx.store.catalogue.getTorrent(v2), expected, 'found by its v2 hash too');
    const other = randomBytes(20);
    await assert.rejects(
      ctx.store.catalogue.putTorrent({ infoHash: other, infoHashV2: v2, id: nextId++, upMultiplier: 1, downMultiplier: 1, freeleech: false }),
      CatalogueConflict,
    );
    await assert.rejects(
      ctx.store.catalogue.putTorrent({ infoHash: v2, id: nextId++, upMultiplier: 1, downMultiplier: 1, freeleech: false }),
      CatalogueConflict,
    );
    assert.equal(await ctx.store.catalogue.getTorrent(other), null, 'a refused registration writes nothing');
  });

  it("serves both hashes under the torrent's terms, in swarms of their own", async () => {
    const { v1, v2, id } = await hybrid({ downMultiplier: 0.5 });
    const user = uid();
    const onV1 = v4Addr();
    const onV2 = v4Addr();
    const a = await on(v1, { v4: onV1, seeder: true, access: priv(user, 0, 0) });
    const b = await on(v2, { v4: onV2, access: priv(user + 1, 0, 0) });
    assert.equal(a.refused, undefined);
    assert.equal(b.refused, undefined);
    assert.deepEqual(b.torrent, { id, upMultiplier: 1, downMultiplier: 0.5, freeleech: false });
    assert.deepEqual(peersOf(b.peers4), [], 'a v2-only peer does not get a v1-only one');
    assert.deepEqual([b.complete, b.incomplete], [0, 1]);
    const both = v4Addr();
    const c = await on(v2, { v4: both, access: priv(user + 2, 0, 0) });
    assert.deepEqual(peersOf(c.peers4), [hex(onV2)]);
    const [scrape1, scrape2] = await ctx.store.scrape([v1, v2]);
    assert.deepEqual([scrape1!.complete, scrape1!.incomplete, scrape2!.complete, scrape2!.incomplete], [1, 0, 0, 2]);
  });

  it('credits the second announce of a pair nothing: one set of totals per (user, torrent, peer_id)', async () => {
    const { v1, v2 } = await hybrid();
    const user = uid();
    const peerId = randomBytes(20);
    const addr = v4Addr();
    let r = await on(v1, { v4: addr, peerId, event: 'started', access: priv(user, 0, 0) });
    assert.equal(r.previous, null);
    r = await on(v2, { v4: addr, peerId, event: 'started', access: priv(user, 0, 0) });
    assert.deepEqual(r.previous, { uploaded: 0, downloaded: 0 }, 'the v2 announce finds the v1 one');
    r = await on(v2, { v4: addr, peerId, access: priv(user, 500, 700) });
    assert.deepEqual(r.previous, { uploaded: 0, downloaded: 0 });
    r = await on(v1, { v4: addr, peerId, access: priv(user, 500, 700) });
    assert.deepEqual(r.previous, { uploaded: 500, downloaded: 700 }, 'nothing new for the second of the pair');
    r = await on(v1, { v4: addr, peerId, event: 'stopped', access: priv(user, 600, 700) });
    assert.deepEqual(r.previous, { uploaded: 500, downloaded: 700 });
    r = await on(v2, { v4: addr, peerId, event: 'stopped', access: priv(user, 600, 700) });
    assert.equal(r.previous, null, 'after the pair stopped on one hash, the other has no totals to credit from');
  });

  it('swaps the totals once when both announces of a pair arrive at the same moment', async () => {
    const { v1, v2 } = await hybrid();
    for (let round = 0; round < 20; round++) {
      const user = uid();
      const peerId = randomBytes(20);
      const addr = v4Addr();
      await on(v1, { v4: addr, peerId, event: 'started', access: priv(user, 0, 0) });
      const [x, y] = await Promise.all([
        on(v1, { v4: addr, peerId, access: priv(user, 1000, 2000) }),
        on(v2, { v4: addr, peerId, access: priv(user, 1000, 2000) }),
      ]);
      const previous = [x.previous, y.previous].map((p) => `${p?.uploaded}:${p?.downloaded}`).sort();
      assert.deepEqual(previous, ['0:0', '1000:2000'], 'one of the two credits the bytes, the other nothing');
    }
  });

  it('counts one snatch per torrent when a peer completes on both hashes', async () => {
    const { v1, v2 } = await hybrid();
    const user = uid();
    const peerId = randomBytes(20);
    const addr = v4Addr();
    await on(v1, { v4: addr, peerId, event: 'started', access: priv(user, 0, 0) });
    await on(v2, { v4: addr, peerId, event: 'started', access: priv(user, 0, 0) });
    const first = await on(v2, { v4: addr, peerId, event: 'completed', seeder: true, access: priv(user, 0, 100) });
    const second = await on(v1, { v4: addr, peerId, event: 'completed', seeder: true, access: priv(user, 0, 100) });
    assert.deepEqual([first.snatched, second.snatched], [true, false]);
    assert.deepEqual([first.downloaded, second.downloaded], [1, 1]);
    assert.equal(second.complete, 1, 'the peer is a seeder in the v1 swarm all the same');
    const [s1, s2] = await ctx.store.scrape([v1, v2]);
    assert.deepEqual([s1!.downloaded, s2!.downloaded], [1, 1], "both hashes show the torrent's snatches");
    const other = await on(v1, { v4: v4Addr(), event: 'completed', seeder: true, access: priv(uid(), 0, 100) });
    assert.deepEqual([other.snatched, other.downloaded], [true, 2], 'another peer counts its own');
  });

  it('forgets a v2 hash that the torrent no longer has, or a deleted torrent', async () => {
    const { v1, v2, id } = await hybrid();
    const user = uid();
    await on(v2, { v4: v4Addr(), access: priv(user, 0, 0) });
    const v2b = randomBytes(20);
    await ctx.store.catalogue.putTorrent({ infoHash: v1, infoHashV2: v2b, id, upMultiplier: 1, downMultiplier: 1, freeleech: false });
    assert.equal((await on(v2, { v4: v4Addr(), access: priv(user, 0, 0) })).refused, 'unregistered');
    assert.equal((await on(v2b, { v4: v4Addr(), access: priv(user, 0, 0) })).refused, undefined);
    assert.equal(await ctx.store.catalogue.getTorrent(v2), null);
    assert.equal(await ctx.store.catalogue.deleteTorrent(v1), true);
    assert.equal((await on(v2b, { v4: v4Addr(), access: priv(user, 0, 0) })).refused, 'unregistered');
    assert.equal(await ctx.store.catalogue.getTorrent(v2b), null);
  });

  it('refuses a v2 hash on the deny list', async () => {
    const { v2 } = await hybrid();
    assert.equal((await on(v2, { v4: v4Addr(), access: priv(uid(), 0, 0) })).refused, undefined);
    await ctx.store.catalogue.addHash('deny', v2);
    await eventually(async () => (await on(v2, { v4: v4Addr(), access: priv(uid(), 0, 0) })).refused === 'denied', 'a denied v2 hash');
    await ctx.store.catalogue.removeHash('deny', v2);
  });

  it('credits the same peer over IPv4 and IPv6 once (dual-stack, same peer_id)', async () => {
    const { v1 } = await hybrid();
    const user = uid();
    const peerId = randomBytes(20);
    const four = v4Addr();
    const six = v6Addr();
    await on(v1, { v4: four, peerId, event: 'started', access: priv(user, 0, 0) });
    await on(v1, { v6: six, peerId, event: 'started', access: priv(user, 0, 0) });
    let r = await on(v1, { v4: four, peerId, access: priv(user, 300, 400) });
    assert.deepEqual(r.previous, { uploaded: 0, downloaded: 0 });
    r = await on(v1, { v6: six, peerId, access: priv(user, 300, 400) });
    assert.deepEqual(r.previous, { uploaded: 300, downloaded: 400 }, 'the IPv6 announce of the same totals credits nothing');
    assert.deepEqual([r.complete, r.incomplete], [0, 2], "yet the peer is in both families' swarms");
  });

  it("limits a user's peers per torrent: a new one beyond is refused, known ones pass, on either hash", async () => {
    const { v1, v2 } = await hybrid();
    const user = uid();
    const limited = (uploaded: number) => ({ ...priv(user, uploaded, 0), peerLimit: 2 });
    const [a, b, c] = [randomBytes(20), randomBytes(20), randomBytes(20)];
    const [addrA, addrB, addrC] = [v4Addr(), v4Addr(), v4Addr()];
    assert.equal((await on(v1, { v4: addrA, peerId: a, event: 'started', access: limited(0) })).refused, undefined);
    assert.equal((await on(v2, { v4: addrA, peerId: a, event: 'started', access: limited(0) })).refused, undefined, 'the same peer on the v2 hash');
    assert.equal((await on(v1, { v6: v6Addr(), peerId: a, access: limited(0) })).refused, undefined, 'and over IPv6');
    assert.equal((await on(v1, { v4: addrB, peerId: b, event: 'started', access: limited(0) })).refused, undefined);
    const refused = await on(v2, { v4: addrC, peerId: c, event: 'started', access: limited(0) });
    assert.equal(refused.refused, 'peer_limit');
    assert.equal(
      (await on(v1, { v4: v4Addr(), access: priv(uid(), 0, 0), seeder: true })).incomplete,
      3,
      'the refused peer was not added (A over IPv4 and IPv6, B)',
    );
    assert.equal((await on(v1, { v4: addrB, peerId: b, access: limited(5) })).refused, undefined, 'a re-announce passes');
    assert.equal((await on(v1, { v4: v4Addr(), access: { ...priv(user + 1, 0, 0), peerLimit: 2 } })).refused, undefined, 'other users have their own count');
    await on(v1, { v4: addrA, peerId: a, event: 'stopped', access: limited(0) });
    assert.equal((await on(v2, { v4: addrC, peerId: c, event: 'started', access: limited(0) })).refused, undefined, 'room again after a stop');
  });

  it("returns a user's own other peers only when asked (access.ownPeers), never the announcer itself", async () => {
    const { v1 } = await hybrid();
    const me = uid();
    const mine = [v4Addr(), v4Addr()];
    for (const v4 of mine) await on(v1, { v4, seeder: true, access: priv(me, 0, 0) });
    const self = v4Addr();
    const left = await on(v1, { v4: self, access: priv(me, 0, 0) });
    assert.deepEqual(peersOf(left.peers4), [], 'left out by default');
    const given = await on(v1, { v4: self, access: { ...priv(me, 0, 0), ownPeers: true } });
    assert.deepEqual(new Set(peersOf(given.peers4)), new Set(mine.map(hex)), 'given when asked, without the announcer');
    const seederSelf = await on(v1, { v4: mine[0]!, seeder: true, access: { ...priv(me, 0, 0), ownPeers: true } });
    assert.deepEqual(peersOf(seederSelf.peers4), [hex(self)], 'a seeder gets its own leecher, not itself');
  });
}
