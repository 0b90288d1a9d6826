/**
 * Conformance, expiry: peers not seen for the peer TTL are neither counted nor returned, and a private
 * peer's totals go with it. Slow by nature: about 6.5 seconds of waiting.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { hex, peersOf, priv, storeUnderTest, swarmAnnounce, uid, v4Addr, type ConformanceContext, type StoreFactory } from './harness.js';

/** Adds this group's tests to the enclosing describe(), against the store that `ctx` holds. */
export function defineExpiryTests(ctx: ConformanceContext): void {
  const { ann, fresh } = ctx;

  // Both cases in one test, run side by side in swarms of their own: their waits overlap (about 6.5 s
  // instead of 11 for every driver the suite runs against).
  it("expires peers that stop announcing (peer TTL 3 s, a second of lag allowed), and a private peer's totals with the peer", async () => {
    fresh();
    const publicCase = async (): Promise<void> => {
      const stale = v4Addr();
      const live = v4Addr();
      await ann({ v4: stale });
      await sleep(2000);
      await ann({ v4: live });
      await sleep(2300);
      let [counts] = await ctx.store.scrape([ctx.hash]);
      assert.equal(counts!.incomplete, 1, 'only the peer seen within the TTL counts');
      const r = await ann({ v4: v4Addr() });
      assert.deepEqual(peersOf(r.peers4), [hex(live)]);
      await sleep(2200);
      [counts] = await ctx.store.scrape([ctx.hash]);
      assert.equal(counts!.incomplete, 1, 'the last announcer is still live, the earlier one is gone');
    };
    const privateCase = async (): Promise<void> => {
      const hash = randomBytes(20);
      const annHere = (overrides: Parameters<typeof swarmAnnounce>[1]) => ctx.store.announce(swarmAnnounce(hash, overrides));
      await ctx.store.catalogue.putTorrent({ infoHash: hash, id: 5, upMultiplier: 1, downMultiplier: 1, freeleech: false });
      const user = uid();
      const peerId = randomBytes(20);
      const addr = v4Addr();
      await annHere({ v4: addr, peerId, access: priv(user, 10, 10) });
      await sleep(4300);
      await annHere({ v4: v4Addr(), access: priv(uid(), 0, 0) }); // any announce lets the store expire stale entries
      const r = await annHere({ v4: addr, peerId, access: priv(user, 20, 20) });
      assert.equal(r.previous, null, "the private peer's totals went with it");
    };
    await Promise.all([publicCase(), privateCase()]);
  });
}

/** This group of the conformance suite on its own, against a store of its own. */
export function expirySuite(driverName: string, open: StoreFactory): void {
  describe(`tracker driver conformance, expiry: ${driverName}`, () => {
    defineExpiryTests(storeUnderTest(open));
  });
}
