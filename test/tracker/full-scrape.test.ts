/**
 * The full scrape's snapshot (src/tracker/full-scrape.ts) on a clock of the test's own: the first request
 * waits for the first build, the snapshot is served for the interval, the first request after it starts
 * one build (however many come) and is answered from the old snapshot, a failed build keeps the old one,
 * and the limit reaches the store.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FullScrapeSnapshot, type FullScrapeFiles } from '../../src/tracker/full-scrape.js';

const file = (n: number) => ({ infoHash: Buffer.alloc(20, n), counts: { complete: n, incomplete: 0, downloaded: 0 } });

describe('full scrape snapshot', () => {
  it('builds once per interval, serves the old snapshot while the next is built, and survives a failed build', async () => {
    let now = 1_000_000;
    let builds = 0;
    const limits: number[] = [];
    let release: (() => void) | null = null;
    let fail = false;
    const build = async (limit: number): Promise<FullScrapeFiles> => {
      limits.push(limit);
      const n = ++builds;
      if (n > 1) await new Promise<void>((resolve) => (release = resolve));
      if (fail) throw new Error('redis down');
      return [file(n), file(n + 100), file(n + 200)];
    };
    const snapshot = new FullScrapeSnapshot(build, { intervalSeconds: 60, maxSwarms: 2 }, () => now);

    const first = await snapshot.get();
    assert.equal(builds, 1);
    assert.deepEqual(limits, [2]);
    assert.equal(first.length, 2, 'no more than maxSwarms, whatever the store returns');
    now += 59_000;
    assert.equal(await snapshot.get(), first, 'within the interval: the same snapshot, no build');
    assert.equal(builds, 1);

    now += 1_000;
    const stale = await Promise.all([snapshot.get(), snapshot.get(), snapshot.get()]);
    for (const files of stale) assert.equal(files, first, 'the old snapshot while the next is built');
    assert.equal(builds, 2, 'one build however many requests find it stale');
    release!();
    await new Promise((resolve) => setImmediate(resolve));
    const second = await snapshot.get();
    assert.notEqual(second, first);
    assert.equal(second[0]!.counts.complete, 2);

    now += 60_000;
    fail = true;
    assert.equal(await snapshot.get(), second);
    release!();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(await snapshot.get(), second, 'a failed build leaves the old snapshot');
    assert.equal(builds, 4, 'and the next request tries again');
  });

  it('the first request waits for the first build, and hears of its failure', async () => {
    const snapshot = new FullScrapeSnapshot(
      async () => {
        throw new Error('redis down');
      },
      { intervalSeconds: 60, maxSwarms: 10 },
    );
    await assert.rejects(snapshot.get(), /redis down/);
  });
});
