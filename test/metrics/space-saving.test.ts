/** The space-saving heavy-hitter summary: bounded, finds the heavy hitters, counts within their error. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { SpaceSaving } from '../../src/metrics/space-saving.js';

describe('SpaceSaving', () => {
  it('finds every hash announced more than total ÷ capacity times, with counts bounding the truth', () => {
    const capacity = 64; // total ÷ capacity = 359, below the lightest heavy hitter (400)
    const summary = new SpaceSaving(capacity);
    const heavy = Array.from({ length: 5 }, () => randomBytes(20));
    const truth = new Map<string, number>();
    const stream: Buffer[] = [];
    // 5 heavy swarms with 400..800 announces each, amid 20,000 announces of 10,000 other swarms.
    heavy.forEach((hash, i) => {
      for (let n = 0; n < 400 + i * 100; n++) stream.push(hash);
    });
    const cold = Array.from({ length: 10_000 }, () => randomBytes(20));
    for (let n = 0; n < 20_000; n++) stream.push(cold[n % cold.length]!);
    // A fixed shuffle, so that heavy and cold announces interleave.
    for (let i = stream.length - 1; i > 0; i--) {
      const j = (i * 7919) % (i + 1);
      [stream[i], stream[j]] = [stream[j]!, stream[i]!];
    }
    for (const hash of stream) {
      summary.add(hash);
      truth.set(hash.toString('hex'), (truth.get(hash.toString('hex')) ?? 0) + 1);
    }
    assert.equal(summary.total, stream.length);
    const top = summary.top();
    assert.ok(top.length <= capacity, 'never more counters than its capacity');
    const found = new Map(top.map((h) => [h.infoHash.toString('hex'), h]));
    for (const hash of heavy) {
      const entry = found.get(hash.toString('hex'));
      assert.ok(entry, 'every heavy hitter is monitored');
      const real = truth.get(hash.toString('hex'))!;
      assert.ok(entry.count >= real && entry.count - entry.error <= real, `count ${entry.count} (error ${entry.error}) bounds ${real}`);
    }
    assert.deepEqual(
      top.slice(0, 5).map((h) => h.infoHash.toString('hex')),
      [...heavy].reverse().map((h) => h.toString('hex')),
      'hottest first',
    );
  });

  it('is exact while it has room, and empties on reset', () => {
    const summary = new SpaceSaving(4);
    const [a, b] = [randomBytes(20), randomBytes(20)];
    for (let i = 0; i < 3; i++) summary.add(a);
    summary.add(b);
    assert.deepEqual(
      summary.top().map((h) => [h.infoHash.toString('hex'), h.count, h.error]),
      [
        [a.toString('hex'), 3, 0],
        [b.toString('hex'), 1, 0],
      ],
    );
    summary.reset();
    assert.deepEqual(summary.top(), []);
    assert.equal(summary.total, 0);
  });

  it('keeps nothing with capacity 0', () => {
    const summary = new SpaceSaving(0);
    summary.add(randomBytes(20));
    assert.deepEqual(summary.top(), []);
  });
});
