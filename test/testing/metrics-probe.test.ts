/** BackendMetricsProbe (shoal/testing) reads a series or fails: a misspelt metric or label never reads as 0. */
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
});
