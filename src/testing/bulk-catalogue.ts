/**
 * Conformance, bulk catalogue: users and torrents put in batches (a conflict anywhere writes nothing),
 * paged in order, and a sync whose replace removes what it did not put. Runs last in the suite: the
 * replace empties the catalogue of everything the sync did not name.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { CatalogueConflict, type TorrentEntry, UnknownSync, type User } from '../store/catalogue.js';
import { eventually, passkey, storeUnderTest, uid, type ConformanceContext, type StoreFactory } from './harness.js';

const user = (id: number, extra: Partial<User> = {}): User => ({ id, passkey: passkey(), upMultiplier: 1, downMultiplier: 1, enabled: true, ...extra });
const torrent = (id: number, extra: Partial<TorrentEntry> = {}): TorrentEntry => ({
  infoHash: randomBytes(20),
  id,
  upMultiplier: 1,
  downMultiplier: 1,
  freeleech: false,
  ...extra,
});

/** Adds this group's tests to the enclosing describe(), against the store that `ctx` holds. */
export function defineBulkCatalogueTests(ctx: ConformanceContext): void {
  it('puts users in a batch, found by passkey and paged by id; a passkey held outside the batch writes nothing', async () => {
    const catalogue = ctx.store.catalogue;
    // A run of ids of its own (below 2^32: user ids are 32-bit).
    const base = 0x1000 * (1 + Math.floor(Math.random() * 0xffffe));
    const users = Array.from({ length: 50 }, (_, i) => user(base + 1 + i * 2, i === 3 ? { canLeech: false, downloadSlots: 2 } : {}));
    await catalogue.putUsers(users);
    assert.deepEqual(await catalogue.getUser(users[3]!.id), users[3]);
    await eventually(async () => (await catalogue.userByPasskey(users[49]!.passkey))?.id === users[49]!.id, 'a bulk user by passkey');
    const paged: User[] = [];
    for (let after = base; ;) {
      const page = (await catalogue.listUsers(after, 7)).filter((u) => u.id <= base + 100);
      if (page.length === 0) break;
      paged.push(...page);
      after = page.at(-1)!.id;
    }
    assert.deepEqual(paged, users, 'every user once, by id, as put');

    const holder = user(uid());
    await catalogue.putUser(holder);
    const fresh = user(base + 200);
    await assert.rejects(catalogue.putUsers([fresh, { ...user(base + 202), passkey: holder.passkey }]), CatalogueConflict);
    assert.equal(await catalogue.getUser(fresh.id), null, 'nothing of a refused batch is written');
    const renamed = { ...users[0]!, passkey: passkey() };
    await catalogue.putUsers([renamed]);
    await eventually(async () => (await catalogue.userByPasskey(users[0]!.passkey)) === null, 'the old passkey gone');
  });

  it('registers torrents in a batch, hybrids included, paged by info hash; a hash held outside the batch writes nothing', async () => {
    const catalogue = ctx.store.catalogue;
    const id = uid();
    const torrents = Array.from({ length: 40 }, (_, i) => torrent(id * 100 + i, i % 10 === 0 ? { infoHashV2: randomBytes(20), freeleech: true } : {}));
    await catalogue.putTorrents(torrents);
    assert.deepEqual(await catalogue.getTorrent(torrents[10]!.infoHashV2!), torrents[10], 'found by its v2 hash');
    const ours = new Set(torrents.map((t) => t.infoHash.toString('hex')));
    const paged: TorrentEntry[] = [];
    for (let after: Buffer | null = null; ;) {
      const page = await catalogue.listTorrents(after, 9);
      if (page.length === 0) break;
      if (after) assert.ok(page[0]!.infoHash.compare(after) > 0, 'pages go up');
      paged.push(...page.filter((t) => ours.has(t.infoHash.toString('hex'))));
      after = page.at(-1)!.infoHash;
    }
    assert.deepEqual(
      paged,
      [...torrents].sort((a, b) => a.infoHash.compare(b.infoHash)),
      'every torrent once, in byte order, as put',
    );
    const fresh = torrent(id * 100 + 50);
    await assert.rejects(catalogue.putTorrents([fresh, torrent(id * 100 + 51, { infoHashV2: torrents[0]!.infoHash })]), CatalogueConflict);
    await assert.rejects(
      catalogue.putTorrents([torrent(id * 100 + 52, { infoHash: torrents[20]!.infoHashV2 ?? torrents[10]!.infoHashV2! })]),
      CatalogueConflict,
    );
    assert.equal(await catalogue.getTorrent(fresh.infoHash), null, 'nothing of a refused batch is written');
  });

  it('syncs: what was put under a sync is kept, everything else removed on replace; an unknown sync is refused', async () => {
    const catalogue = ctx.store.catalogue;
    const [keptUsers, goneUser] = [[user(uid()), user(uid())], user(uid())];
    await catalogue.putUsers([...keptUsers, goneUser]);
    const [keptTorrent, goneTorrent] = [torrent(uid()), torrent(uid(), { infoHashV2: randomBytes(20) })];
    await catalogue.putTorrents([keptTorrent, goneTorrent]);

    const users = await catalogue.beginSync('users');
    assert.equal(await catalogue.hasSync('users', users), true);
    assert.equal(await catalogue.hasSync('torrents', users), false, 'a sync is of one kind');
    await catalogue.putUsers([keptUsers[0]!], users);
    await catalogue.putUsers([keptUsers[1]!], users);
    await assert.rejects(catalogue.putUsers([goneUser], 'no-such-sync'), UnknownSync);
    const done = await catalogue.finishSync('users', users, true);
    assert.deepEqual(done, { kept: 2, removed: done.removed });
    assert.ok(done.removed >= 1);
    assert.equal(await catalogue.getUser(goneUser.id), null);
    assert.deepEqual(await catalogue.getUser(keptUsers[1]!.id), keptUsers[1]);
    await assert.rejects(catalogue.finishSync('users', users, true), UnknownSync, 'finished once');

    const torrents = await catalogue.beginSync('torrents');
    await catalogue.putTorrents([keptTorrent], torrents);
    const kept = await catalogue.finishSync('torrents', torrents, false);
    assert.equal(kept.removed, 0, 'without replace, nothing is removed');
    assert.ok(await catalogue.getTorrent(goneTorrent.infoHash));
    const again = await catalogue.beginSync('torrents');
    await catalogue.putTorrents([keptTorrent], again);
    assert.deepEqual((await catalogue.finishSync('torrents', again, true)).kept, 1);
    assert.equal(await catalogue.getTorrent(goneTorrent.infoHash), null);
    assert.equal(await catalogue.getTorrent(goneTorrent.infoHashV2!), null, 'its v2 hash with it');
    assert.deepEqual(await catalogue.getTorrent(keptTorrent.infoHash), keptTorrent);
  });
}

/** This group of the conformance suite on its own, against a store of its own. */
export function bulkCatalogueSuite(driverName: string, open: StoreFactory): void {
  describe(`tracker driver conformance, bulk catalogue: ${driverName}`, () => {
    defineBulkCatalogueTests(storeUnderTest(open));
  });
}
