/**
 * Conformance, private catalogue: users and passkeys, approved clients, registered torrents and their
 * terms, the atomic swap of a private peer's totals (and its retry), snatches, a user's own peers kept
 * from it, mixed public and private peers, global freeleech.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { CatalogueConflict, CatalogueLimit, MAX_TOKENS_PER_USER } from '../store/catalogue.js';
import {
  eventually,
  hex,
  passkey,
  peers6Of,
  peersOf,
  priv,
  storeUnderTest,
  uid,
  v4Addr,
  v6Addr,
  type Announce,
  type ConformanceContext,
  type StoreFactory,
} from './harness.js';

/** Adds this group's tests to the enclosing describe(), against the store that `ctx` holds. */
export function definePrivateCatalogueTests(ctx: ConformanceContext): void {
  const { ann, fresh } = ctx;

  it('stores users, finds them by passkey, and refuses a passkey held by another user', async () => {
    const id = uid();
    const key = passkey();
    assert.equal(await ctx.store.catalogue.userByPasskey(key), null);
    await ctx.store.catalogue.putUser({ id, passkey: key, upMultiplier: 1.5, downMultiplier: 0.5, enabled: true });
    await eventually(async () => (await ctx.store.catalogue.userByPasskey(key))?.id === id, 'a new user');
    assert.deepEqual(await ctx.store.catalogue.getUser(id), { id, passkey: key, upMultiplier: 1.5, downMultiplier: 0.5, enabled: true });
    await assert.rejects(ctx.store.catalogue.putUser({ id: id + 1, passkey: key, upMultiplier: 1, downMultiplier: 1, enabled: true }), CatalogueConflict);
    const newKey = passkey();
    await ctx.store.catalogue.putUser({ id, passkey: newKey, upMultiplier: 1, downMultiplier: 1, enabled: false });
    await eventually(async () => (await ctx.store.catalogue.userByPasskey(key)) === null, 'the old passkey gone');
    // The private controls' fields come back as they were put, and a put without them leaves none behind.
    const controlled = {
      id,
      passkey: newKey,
      upMultiplier: 1,
      downMultiplier: 1,
      enabled: true,
      canLeech: false,
      freeleechUntil: 2_000_000_000,
      downloadSlots: 3,
    };
    await ctx.store.catalogue.putUser(controlled);
    assert.deepEqual(await ctx.store.catalogue.getUser(id), controlled);
    await eventually(async () => (await ctx.store.catalogue.userByPasskey(newKey))?.canLeech === false, 'can_leech through the passkey');
    assert.deepEqual(await ctx.store.catalogue.userByPasskey(newKey), controlled);
    await ctx.store.catalogue.putUser({ id, passkey: newKey, upMultiplier: 1, downMultiplier: 1, enabled: false });
    assert.deepEqual(await ctx.store.catalogue.getUser(id), { id, passkey: newKey, upMultiplier: 1, downMultiplier: 1, enabled: false });
    await eventually(async () => {
      const user = await ctx.store.catalogue.userByPasskey(newKey);
      return user?.enabled === false && user.canLeech === undefined;
    }, 'disabled, and the fields gone with the next put');
    assert.equal(await ctx.store.catalogue.deleteUser(id), true);
    assert.equal(await ctx.store.catalogue.deleteUser(id), false);
    await eventually(async () => (await ctx.store.catalogue.userByPasskey(newKey)) === null, 'a deleted user');
    assert.equal(await ctx.store.catalogue.getUser(id), null);
  });

  it("keeps a user's freeleech tokens beside the user: listed, carried with the user to the announce, kept across a put of the user, bounded, gone with the user", async () => {
    const id = uid();
    const key = passkey();
    const catalogue = ctx.store.catalogue;
    assert.equal(await catalogue.listTokens(id), null, 'no such user');
    await catalogue.putUser({ id, passkey: key, upMultiplier: 1, downMultiplier: 1, enabled: true });
    assert.deepEqual(await catalogue.listTokens(id), []);
    const [a, b] = [randomBytes(20), randomBytes(20)];
    await catalogue.putToken(id, { torrentId: 11, infoHash: a, until: 0 });
    await catalogue.putToken(id, { torrentId: 5, infoHash: b, until: 2_000_000_000 });
    assert.deepEqual(await catalogue.listTokens(id), [
      { torrentId: 5, infoHash: b, until: 2_000_000_000 },
      { torrentId: 11, infoHash: a, until: 0 },
    ]);
    await eventually(async () => (await catalogue.userByPasskey(key))?.tokens?.size === 2, 'the tokens with the user');
    assert.deepEqual((await catalogue.userByPasskey(key))!.tokens!.get(11), { torrentId: 11, infoHash: a, until: 0 });
    await catalogue.putToken(id, { torrentId: 11, infoHash: a, until: 1_900_000_000 });
    await catalogue.putUser({ id, passkey: key, upMultiplier: 2, downMultiplier: 1, enabled: true });
    assert.deepEqual(
      (await catalogue.listTokens(id))!.map((t) => [t.torrentId, t.until]),
      [
        [5, 2_000_000_000],
        [11, 1_900_000_000],
      ],
    );
    assert.equal((await catalogue.getUser(id))!.tokens, undefined, 'getUser answers the user as put');
    await eventually(async () => (await catalogue.userByPasskey(key))?.tokens?.get(11)?.until === 1_900_000_000, 'a replaced token');
    assert.equal(await catalogue.deleteToken(id, 5), true);
    assert.equal(await catalogue.deleteToken(id, 5), false);
    await eventually(async () => {
      const user = await catalogue.userByPasskey(key);
      return user?.upMultiplier === 2 && user.tokens?.size === 1 && !user.tokens.has(5);
    }, 'a deleted token gone from the announce');
    for (let n = 1; n < MAX_TOKENS_PER_USER; n++) await catalogue.putToken(id, { torrentId: 1000 + n, infoHash: a, until: 0 });
    await assert.rejects(catalogue.putToken(id, { torrentId: 7, infoHash: a, until: 0 }), CatalogueLimit);
    await catalogue.putToken(id, { torrentId: 11, infoHash: a, until: 0 }); // replacing one is no new token
    assert.equal((await catalogue.listTokens(id))!.length, MAX_TOKENS_PER_USER);
    assert.equal(await catalogue.deleteUser(id), true);
    await catalogue.putUser({ id, passkey: key, upMultiplier: 1, downMultiplier: 1, enabled: true });
    assert.deepEqual(await catalogue.listTokens(id), [], 'a deleted user takes its tokens along');
    await catalogue.deleteUser(id);
  });

  it('approves clients by peer_id prefix, Azureus and Shadow style', async () => {
    await ctx.store.catalogue.putClient({ prefix: '-qB46', name: 'qBittorrent 4.6' });
    await ctx.store.catalogue.putClient({ prefix: 'M7-', name: 'Mainline 7' });
    const qb = Buffer.from('-qB4630-abcdefghijkl');
    const mainline = Buffer.from('M7-4-0--abcdefghijkl');
    const other = Buffer.from('-TR3000-abcdefghijkl');
    const rule = (peerId: Buffer) => ctx.store.catalogue.clientRule(peerId);
    await eventually(() => rule(qb)?.name === 'qBittorrent 4.6' && rule(mainline)?.name === 'Mainline 7', 'approved prefixes');
    assert.equal(rule(other), null);
    assert.ok((await ctx.store.catalogue.listClients()).some((c) => c.prefix === '-qB46' && c.name === 'qBittorrent 4.6' && c.action === undefined));
    assert.equal(await ctx.store.catalogue.deleteClient('M7-'), true);
    await eventually(() => rule(mainline) === null, 'a removed prefix');
  });

  it('denies clients by prefix, the longest matching prefix deciding, and moves a prefix between allow and deny', async () => {
    await ctx.store.catalogue.putClient({ prefix: '-DE', name: 'Deluge' });
    await ctx.store.catalogue.putClient({ prefix: '-DE13', name: 'Deluge 1.3 (broken accounting)', action: 'deny' });
    const old = Buffer.from('-DE1360-abcdefghijkl');
    const current = Buffer.from('-DE2110-abcdefghijkl');
    const rule = (peerId: Buffer) => ctx.store.catalogue.clientRule(peerId);
    await eventually(() => rule(old)?.action === 'deny' && ctx.store.catalogue.deniesClients(), 'a denied prefix');
    assert.deepEqual(rule(old), { prefix: '-DE13', name: 'Deluge 1.3 (broken accounting)', action: 'deny' });
    assert.deepEqual(rule(current), { prefix: '-DE', name: 'Deluge' }, 'a shorter allowed prefix for the rest');
    const listed = (await ctx.store.catalogue.listClients()).filter((c) => c.prefix.startsWith('-DE'));
    assert.deepEqual(listed, [
      { prefix: '-DE', name: 'Deluge' },
      { prefix: '-DE13', name: 'Deluge 1.3 (broken accounting)', action: 'deny' },
    ]);
    await ctx.store.catalogue.putClient({ prefix: '-DE13', name: 'Deluge 1.3' });
    await eventually(() => rule(old)?.action === undefined && !ctx.store.catalogue.deniesClients(), 'allowed again');
    assert.equal((await ctx.store.catalogue.listClients()).filter((c) => c.prefix === '-DE13').length, 1, 'one entry per prefix');
    await ctx.store.catalogue.putClient({ prefix: '-DE', name: 'Deluge', action: 'deny' });
    await eventually(() => rule(current)?.action === 'deny', 'the whole family denied');
    assert.equal(rule(old)?.action, undefined, 'but the longer allowed prefix still decides for its own');
    assert.equal(await ctx.store.catalogue.deleteClient('-DE'), true);
    assert.equal(await ctx.store.catalogue.deleteClient('-DE13'), true);
    await eventually(() => rule(current) === null && rule(old) === null && !ctx.store.catalogue.deniesClients(), 'both removed');
  });

  it("returns a registered torrent's terms, and forgets them when it is deleted", async () => {
    fresh();
    await ctx.store.catalogue.putTorrent({ infoHash: ctx.hash, id: 2 ** 40 + 7, upMultiplier: 2, downMultiplier: 0.5, freeleech: true });
    assert.deepEqual(await ctx.store.catalogue.getTorrent(ctx.hash), {
      infoHash: ctx.hash,
      id: 2 ** 40 + 7,
      upMultiplier: 2,
      downMultiplier: 0.5,
      freeleech: true,
    });
    const r = await ann({ v4: v4Addr(), access: priv(uid(), 0, 0) });
    assert.deepEqual(r.torrent, { id: 2 ** 40 + 7, upMultiplier: 2, downMultiplier: 0.5, freeleech: true });
    assert.equal(await ctx.store.catalogue.deleteTorrent(ctx.hash), true);
    assert.equal(await ctx.store.catalogue.getTorrent(ctx.hash), null);
    assert.equal((await ann({ v4: v4Addr(), access: priv(uid(), 0, 0) })).refused, 'unregistered');
    assert.equal(await ctx.store.catalogue.deletionReason(ctx.hash), null, 'deleted without a reason');
  });

  it("remembers a deleted torrent's reason for its TTL, on both hashes of a hybrid, until it is registered again", async () => {
    const [hash, v2, other] = [randomBytes(20), randomBytes(20), randomBytes(20)];
    const torrent = { infoHash: hash, infoHashV2: v2, id: 77, upMultiplier: 1, downMultiplier: 1, freeleech: false };
    await ctx.store.catalogue.putTorrent(torrent);
    assert.equal(await ctx.store.catalogue.deleteTorrent(other, { text: 'never registered', ttlSeconds: 60 }), false);
    assert.equal(await ctx.store.catalogue.deletionReason(other), null, 'nothing deleted, nothing remembered');
    assert.equal(await ctx.store.catalogue.deleteTorrent(hash, { text: 'dupe: see torrent 76', ttlSeconds: 60 }), true);
    assert.equal(await ctx.store.catalogue.deletionReason(hash), 'dupe: see torrent 76');
    assert.equal(await ctx.store.catalogue.deletionReason(v2), 'dupe: see torrent 76', 'its v2 hash too');
    await ctx.store.catalogue.putTorrent(torrent);
    assert.deepEqual([await ctx.store.catalogue.deletionReason(hash), await ctx.store.catalogue.deletionReason(v2)], [null, null], 'registered again');
    assert.equal(await ctx.store.catalogue.deleteTorrent(hash, { text: 'gone for a second', ttlSeconds: 1 }), true);
    assert.equal(await ctx.store.catalogue.deletionReason(hash), 'gone for a second');
    await new Promise((resolve) => setTimeout(resolve, 1200));
    assert.equal(await ctx.store.catalogue.deletionReason(hash), null, 'forgotten after its TTL');
  });

  it("swaps a private peer's totals atomically, per user and peer_id, and drops them on stopped", async () => {
    fresh();
    await ctx.store.catalogue.putTorrent({ infoHash: ctx.hash, id: 1, upMultiplier: 1, downMultiplier: 1, freeleech: false });
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
    await ctx.store.catalogue.putTorrent({ infoHash: ctx.hash, id: 6, upMultiplier: 1, downMultiplier: 1, freeleech: false });
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

  it("numbers a peer's accounting session: epochs opened by started, by an unknown peer and by a reset; seq per announce; a retry answers the same", async () => {
    fresh();
    await ctx.store.catalogue.putTorrent({ infoHash: ctx.hash, id: 8, upMultiplier: 1, downMultiplier: 1, freeleech: false });
    const user = uid();
    const peerId = randomBytes(20);
    const addr = v4Addr();
    const at = (id: string, uploaded: number, downloaded: number, event: Announce['event'] = 'none') =>
      ann({ v4: addr, peerId, event, access: { ...priv(user, uploaded, downloaded), announceId: id } });
    let r = await at('s1', 0, 0, 'started');
    assert.deepEqual(r.session, { epoch: 's1', seq: 1, baseUploaded: 0, baseDownloaded: 0, open: false, completed: false }, 'started opens an epoch from 0');
    r = await at('s2', 100, 50);
    assert.deepEqual(r.session, { epoch: 's1', seq: 2, baseUploaded: 0, baseDownloaded: 0, open: false, completed: false });
    const retried = await at('s2', 100, 50);
    assert.deepEqual(retried.session, r.session, "a retry (same id) answers the first run's session");
    r = await at('s3', 150, 50);
    assert.equal(r.session?.seq, 3, 'the retry counted no announce');
    r = await at('s4', 20, 60);
    assert.deepEqual(
      r.session,
      { epoch: 's4', seq: 1, baseUploaded: 0, baseDownloaded: 50, open: false, completed: false },
      'a counter that went back counts from 0',
    );
    r = await at('s5', 30, 70, 'stopped');
    assert.deepEqual(
      r.session,
      { epoch: 's4', seq: 2, baseUploaded: 0, baseDownloaded: 50, open: false, completed: false },
      'the stop belongs to the epoch it ends',
    );
    r = await at('s6', 500, 600);
    assert.deepEqual(
      r.session,
      { epoch: 's6', seq: 1, baseUploaded: 500, baseDownloaded: 600, open: true, completed: false },
      'a peer the store does not know opens an open epoch',
    );
    r = await at('s7', 700, 600);
    assert.deepEqual(r.session, { epoch: 's6', seq: 2, baseUploaded: 500, baseDownloaded: 600, open: true, completed: false });
    r = await at('s8', 650, 600);
    assert.deepEqual(
      r.session,
      { epoch: 's8', seq: 1, baseUploaded: 0, baseDownloaded: 600, open: false, completed: false },
      'back by less than a digit is a reset too',
    );
    await at('s9', 2 ** 40 + 1, 10 ** 12 + 7);
    r = await at('s10', 2 ** 40 + 2, 10 ** 12 + 6);
    assert.deepEqual(
      r.session,
      { epoch: 's10', seq: 1, baseUploaded: 2 ** 40 + 1, baseDownloaded: 0, open: false, completed: false },
      'large counters compare exactly',
    );
  });

  it('says in the session whether the peer has counted its snatch, from the completion on, on every announce of it', async () => {
    fresh();
    await ctx.store.catalogue.putTorrent({ infoHash: ctx.hash, id: 9, upMultiplier: 1, downMultiplier: 1, freeleech: false });
    const user = uid();
    const peerId = randomBytes(20);
    const addr = v4Addr();
    const at = (id: string, event: Announce['event'], seeder = false) =>
      ann({ v4: addr, peerId, event, seeder, access: { ...priv(user, 10, 10), announceId: id } });
    assert.equal((await at('c1', 'started')).session?.completed, false);
    const done = await at('c2', 'completed', true);
    assert.deepEqual([done.snatched, done.session?.completed], [true, true]);
    assert.equal((await at('c2', 'completed', true)).session?.completed, true, 'a retry answers the same');
    assert.equal((await at('c3', 'none', true)).session?.completed, true, 'and every later announce says so');
    assert.equal((await at('c4', 'stopped', true)).session?.completed, true, 'the stop too');
    assert.equal((await at('c5', 'started')).session?.completed, false, 'a new life of the peer has not');
  });

  it('counts a snatch once and says so', async () => {
    fresh();
    await ctx.store.catalogue.putTorrent({ infoHash: ctx.hash, id: 3, upMultiplier: 1, downMultiplier: 1, freeleech: false });
    const addr = v4Addr();
    const peerId = randomBytes(20);
    const user = uid();
    assert.equal((await ann({ v4: addr, peerId, access: priv(user, 0, 0) })).snatched, false);
    const done = await ann({ v4: addr, peerId, event: 'completed', seeder: true, access: priv(user, 0, 100) });
    assert.equal(done.snatched, true);
    assert.equal(done.downloaded, 1);
    assert.equal((await ann({ v4: addr, peerId, event: 'completed', seeder: true, access: priv(user, 0, 100) })).snatched, false);
  });

  it("never returns a user's own peers to it, in either family", async () => {
    fresh();
    await ctx.store.catalogue.putTorrent({ infoHash: ctx.hash, id: 4, upMultiplier: 1, downMultiplier: 1, freeleech: false });
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
    await ctx.store.catalogue.putTorrent({ infoHash: ctx.hash, id: 5, upMultiplier: 1, downMultiplier: 1, freeleech: false });
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
      assert.ok(
        peersOf(open.peers4).every((p) => known.has(p)),
        'a public answer has whole, known addresses',
      );
      assert.ok(peersOf(open.peers4).length >= publicOnes.length);
      const closed = await ann({ v4: closedAddr, numwant: 50, access: priv(uid(), 0, 0) });
      assert.equal(closed.peers4.length % 6, 0);
      assert.ok(
        peersOf(closed.peers4).every((p) => known.has(p)),
        'a private answer has whole, known addresses',
      );
      assert.ok(peersOf(closed.peers4).length >= privateOnes.length);
    }
  });

  it('switches global freeleech', async () => {
    await ctx.store.catalogue.setGlobalFreeleech(true);
    await eventually(() => ctx.store.catalogue.globalFreeleech(), 'freeleech on');
    await ctx.store.catalogue.setGlobalFreeleech(false);
    await eventually(() => !ctx.store.catalogue.globalFreeleech(), 'freeleech off');
  });
}

/** This group of the conformance suite on its own, against a store of its own. */
export function privateCatalogueSuite(driverName: string, open: StoreFactory): void {
  describe(`tracker driver conformance, private catalogue: ${driverName}`, () => {
    definePrivateCatalogueTests(storeUnderTest(open));
  });
}
