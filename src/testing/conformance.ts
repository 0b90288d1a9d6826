/**
 * The tracker driver conformance suite: every obligation of the TrackerStore contract (src/tracker/driver.ts),
 * written against the contract only, so that every driver runs it unchanged.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CatalogueConflict } from '../tracker/catalogue.js';
import type { SwarmAccess, SwarmAnnounce, TrackerStore } from '../tracker/driver.js';

export type StoreFactory = (options: { peerTtl: number }) => Promise<TrackerStore>;

let portCounter = 1000;

/** A distinct IPv4 peer address (10.x.y.z) with its own port. */
export function v4Addr(a = 10, b = Math.floor(Math.random() * 256), c = Math.floor(Math.random() * 256), d = 1 + Math.floor(Math.random() * 254)): Buffer {
  const buf = Buffer.alloc(6);
  buf[0] = a; buf[1] = b; buf[2] = c; buf[3] = d;
  buf.writeUInt16BE(1024 + (portCounter++ % 60000), 4);
  return buf;
}

export function v6Addr(prefix = 0x2001): Buffer {
  const buf = Buffer.alloc(18);
  buf.writeUInt16BE(prefix, 0);
  randomBytes(14).copy(buf, 2);
  buf.writeUInt16BE(1024 + (portCounter++ % 60000), 16);
  return buf;
}

function split(packed: Buffer, size: number): string[] {
  const out: string[] = [];
  for (let o = 0; o < packed.length; o += size) out.push(packed.subarray(o, o + size).toString('hex'));
  return out;
}

export const peersOf = (packed: Buffer): string[] => split(packed, 6);
export const peers6Of = (packed: Buffer): string[] => split(packed, 18);
const hex = (b: Buffer): string => b.toString('hex');

export function conformanceSuite(driverName: string, open: StoreFactory): void {
  describe(`tracker driver conformance: ${driverName}`, () => {
    let store: TrackerStore;
    let hash: Buffer;
    const ann = (overrides: Partial<SwarmAnnounce> & { v4?: Buffer; v6?: Buffer }): Promise<import('../tracker/driver.js').SwarmResult> =>
      store.announce({
        infoHash: hash,
        peerId: randomBytes(20),
        seeder: false,
        event: 'none',
        numwant: 50,
        want4: overrides.v4 !== undefined || overrides.v6 === undefined,
        want6: overrides.v6 !== undefined,
        subnet4: 0,
        subnet6: 0,
        withPeerIds: false,
        ...overrides,
      });

    before(async () => {
      store = await open({ peerTtl: 3 });
    });
    after(async () => {
      await store.close();
    });
    const fresh = (): void => {
      hash = randomBytes(20);
    };

    it('becomes ready', async () => {
      const deadline = Date.now() + 10_000;
      while (!(await store.ready()) && Date.now() < deadline) await sleep(50);
      assert.equal(await store.ready(), true);
    });

    it('registers a first leecher and returns no peers to it', async () => {
      fresh();
      const r = await ann({ v4: v4Addr(), event: 'started' });
      assert.deepEqual([r.complete, r.incomplete, r.downloaded], [0, 1, 0]);
      assert.equal(r.peers4.length, 0);
      assert.equal(r.peers6.length, 0);
    });

    it('returns other peers, never the announcer itself', async () => {
      fresh();
      const a = v4Addr();
      const b = v4Addr();
      await ann({ v4: a });
      const r = await ann({ v4: b });
      assert.deepEqual(peersOf(r.peers4), [hex(a)]);
      const again = await ann({ v4: a });
      assert.deepEqual(peersOf(again.peers4), [hex(b)]);
      assert.equal(again.incomplete, 2, 're-announcing refreshes, it does not add');
    });

    it('gives a seeder leechers only', async () => {
      fresh();
      const seeders = [v4Addr(), v4Addr(), v4Addr()];
      const leechers = [v4Addr(), v4Addr()];
      for (const s of seeders) await ann({ v4: s, seeder: true });
      for (const l of leechers) await ann({ v4: l });
      const r = await ann({ v4: seeders[0]!, seeder: true });
      assert.deepEqual(peersOf(r.peers4).sort(), leechers.map(hex).sort());
      assert.deepEqual([r.complete, r.incomplete], [3, 2]);
    });

    it('gives a leecher seeders first, then leechers', async () => {
      fresh();
      const seeders = [v4Addr(), v4Addr(), v4Addr()];
      for (const s of seeders) await ann({ v4: s, seeder: true });
      for (let i = 0; i < 30; i++) await ann({ v4: v4Addr() });
      const me = v4Addr();
      const three = await ann({ v4: me, numwant: 3 });
      assert.deepEqual(peersOf(three.peers4).sort(), seeders.map(hex).sort());
      const ten = await ann({ v4: me, numwant: 10 });
      const got = peersOf(ten.peers4);
      assert.equal(got.length, 10);
      assert.deepEqual(got.slice(0, 3).sort(), seeders.map(hex).sort(), 'the seeders come first');
      assert.equal(new Set(got).size, 10, 'no duplicates');
      assert.ok(!got.includes(hex(me)));
    });

    it('honours numwant, including 0, and samples at random rather than the first N', async () => {
      fresh();
      const all = new Set<string>();
      for (let i = 0; i < 100; i++) {
        const a = v4Addr();
        all.add(hex(a));
        await ann({ v4: a });
      }
      const none = await ann({ v4: v4Addr(), numwant: 0 });
      assert.equal(none.peers4.length, 0);
      assert.equal(none.incomplete, 101);
      const me = v4Addr();
      const seen = new Set<string>();
      for (let round = 0; round < 20; round++) {
        const r = await ann({ v4: me, numwant: 10 });
        const got = peersOf(r.peers4);
        assert.equal(got.length, 10);
        assert.equal(new Set(got).size, 10);
        for (const p of got) {
          assert.ok(all.has(p) || p !== hex(me));
          seen.add(p);
        }
        assert.ok(!got.includes(hex(me)));
      }
      assert.ok(seen.size > 40, `20 samples of 10 from 101 peers should cover far more than 10 distinct peers (saw ${seen.size})`);
    });

    it('samples leechers at random after the seeders too, not the oldest ones', async () => {
      fresh();
      for (let i = 0; i < 30; i++) await ann({ v4: v4Addr(), seeder: true, numwant: 0 });
      const leechers = new Set<string>();
      for (let i = 0; i < 45; i++) {
        const a = v4Addr();
        leechers.add(hex(a));
        await ann({ v4: a, numwant: 0 });
      }
      const me = v4Addr();
      const seen = new Set<string>();
      for (let round = 0; round < 30; round++) {
        const got = peersOf((await ann({ v4: me, numwant: 50 })).peers4);
        assert.equal(got.length, 50);
        for (const p of got.slice(30)) seen.add(p);
      }
      assert.ok([...seen].every((p) => leechers.has(p)));
      assert.ok(seen.size > 30, `30 answers of 20 leechers out of 45 should cover most of them (saw ${seen.size})`);
    });

    it('returns every peer about as often as any other: no favoured or forgotten ones', async () => {
      // A window at a random offset that did not wrap around would return the oldest and the newest
      // peers a few times in 200 answers and the middle ones in most.
      fresh();
      const peers: string[] = [];
      for (let i = 0; i < 40; i++) {
        const a = v4Addr();
        peers.push(hex(a));
        await ann({ v4: a, numwant: 0 });
      }
      const me = v4Addr();
      const times = new Map(peers.map((p) => [p, 0]));
      for (let round = 0; round < 200; round++) {
        for (const p of peersOf((await ann({ v4: me, numwant: 10 })).peers4)) times.set(p, times.get(p)! + 1);
      }
      const counts = [...times.values()];
      assert.equal(counts.reduce((a, b) => a + b, 0), 2000);
      // Each peer is in an answer with probability 1/4: 50 times on average, sd ~6.
      assert.ok(Math.min(...counts) >= 25 && Math.max(...counts) <= 80, `times each peer was returned: ${counts.join(' ')}`);
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
      const [counts] = await store.scrape([hash]);
      assert.deepEqual(counts, { complete: 0, incomplete: 1, downloaded: 1 });
    });

    it('a stopped peer that was never there changes nothing', async () => {
      fresh();
      const r = await ann({ v4: v4Addr(), event: 'stopped' });
      assert.deepEqual([r.complete, r.incomplete, r.downloaded], [0, 0, 0]);
      const [counts] = await store.scrape([hash]);
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

    it('puts same-subnet peers first when a prefix is given', async () => {
      fresh();
      const near = Array.from({ length: 5 }, () => v4Addr(192, 168, 7));
      for (const p of near) await ann({ v4: p });
      for (let i = 0; i < 15; i++) await ann({ v4: v4Addr(10, 20 + i) });
      const me = v4Addr(192, 168, 7);
      for (let round = 0; round < 5; round++) {
        const r = await ann({ v4: me, numwant: 5, subnet4: 24 });
        assert.deepEqual(peersOf(r.peers4).sort(), near.map(hex).sort());
      }
      const n6 = v6Addr(0x2a00);
      const far6 = v6Addr(0x2b00);
      await ann({ v6: far6 });
      await ann({ v6: n6 });
      const me6 = Buffer.from(n6);
      me6.writeUInt16BE(9, 16);
      me6[15] = (me6[15]! + 1) % 256;
      const r6 = await ann({ v6: me6, numwant: 1, subnet6: 16 });
      assert.deepEqual(peers6Of(r6.peers6), [hex(n6)]);
    });

    it('keeps seeders first for a leecher when same-subnet peers come first', async () => {
      fresh();
      const seederNear = v4Addr(192, 168, 11);
      await ann({ v4: seederNear, seeder: true, numwant: 0 });
      for (let i = 0; i < 3; i++) await ann({ v4: v4Addr(192, 168, 11), numwant: 0 });
      const me = v4Addr(192, 168, 11);
      for (let round = 0; round < 40; round++) {
        assert.deepEqual(peersOf((await ann({ v4: me, numwant: 1, subnet4: 24 })).peers4), [hex(seederNear)]);
      }
    });

    it('picks fairly among same-subnet peers, and among the others when the whole swarm fits', async () => {
      fresh();
      const near = [v4Addr(192, 168, 9), v4Addr(192, 168, 9)];
      for (const p of near) await ann({ v4: p, seeder: true, numwant: 0 });
      for (let i = 0; i < 5; i++) await ann({ v4: v4Addr(10, 30 + i), seeder: true, numwant: 0 });
      const me = v4Addr(192, 168, 9);
      const times = new Map(near.map((p) => [hex(p), 0]));
      for (let round = 0; round < 200; round++) {
        for (const p of peersOf((await ann({ v4: me, numwant: 1, subnet4: 24 })).peers4)) if (times.has(p)) times.set(p, times.get(p)! + 1);
      }
      // Each neighbour wins about half of the answers that have one (over-sampling may miss both).
      const counts = [...times.values()];
      assert.ok(Math.min(...counts) >= 45, `times each of the two neighbours was returned in 200 answers of one: ${counts.join(' ')}`);

      // Three leechers, the announcer among them, numwant 1: the other two as often as each other.
      fresh();
      const others = [v4Addr(), v4Addr()];
      for (const p of others) await ann({ v4: p, numwant: 0 });
      const self = v4Addr();
      await ann({ v4: self, numwant: 0 });
      const picked = new Map(others.map((p) => [hex(p), 0]));
      for (let round = 0; round < 300; round++) {
        const [p] = peersOf((await ann({ v4: self, numwant: 1 })).peers4);
        picked.set(p!, picked.get(p!)! + 1);
      }
      const each = [...picked.values()];
      assert.equal(picked.size, 2, 'only the two others are ever returned');
      assert.ok(Math.min(...each) >= 115, `times each of the two others was returned in 300 answers of one: ${each.join(' ')}`);
    });

    it('returns peer ids aligned with the peers when asked', async () => {
      fresh();
      const id = randomBytes(20);
      const a = v4Addr();
      await store.announce({ infoHash: hash, peerId: id, v4: a, seeder: false, event: 'none', numwant: 50, want4: true, want6: false, subnet4: 0, subnet6: 0, withPeerIds: false });
      const r = await ann({ v4: v4Addr(), withPeerIds: true });
      assert.deepEqual(peersOf(r.peers4), [hex(a)]);
      assert.ok(r.peerIds4, 'peer ids are returned');
      const known = r.peerIds4!.subarray(0, 20);
      assert.ok(known.equals(id) || known.equals(Buffer.alloc(20)), 'the id is the peer\'s, or all zero where the driver does not keep ids');
    });

    it('scrapes several hashes in order, unknown ones as zero', async () => {
      fresh();
      const first = hash;
      await ann({ v4: v4Addr(), seeder: true });
      await ann({ v4: v4Addr() });
      await ann({ v4: v4Addr() });
      fresh();
      const second = hash;
      await ann({ v4: v4Addr(), event: 'completed', seeder: true });
      const counts = await store.scrape([second, randomBytes(20), first]);
      assert.deepEqual(counts, [
        { complete: 1, incomplete: 0, downloaded: 1 },
        { complete: 0, incomplete: 0, downloaded: 0 },
        { complete: 1, incomplete: 2, downloaded: 0 },
      ]);
    });

    it('applies concurrent announces atomically', async () => {
      fresh();
      const results = await Promise.all(Array.from({ length: 200 }, () => ann({ v4: v4Addr(), numwant: 5 })));
      const [counts] = await store.scrape([hash]);
      assert.equal(counts!.incomplete, 200);
      for (const r of results) assert.ok(r.incomplete >= 1 && r.incomplete <= 200);
      assert.equal(Math.max(...results.map((r) => r.incomplete)), 200);
    });

    it('expires peers that stop announcing (peer TTL 3 s, a second of lag allowed)', async () => {
      fresh();
      const stale = v4Addr();
      const live = v4Addr();
      await ann({ v4: stale });
      await sleep(2000);
      await ann({ v4: live });
      await sleep(2300);
      let [counts] = await store.scrape([hash]);
      assert.equal(counts!.incomplete, 1, 'only the peer seen within the TTL counts');
      const r = await ann({ v4: v4Addr() });
      assert.deepEqual(peersOf(r.peers4), [hex(live)]);
      await sleep(2200);
      [counts] = await store.scrape([hash]);
      assert.equal(counts!.incomplete, 1, 'the last announcer is still live, the earlier one is gone');
    });

    describe('catalogue and access', () => {
      const uid = (): number => 1 + Math.floor(Math.random() * 0xfffffff0);
      const passkey = (): string => randomBytes(16).toString('hex');
      /** Waits for a change to reach this store's caches: at most a second, as the contract says. */
      const eventually = async (check: () => Promise<boolean> | boolean, what: string): Promise<void> => {
        const deadline = Date.now() + 1000;
        while (!(await check())) {
          if (Date.now() > deadline) assert.fail(`not seen within 1 s: ${what}`);
          await sleep(20);
        }
      };
      const priv = (userId: number, uploaded: number, downloaded: number): SwarmAccess => ({ requireRegistered: true, requireAllowed: false, userId, uploaded, downloaded });

      it('stores users, finds them by passkey, and refuses a passkey held by another user', async () => {
        const id = uid();
        const key = passkey();
        assert.equal(await store.catalogue.userByPasskey(key), null);
        await store.catalogue.putUser({ id, passkey: key, upMultiplier: 1.5, downMultiplier: 0.5, enabled: true });
        await eventually(async () => (await store.catalogue.userByPasskey(key))?.id === id, 'a new user');
        assert.deepEqual(await store.catalogue.getUser(id), { id, passkey: key, upMultiplier: 1.5, downMultiplier: 0.5, enabled: true });
        await assert.rejects(store.catalogue.putUser({ id: id + 1, passkey: key, upMultiplier: 1, downMultiplier: 1, enabled: true }), CatalogueConflict);
        const newKey = passkey();
        await store.catalogue.putUser({ id, passkey: newKey, upMultiplier: 1, downMultiplier: 1, enabled: false });
        await eventually(async () => (await store.catalogue.userByPasskey(key)) === null, 'the old passkey gone');
        await eventually(async () => (await store.catalogue.userByPasskey(newKey))?.enabled === false, 'the new passkey, disabled');
        assert.equal(await store.catalogue.deleteUser(id), true);
        assert.equal(await store.catalogue.deleteUser(id), false);
        await eventually(async () => (await store.catalogue.userByPasskey(newKey)) === null, 'a deleted user');
        assert.equal(await store.catalogue.getUser(id), null);
      });

      it('approves clients by peer_id prefix, Azureus and Shadow style', async () => {
        await store.catalogue.putClient({ prefix: '-qB46', name: 'qBittorrent 4.6' });
        await store.catalogue.putClient({ prefix: 'M7-', name: 'Mainline 7' });
        const qb = Buffer.from('-qB4630-abcdefghijkl');
        const mainline = Buffer.from('M7-4-0--abcdefghijkl');
        const other = Buffer.from('-TR3000-abcdefghijkl');
        await eventually(() => store.catalogue.approvedClient(qb) && store.catalogue.approvedClient(mainline), 'approved prefixes');
        assert.equal(store.catalogue.approvedClient(other), false);
        assert.ok((await store.catalogue.listClients()).some((c) => c.prefix === '-qB46' && c.name === 'qBittorrent 4.6'));
        assert.equal(await store.catalogue.deleteClient('M7-'), true);
        await eventually(() => !store.catalogue.approvedClient(mainline), 'a removed prefix');
      });

      it('refuses a denied hash, one off the allow list, or an unregistered one, and changes nothing', async () => {
        fresh();
        await store.catalogue.addHash('deny', hash);
        let r = await ann({ v4: v4Addr(), access: { requireRegistered: false, requireAllowed: false } });
        assert.equal(r.refused, 'denied');
        assert.deepEqual(await store.scrape([hash]), [{ complete: 0, incomplete: 0, downloaded: 0 }]);
        assert.ok((await store.catalogue.listHashes('deny')).some((h) => h.equals(hash)));
        assert.equal(await store.catalogue.removeHash('deny', hash), true);
        r = await ann({ v4: v4Addr(), access: { requireRegistered: false, requireAllowed: true } });
        assert.equal(r.refused, 'not_allowed');
        await store.catalogue.addHash('allow', hash);
        r = await ann({ v4: v4Addr(), access: { requireRegistered: false, requireAllowed: true } });
        assert.equal(r.refused, undefined);
        assert.equal(r.incomplete, 1);
        fresh();
        r = await ann({ v4: v4Addr(), access: priv(uid(), 0, 0) });
        assert.equal(r.refused, 'unregistered');
        assert.deepEqual(await store.scrape([hash]), [{ complete: 0, incomplete: 0, downloaded: 0 }]);
      });

      it('returns a registered torrent\'s terms, and forgets them when it is deleted', async () => {
        fresh();
        await store.catalogue.putTorrent({ infoHash: hash, id: 2 ** 40 + 7, upMultiplier: 2, downMultiplier: 0.5, freeleech: true });
        assert.deepEqual(await store.catalogue.getTorrent(hash), { infoHash: hash, id: 2 ** 40 + 7, upMultiplier: 2, downMultiplier: 0.5, freeleech: true });
        const r = await ann({ v4: v4Addr(), access: priv(uid(), 0, 0) });
        assert.deepEqual(r.torrent, { id: 2 ** 40 + 7, upMultiplier: 2, downMultiplier: 0.5, freeleech: true });
        assert.equal(await store.catalogue.deleteTorrent(hash), true);
        assert.equal(await store.catalogue.getTorrent(hash), null);
        assert.equal((await ann({ v4: v4Addr(), access: priv(uid(), 0, 0) })).refused, 'unregistered');
      });

      it('swaps a private peer\'s totals atomically, per user and peer_id, and drops them on stopped', async () => {
        fresh();
        await store.catalogue.putTorrent({ infoHash: hash, id: 1, upMultiplier: 1, downMultiplier: 1, freeleech: false });
        const user = uid();
        const peerId = randomBytes(20);
        const addr = v4Addr();
        let r = await ann({ v4: addr, peerId, event: 'started', access: priv(user, 0, 0) });
        assert.equal(r.previous, null);
        r = await ann({ v4: addr, peerId, access: priv(user, 2 ** 40, 12345) });
        assert.deepEqual(r.previous, { uploaded: 0, downloaded: 0 });
        r = await ann({ v4: addr, peerId, access: priv(user, 2 ** 41, 99999) });
        assert.deepEqual(r.previous, { uploaded: 2 ** 40, downloaded: 12345 });
        const other = await ann({ v4: v4Addr(), peerId, access: priv(user + 1, 5, 5) });
        assert.equal(other.previous, null, 'another user with the same peer_id has totals of its own');
        r = await ann({ v4: addr, peerId, event: 'stopped', access: priv(user, 2 ** 41 + 1, 99999) });
        assert.deepEqual(r.previous, { uploaded: 2 ** 41, downloaded: 99999 });
        r = await ann({ v4: addr, peerId, event: 'started', access: priv(user, 0, 0) });
        assert.equal(r.previous, null, 'a stopped peer starts afresh');
      });

      it('answers a retried announce (same id) as the first run did: same previous totals and snatch', async () => {
        fresh();
        await store.catalogue.putTorrent({ infoHash: hash, id: 6, upMultiplier: 1, downMultiplier: 1, freeleech: false });
        const user = uid();
        const peerId = randomBytes(20);
        const addr = v4Addr();
        await ann({ v4: addr, peerId, event: 'started', access: { ...priv(user, 0, 0), announceId: 'a1' } });
        const first = await ann({ v4: addr, peerId, event: 'completed', seeder: true, access: { ...priv(user, 100, 200), announceId: 'a2' } });
        const again = await ann({ v4: addr, peerId, event: 'completed', seeder: true, access: { ...priv(user, 100, 200), announceId: 'a2' } });
        assert.deepEqual([first.previous, first.snatched], [{ uploaded: 0, downloaded: 0 }, true]);
        assert.deepEqual([again.previous, again.snatched], [{ uploaded: 0, downloaded: 0 }, true], 'the retry gets the first answer');
        assert.equal(again.downloaded, 1, 'and counts no second snatch');
        const next = await ann({ v4: addr, peerId, seeder: true, access: { ...priv(user, 150, 200), announceId: 'a3' } });
        assert.deepEqual([next.previous, next.snatched], [{ uploaded: 100, downloaded: 200 }, false]);
      });

      it('counts a snatch once and says so', async () => {
        fresh();
        await store.catalogue.putTorrent({ infoHash: hash, id: 3, upMultiplier: 1, downMultiplier: 1, freeleech: false });
        const addr = v4Addr();
        const peerId = randomBytes(20);
        const user = uid();
        assert.equal((await ann({ v4: addr, peerId, access: priv(user, 0, 0) })).snatched, false);
        const done = await ann({ v4: addr, peerId, event: 'completed', seeder: true, access: priv(user, 0, 100) });
        assert.equal(done.snatched, true);
        assert.equal(done.downloaded, 1);
        assert.equal((await ann({ v4: addr, peerId, event: 'completed', seeder: true, access: priv(user, 0, 100) })).snatched, false);
      });

      it('never returns a user\'s own peers to it, in either family', async () => {
        fresh();
        await store.catalogue.putTorrent({ infoHash: hash, id: 4, upMultiplier: 1, downMultiplier: 1, freeleech: false });
        const me = uid();
        const mine4 = [v4Addr(), v4Addr(), v4Addr()];
        const mine6 = [v6Addr(), v6Addr()];
        for (const v4 of mine4) await ann({ v4, seeder: true, access: priv(me, 0, 0) });
        for (const v6 of mine6) await ann({ v6, seeder: true, access: priv(me, 0, 0) });
        const theirs4 = v4Addr();
        const theirs6 = v6Addr();
        await ann({ v4: theirs4, seeder: true, access: priv(me + 1, 0, 0) });
        await ann({ v6: theirs6, seeder: true, access: priv(me + 1, 0, 0) });
        const dual4 = v4Addr();
        const r = await ann({ v4: dual4, v6: v6Addr(), want4: true, want6: true, access: priv(me, 0, 0) });
        assert.deepEqual(peersOf(r.peers4), [hex(theirs4)]);
        assert.deepEqual(peers6Of(r.peers6), [hex(theirs6)]);
        assert.equal(r.complete, 7);
        const stranger = await ann({ v4: v4Addr(), access: priv(me + 2, 0, 0) });
        assert.equal(peersOf(stranger.peers4).length, 5, 'another user gets them all, as plain compact addresses');
        assert.deepEqual(new Set(peersOf(stranger.peers4)), new Set([...mine4, theirs4, dual4].map(hex)));
      });

      it('answers whole compact addresses across a switch between public and private mode', async () => {
        // Private peers are stored with their user id; left over after a switch to public mode (or
        // public ones after a switch to private), they must never come out as garbled entries.
        fresh();
        await store.catalogue.putTorrent({ infoHash: hash, id: 5, upMultiplier: 1, downMultiplier: 1, freeleech: false });
        const known = new Set<string>();
        const privateOnes = Array.from({ length: 8 }, () => v4Addr());
        for (const [i, v4] of privateOnes.entries()) {
          known.add(hex(v4));
          await ann({ v4, seeder: i % 2 === 0, numwant: 0, access: priv(uid(), 0, 0) });
        }
        const publicOnes = Array.from({ length: 8 }, () => v4Addr());
        for (const v4 of publicOnes) {
          known.add(hex(v4));
          await ann({ v4, numwant: 0 });
        }
        for (let round = 0; round < 10; round++) {
          const openAddr = v4Addr();
          const closedAddr = v4Addr();
          known.add(hex(openAddr)).add(hex(closedAddr));
          const open = await ann({ v4: openAddr, numwant: 50 });
          assert.equal(open.peers4.length % 6, 0);
          assert.ok(peersOf(open.peers4).every((p) => known.has(p)), 'a public answer has whole, known addresses');
          assert.ok(peersOf(open.peers4).length >= publicOnes.length);
          const closed = await ann({ v4: closedAddr, numwant: 50, access: priv(uid(), 0, 0) });
          assert.equal(closed.peers4.length % 6, 0);
          assert.ok(peersOf(closed.peers4).every((p) => known.has(p)), 'a private answer has whole, known addresses');
          assert.ok(peersOf(closed.peers4).length >= privateOnes.length);
        }
      });

      it('switches global freeleech', async () => {
        await store.catalogue.setGlobalFreeleech(true);
        await eventually(() => store.catalogue.globalFreeleech(), 'freeleech on');
        await store.catalogue.setGlobalFreeleech(false);
        await eventually(() => !store.catalogue.globalFreeleech(), 'freeleech off');
      });

      it('expires a private peer\'s totals with the peer', async () => {
        fresh();
        await store.catalogue.putTorrent({ infoHash: hash, id: 5, upMultiplier: 1, downMultiplier: 1, freeleech: false });
        const user = uid();
        const peerId = randomBytes(20);
        const addr = v4Addr();
        await ann({ v4: addr, peerId, access: priv(user, 10, 10) });
        await sleep(4300);
        await ann({ v4: v4Addr(), access: priv(uid(), 0, 0) }); // any announce lets the store expire stale entries
        const r = await ann({ v4: addr, peerId, access: priv(user, 20, 20) });
        assert.equal(r.previous, null);
      });
    });
  });
}
