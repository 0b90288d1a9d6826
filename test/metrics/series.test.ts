/** The numbered-series metrics print what prom-client's own would for the same observations. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counter, Histogram, Registry } from 'prom-client';
import { SeriesCounter, SeriesHistogram } from '../../src/metrics/series.js';

/** Exposition lines as comparable keys: metric name, labels sorted by name, value. */
function samples(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const match = /^(\w+)(?:\{(.*)\})? (.+)$/.exec(line)!;
      const labels = (match[2] ?? '').split(',').filter(Boolean).sort().join(',');
      return `${match[1]}{${labels}} ${Number(match[3])}`;
    })
    .sort();
}

const SERIES = [
  { protocol: 'http', action: 'announce' },
  { protocol: 'udp', action: 'announce' },
  { protocol: 'udp', action: 'scrape' },
];
const BUCKETS = [0.001, 0.01, 0.1];

describe('series metrics', () => {
  it('a SeriesHistogram prints the buckets, sum and count that prom-client prints for the same observations', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const histogram = new SeriesHistogram({ name: 'h', help: 'h', labelNames: ['protocol', 'action'], series: SERIES, buckets: BUCKETS, registers: [ours] });
    const reference = new Histogram({ name: 'h', help: 'h', labelNames: ['protocol', 'action'], buckets: BUCKETS, registers: [theirs] });
    const observations: [number, number][] = [
      [0, 0.0005],
      [0, 0.001],
      [0, 0.05],
      [0, 3],
      [1, 0.002],
      [1, 0.2],
    ];
    for (const [series, value] of observations) {
      histogram.observeAt(series, value);
      reference.observe(SERIES[series]!, value);
    }
    const text = await ours.metrics();
    assert.deepEqual(samples(text), samples(await theirs.metrics()));
    assert.match(text, /# TYPE h histogram/);
    assert.ok(!text.includes('action="scrape"'), 'a series never observed is not printed');
  });

  it('a SeriesCounter prints the counts of each series that was counted, and resets', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const counter = new SeriesCounter({ name: 'c_total', help: 'c', labelNames: ['protocol', 'action'], series: SERIES, registers: [ours] });
    const reference = new Counter({ name: 'c_total', help: 'c', labelNames: ['protocol', 'action'], registers: [theirs] });
    for (const series of [0, 0, 2, 0, 2]) {
      counter.incAt(series);
      reference.inc(SERIES[series]!);
    }
    assert.deepEqual(samples(await ours.metrics()), samples(await theirs.metrics()));
    assert.match(await ours.metrics(), /# TYPE c_total counter/);
    counter.reset();
    assert.deepEqual(samples(await ours.metrics()), []);
  });
});
