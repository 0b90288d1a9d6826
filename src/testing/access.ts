/**
 * Conformance, access: the deny list, the allow list and registration refuse an announce before
 * anything changes, and a refused announce changes nothing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { priv, storeUnderTest, uid, v4Addr, type ConformanceContext, type StoreFactory } from './harness.js';

/** Adds this group's tests to the enclosing describe(), against the store that `ctx` holds. */
export function defineAccessTests(ctx: ConformanceContext): void {
  const { ann, fresh } = ctx;

  it('refuses a denied hash, one off the allow list, or an unregistered one, and changes nothing', async () => {
    fresh();
    await ctx.store.catalogue.addHash('deny', ctx.hash);
    let r = await ann({ v4: v4Addr(), access: { requireRegistered: false, requireAllowed: false } });
    assert.equal(r.refused, 'denied');
    assert.deepEqual(await ctx.store.scrape([ctx.hash]), [{ complete: 0, incomplete: 0, downloaded: 0 }]);
    assert.ok((await ctx.store.catalogue.listHashes('deny')).some((h) => h.equals(ctx.hash)));
    assert.equal(await ctx.store.catalogue.removeHash('deny', ctx.hash), true);
    r = await ann({ v4: v4Addr(), access: { requireRegistered: false, requireAllowed: true } });
    assert.equal(r.refused, 'not_allowed');
    await ctx.store.catalogue.addHash('allow', ctx.hash);
    r = await ann({ v4: v4Addr(), access: { requireRegistered: false, requireAllowed: true } });
    assert.equal(r.refused, undefined);
    assert.equal(r.incomplete, 1);
    fresh();
    r = await ann({ v4: v4Addr(), access: priv(uid(), 0, 0) });
    assert.equal(r.refused, 'unregistered');
    assert.deepEqual(await ctx.store.scrape([ctx.hash]), [{ complete: 0, incomplete: 0, downloaded: 0 }]);
  });
}

/** This group of the conformance suite on its own, against a store of its own. */
export function accessSuite(driverName: string, open: StoreFactory): void {
  describe(`tracker driver conformance, access: ${driverName}`, () => {
    defineAccessTests(storeUnderTest(open));
  });
}
