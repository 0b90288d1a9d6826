/**
 * Conformance, selection: never the announcer itself, a seeder gets leechers only, a leecher gets
 * seeders first, numwant honoured, a fair random sample, same-subnet peers first.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hex, peers6Of, peersOf, storeUnderTest, v4Addr, v6Addr, type ConformanceContext, type StoreFactory } from './harness.js';

/** Adds this group's tests to the enclosing describe(), against the store that `ctx` holds. */
export function defineSelectionTests(ctx: ConformanceContext): void {
  const { ann, fresh } = ctx;

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
    const quiet = v4Addr();
    all.add(hex(quiet));
    const none = await ann({ v4: quiet, numwant: 0 });
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
        assert.ok(all.has(p), `a returned peer belongs to the swarm (${p})`);
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
    assert.equal(
      counts.reduce((a, b) => a + b, 0),
      2000,
    );
    // Each peer is in an answer with probability 1/4: 50 times on average, sd ~6.
    assert.ok(Math.min(...counts) >= 25 && Math.max(...counts) <= 80, `times each peer was returned: ${counts.join(' ')}`);
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
}

/** This group of the conformance suite on its own, against a store of its own. */
export function selectionSuite(driverName: string, open: StoreFactory): void {
  describe(`tracker driver conformance, selection: ${driverName}`, () => {
    defineSelectionTests(storeUnderTest(open));
  });
}
