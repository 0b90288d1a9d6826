/**
 * Conformance, defences: min interval (an announce without an event sooner than `minInterval` after the
 * peer's last written one changes nothing and answers `tooSoon` with the counts and peers; events and changes of
 * state always pass) and, for a store that offers them, the shared request counters of request budgets
 * (`addBudgetCounts` adds up). About 5 seconds of waiting.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { hex, peersOf, storeUnderTest, v4Addr, type ConformanceContext, type StoreFactory } from './harness.js';

/** Adds this group's tests to the enclosing describe(), against the store that `ctx` holds. */
export function defineDefenceTests(ctx: ConformanceContext): void {
  const { ann, fresh } = ctx;

  it('answers an announce without an event sooner than min interval with the counts, and writes nothing (peer TTL 3 s)', async () => {
    fresh();
    const addr = v4Addr();
    const peerId = randomBytes(20);
    await ann({ v4: addr, peerId, event: 'started' });
    const seeder = v4Addr();
    await ann({ v4: seeder, seeder: true, event: 'started' });
    await sleep(500);
    const early = await ann({ v4: addr, peerId, minInterval: 5 });
    assert.equal(early.tooSoon, true);
    assert.deepEqual([early.complete, early.incomplete], [1, 1], 'the counts, itself included');
    assert.deepEqual(peersOf(early.peers4), [hex(seeder)], 'peers as for any announce (the seeder, never itself): every driver alike');
    await sleep(2000);
    const again = await ann({ v4: addr, peerId, minInterval: 5 });
    assert.equal(again.tooSoon, true, 'still within min interval of the last written announce');
    await sleep(1800);
    // 4.3 s after the last written announce, 1.8 s after the last one answered: had the early
    // announces been written, the peer would still be live.
    const [counts] = await ctx.store.scrape([ctx.hash]);
    assert.equal(counts!.incomplete, 0, 'the announces too soon did not refresh the peer');
  });

  it('lets started, completed and stopped pass within min interval, and a change of state', async () => {
    fresh();
    const addr = v4Addr();
    const peerId = randomBytes(20);
    assert.notEqual((await ann({ v4: addr, peerId, event: 'started' })).tooSoon, true);
    assert.notEqual((await ann({ v4: addr, peerId, event: 'started', minInterval: 60 })).tooSoon, true);
    const seeding = await ann({ v4: addr, peerId, seeder: true, minInterval: 60 });
    assert.notEqual(seeding.tooSoon, true, 'leecher to seeder is written');
    assert.deepEqual([seeding.complete, seeding.incomplete], [1, 0]);
    const completed = await ann({ v4: addr, peerId, seeder: true, event: 'completed', minInterval: 60 });
    assert.notEqual(completed.tooSoon, true);
    const stopped = await ann({ v4: addr, peerId, seeder: true, event: 'stopped', minInterval: 60 });
    assert.notEqual(stopped.tooSoon, true);
    assert.deepEqual([stopped.complete, stopped.incomplete], [0, 0]);
  });

  it('never answers tooSoon without minInterval, nor for a peer it does not hold', async () => {
    fresh();
    const addr = v4Addr();
    assert.notEqual((await ann({ v4: addr, minInterval: 60 })).tooSoon, true, 'a new peer');
    assert.notEqual((await ann({ v4: addr })).tooSoon, true);
    assert.notEqual((await ann({ v4: addr, minInterval: 0 })).tooSoon, true);
  });

  it('adds up shared request counters, each on its own, when it offers them', async (t) => {
    const store = ctx.store;
    if (!store.addBudgetCounts) {
      t.skip('this store keeps no shared counters (a process alone needs none)');
      return;
    }
    const a = `conformance:${randomBytes(8).toString('hex')}`;
    const b = `conformance:${randomBytes(8).toString('hex')}`;
    assert.deepEqual(await store.addBudgetCounts([{ key: a, delta: 3 }], 60), [3]);
    assert.deepEqual(
      await store.addBudgetCounts(
        [
          { key: a, delta: 4 },
          { key: b, delta: 1 },
        ],
        60,
      ),
      [7, 1],
    );
  });
}

/** This group of the conformance suite on its own, against a store of its own. */
export function defencesSuite(driverName: string, open: StoreFactory): void {
  describe(`tracker driver conformance, defences: ${driverName}`, () => {
    defineDefenceTests(storeUnderTest(open));
  });
}
