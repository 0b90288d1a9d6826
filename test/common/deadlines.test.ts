/** One timer for many calls' deadlines: outcomes pass through, late calls are rejected, then ignored. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Deadlines } from '../../src/common/deadlines.js';

const later = <T>(ms: number, value: T): Promise<T> => new Promise((resolve) => setTimeout(() => resolve(value), ms));

describe('Deadlines', () => {
  it("passes a call's value or error through", async () => {
    const deadlines = new Deadlines(1000);
    assert.equal(await deadlines.bound(later(5, 'ok')), 'ok');
    await assert.rejects(deadlines.bound(Promise.reject(new Error('no'))), /no/);
    assert.equal(deadlines.size, 0);
  });

  it('rejects calls not settled in time, within a quarter of the timeout after it, and ignores them after', async () => {
    const deadlines = new Deadlines(200, 'redis command timed out');
    let settleLate: (value: string) => void = () => undefined;
    const started = Date.now();
    const stuck = deadlines.bound(new Promise<string>((resolve) => (settleLate = resolve)));
    const slowButInTime = deadlines.bound(later(100, 'in time'));
    const failingLate = deadlines.bound(later(400, 'x').then(() => Promise.reject(new Error('late failure'))));
    assert.equal(await slowButInTime, 'in time');
    await assert.rejects(stuck, /redis command timed out/);
    const waited = Date.now() - started;
    assert.ok(waited >= 200 && waited < 200 + 50 + 400, `rejected after ${waited} ms`);
    await assert.rejects(failingLate, /redis command timed out/, 'the deadline came first');
    settleLate('too late'); // ignored: the promise stays rejected, nothing unhandled
    await later(250, null); // the late failure happens and is ignored
    assert.equal(deadlines.size, 0);
  });

  it('holds many calls at once and forgets each as it settles', async () => {
    const deadlines = new Deadlines(1000);
    const calls = Array.from({ length: 1000 }, (_, i) => deadlines.bound(later(1 + (i % 20), i)));
    assert.equal(deadlines.size, 1000);
    const values = await Promise.all(calls);
    assert.equal(values[999], 999);
    assert.equal(deadlines.size, 0);
  });
});
