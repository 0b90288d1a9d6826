/** Deadlines: one timer for many calls, each settled by its call or rejected at its deadline, whichever comes first. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Deadlines } from '../../../src/store/redis/deadlines.js';

const timeout = (): Error => new Error('timed out');
const later = <T>(ms: number, value: T): Promise<T> => new Promise((resolve) => setTimeout(() => resolve(value), ms));
const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('Deadlines', () => {
  it("gives the call's value or error before the deadline, and holds no timer afterwards", async () => {
    const deadlines = new Deadlines();
    const before = timers();
    assert.equal(await deadlines.race(later(10, 'v'), Date.now() + 1000, timeout), 'v');
    await assert.rejects(deadlines.race(Promise.reject(new Error('boom')), Date.now() + 1000, timeout), /boom/);
    assert.equal(timers(), before, 'no timer left behind');
  });

  it('rejects at the deadline, each call at its own, in whatever order they came', async () => {
    const deadlines = new Deadlines();
    const started = Date.now();
    const settled: string[] = [];
    const watch = (name: string, p: Promise<unknown>) =>
      p.then(
        () => settled.push(`${name} ok`),
        (error: Error) => settled.push(`${name} ${error.message} after ${Date.now() - started >= (name === 'late' ? 150 : 50) ? 'its deadline' : 'too soon'}`),
      );
    const never = new Promise<never>(() => undefined);
    const late = watch('late', deadlines.race(never, started + 150, timeout));
    // A retry: its deadline (its first attempt's) is earlier than one already waiting.
    const early = watch('early', deadlines.race(never, started + 50, timeout));
    const quick = watch('quick', deadlines.race(later(5, 1), started + 100, timeout));
    await Promise.all([late, early, quick]);
    assert.deepEqual(settled, ['quick ok', 'early timed out after its deadline', 'late timed out after its deadline']);
  });

  it('drops a late outcome: the caller saw the timeout, and a late rejection is not unhandled', async () => {
    const deadlines = new Deadlines();
    let unhandled = 0;
    const count = (): void => void unhandled++;
    process.on('unhandledRejection', count);
    try {
      const slowFailure = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('late')), 60));
      await assert.rejects(deadlines.race(slowFailure, Date.now() + 20, timeout), /timed out/);
      await assert.rejects(deadlines.race(later(60, 'late'), Date.now() + 20, timeout), /timed out/);
      await later(80, null);
      assert.equal(unhandled, 0);
    } finally {
      process.off('unhandledRejection', count);
    }
  });

  it('rejects at once when the deadline has passed already', async () => {
    const deadlines = new Deadlines();
    await assert.rejects(deadlines.race(later(50, 'v'), Date.now() - 1, timeout), /timed out/);
  });
});
