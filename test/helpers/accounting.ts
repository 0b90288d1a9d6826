/** Accounting records for backend and consumer tests, and the backend metrics read back as numbers. */
import { createHash } from 'node:crypto';
import { Registry } from 'prom-client';
import type { AnnounceEvent } from '../../src/bittorrent/announce.js';
import type { AccountingRecord } from '../../src/backend/driver.js';
import { BackendMetrics } from '../../src/metrics/metrics.js';

const EVENTS: AnnounceEvent[] = ['none', 'started', 'completed', 'stopped'];

function bytes20(text: string): Buffer {
  return createHash('sha1').update(text).digest();
}

/**
 * The n-th record of a run: deterministic, so that a test can compute the totals it expects. Users,
 * torrents and amounts vary with n; every seventh record is a snatch.
 */
export function makeRecord(n: number, run = 'run', overrides: Partial<AccountingRecord> = {}): AccountingRecord {
  const userId = 1 + (n % 7);
  const torrentId = 100 + (n % 5);
  const rawUploaded = (n * 7919) % 100_000;
  const rawDownloaded = (n * 104_729) % 50_000;
  return {
    id: `${run}-${n.toString(36)}`,
    userId,
    torrentId,
    infoHash: bytes20(`torrent ${torrentId}`),
    peerId: bytes20(`peer ${userId}`),
    event: EVENTS[n % EVENTS.length]!,
    rawUploaded,
    rawDownloaded,
    uploaded: rawUploaded * 2,
    downloaded: n % 3 === 0 ? 0 : rawDownloaded,
    left: (n * 31) % 1000,
    snatched: n % 7 === 0,
    time: 1_700_000_000_000 + n * 1000,
    ...overrides,
  };
}

/** Backend metrics on their own registry, readable as plain numbers. */
export class MetricsProbe {
  readonly registry = new Registry();
  readonly metrics = new BackendMetrics(this.registry, 'redis-stream');

  async value(name: string, labels: Record<string, string> = {}): Promise<number> {
    const metric = this.registry.getSingleMetric(name);
    if (!metric) throw new Error(`no metric ${name}`);
    const { values } = await metric.get();
    const found = values.find((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want));
    return found?.value ?? 0;
  }

  flushes(outcome: 'ok' | 'error'): Promise<number> {
    return this.value('tracker_backend_flushes_total', { outcome });
  }
}
