/** BackendMetricsProbe (shoal/testing) reads one series or fails: a misspelt metric, label or label value never reads as 0. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BackendMetricsProbe } from '../../src/testing/backend.js';

describe('BackendMetricsProbe', () => {
  it('reads 0 for a label value not counted yet, and the count once counted', async () => {
    const probe = new BackendMetricsProbe();
    assert.equal(await probe.flushes('ok'), 0);
    probe.metrics.flushed(true);
    assert.equal(await probe.value('tracker_backend_flushes_total', { outcome: 'ok' }), 1);
  });

  it('throws for a metric or a label name that does not exist', async () => {
    const probe = new BackendMetricsProbe();
    await assert.rejects(probe.value('tracker_backend_flush_total', { outcome: 'ok' }), /no metric tracker_backend_flush_total/);
    await assert.rejects(probe.value('tracker_backend_flushes_total', { result: 'ok' }), /has no label result/);
  });

  it('throws for a label value no series has, where a 0 would pass a check that expects none', async () => {
    const probe = new BackendMetricsProbe();
    assert.equal(await probe.value('tracker_backend_flushes_total', { outcome: 'error' }), 0);
    await assert.rejects(probe.value('tracker_backend_flushes_total', { outcome: 'failed' }), /has no series \{"outcome":"failed"\}/);
    await assert.rejects(probe.value('tracker_backend_flushes_total', { backend: 'other', outcome: 'error' }), /has no series/);
  });

  it('throws when the labels name more than one series', async () => {
    const probe = new BackendMetricsProbe();
    probe.metrics.written(2, true);
    await assert.rejects(probe.value('tracker_backend_written_total'), /2 series match \{\}; name more labels/);
    assert.equal(await probe.value('tracker_backend_written_total', { path: 'fast_lane' }), 2);
    assert.equal(await probe.value('tracker_backend_written_total', { path: 'client' }), 0);
  });
});
