/**
 * The backend driver conformance suite: the obligations of the Backend contract (src/backend/driver.ts),
 * written against the contract only. record() never waits on the site's database: it returns nothing
 * while the driver has room, and otherwise only a promise that resolves; flush() writes out everything
 * accepted so far; close() lets nothing accepted be lost; the metrics it is given stay consistent.
 *
 * Where the records go is the driver's business, so the factory may say how to read them back
 * (`written`); with it, the suite checks that every accepted record arrives, whole and in order.
 *
 *   import { backendConformanceSuite } from 'shoal/testing';
 *   backendConformanceSuite('mine', async (ctx) => ({ backend: await myDriver.open({}, ctx), written: readMyQueue }));
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { AnnounceEvent } from '../bittorrent/announce.js';
import type { AccountingRecord, Backend, BackendContext } from '../backend/driver.js';
import { BackendMetrics } from '../metrics/metrics.js';

export interface BackendUnderTest {
  /** A backend opened for this test alone, with room for at least 100 records. */
  backend: Backend;
  /**
   * What has reached the backend's destination so far, in the order written (a record written again
   * after a failure may appear twice). Give it whenever the test can read the destination.
   */
  written?(): Promise<AccountingRecord[]>;
  /**
   * True for a driver that keeps nothing by design (noop): then, and only then, `written` may be left
   * out, and the checks of what arrived are reported as skipped. Any other driver must give `written`.
   */
  discards?: boolean;
}

/** Opens a fresh backend with this context; called once per test, and the suite closes what it returns. */
export type BackendFactory = (ctx: BackendContext) => Promise<BackendUnderTest>;

const EVENTS: readonly AnnounceEvent[] = ['none', 'started', 'completed', 'stopped'];

/** The n-th record of a run: distinct ids, values that vary with n, every seventh record a snatch. */
export function accountingRecord(n: number, run = randomBytes(4).toString('hex')): AccountingRecord {
  const sha1 = (text: string): Buffer => createHash('sha1').update(text).digest();
  const rawUploaded = (n * 7919) % 100_000;
  const rawDownloaded = (n * 104_729) % 50_000;
  return {
    id: `${run}-${n}`,
    userId: 1 + (n % 7),
    torrentId: 100 + (n % 5),
    infoHash: sha1(`torrent ${n % 5}`),
    peerId: sha1(`peer ${n % 7}`),
    event: EVENTS[n % EVENTS.length]!,
    rawUploaded,
    rawDownloaded,
    uploaded: rawUploaded * 2,
    downloaded: n % 3 === 0 ? 0 : rawDownloaded,
    left: (n * 31) % 1000,
    snatched: n % 7 === 0,
    time: 1_700_000_000_000 + n * 1000,
  };
}

/** Fails instead of hanging when `promise` does not settle within `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new assert.AssertionError({ message: `${what}: not settled within ${ms} ms` })), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const isThenable = (value: unknown): value is PromiseLike<unknown> => typeof (value as PromiseLike<unknown> | null)?.then === 'function';

/**
 * Hands the records over as the tracker does: one record() each, without waiting between them; a
 * promise returned (a full buffer under a policy that makes the announce wait) must resolve.
 */
async function recordAll(backend: Backend, records: AccountingRecord[]): Promise<void> {
  const waiting: Array<PromiseLike<unknown>> = [];
  for (const record of records) {
    const result: unknown = backend.record(record);
    if (result === undefined) continue;
    assert.ok(isThenable(result), `record() returned ${typeof result}: it returns undefined, or a promise when the announce must wait`);
    waiting.push(result);
  }
  await within(Promise.all(waiting), 15_000, 'the promises record() returned');
}

export function backendConformanceSuite(driverName: string, open: BackendFactory): void {
  const logger = pino({ level: 'silent' });

  /** Opens a backend (with metrics unless told otherwise), runs `body`, and closes the backend whatever happens. */
  async function withBackend(body: (under: BackendUnderTest, metrics: BackendMetricsProbe) => Promise<void>, withMetrics = true): Promise<void> {
    const metrics = new BackendMetricsProbe();
    const under = await open(withMetrics ? { logger, metrics: metrics.metrics } : { logger });
    let closed = false;
    try {
      await body({ ...under, backend: wrapClose(under.backend, () => (closed = true)) }, metrics);
    } finally {
      if (!closed) await under.backend.close().catch(() => {});
    }
  }

  /** Checks that these records, and in this order, are among those written (after their run's earlier ones). */
  async function assertWritten(under: BackendUnderTest, records: AccountingRecord[]): Promise<void> {
    if (!under.written) {
      assert.ok(under.discards === true, 'the factory gives no written(): without reading back what the driver wrote, nothing here proves it arrives');
      return;
    }
    const ids = new Set(records.map((r) => r.id));
    const firsts = new Map<string, AccountingRecord>();
    for (const r of await under.written()) if (ids.has(r.id) && !firsts.has(r.id)) firsts.set(r.id, r);
    const missing = records.filter((r) => !firsts.has(r.id)).map((r) => r.id);
    assert.deepEqual(missing, [], `${missing.length} of ${records.length} accepted records not written`);
    assert.deepEqual(
      [...firsts.keys()],
      records.map((r) => r.id),
      'records are written in the order accepted',
    );
    for (const r of records) assert.deepEqual(firsts.get(r.id), r, `record ${r.id} is written whole`);
  }

  describe(`backend driver conformance: ${driverName}`, () => {
    it('can be read back (written), or keeps nothing by design (discards)', (t) =>
      withBackend(async (under) => {
        if (under.written) return;
        assert.ok(under.discards === true, 'the factory gives no written(): give it, or discards: true for a driver that keeps nothing');
        t.skip('keeps nothing by design: what arrives is not checked');
      }));
    it('accepts records at once while it has room (record() returns undefined; for an event, at most a promise that settles soon), with no metrics given', () =>
      withBackend(async ({ backend }) => {
        const run = randomBytes(4).toString('hex');
        for (let n = 0; n < 100; n++) {
          const record = accountingRecord(n, run);
          const result = backend.record(record);
          if (record.event !== 'none') {
            // No later record of the session covers these: a driver may hold the announce until the record is safe.
            if (result !== undefined) await within(Promise.resolve(result), 15_000, `record() of a ${record.event} record`);
          } else {
            assert.equal(result, undefined, `record ${n} of 100 (${record.event}) into a fresh backend`);
          }
        }
        await within(backend.flush(), 15_000, 'flush()');
      }, false));

    it('flush() writes out everything accepted so far, whole and in order', () =>
      withBackend(async (under) => {
        const run = randomBytes(4).toString('hex');
        const first = Array.from({ length: 30 }, (_, n) => accountingRecord(n, run));
        await recordAll(under.backend, first);
        await within(under.backend.flush(), 15_000, 'flush()');
        await assertWritten(under, first);
        const more = Array.from({ length: 10 }, (_, n) => accountingRecord(30 + n, run));
        await recordAll(under.backend, more);
        await within(under.backend.flush(), 15_000, 'the second flush()');
        await assertWritten(under, [...first, ...more]);
      }));

    it('flush() with nothing buffered resolves promptly, before and after records', () =>
      withBackend(async ({ backend }) => {
        await within(backend.flush(), 2000, 'flush() of a fresh backend');
        await recordAll(backend, [accountingRecord(0)]);
        await within(backend.flush(), 15_000, 'flush()');
        await within(backend.flush(), 2000, 'flush() with nothing new');
      }));

    it('keeps a record accepted while a flush is under way', () =>
      withBackend(async (under) => {
        const run = randomBytes(4).toString('hex');
        const records = Array.from({ length: 20 }, (_, n) => accountingRecord(n, run));
        await recordAll(under.backend, records.slice(0, 10));
        const flushing = under.backend.flush();
        await recordAll(under.backend, records.slice(10));
        await within(flushing, 15_000, 'the first flush()');
        await within(under.backend.flush(), 15_000, 'the second flush()');
        await assertWritten(under, records);
      }));

    it('close() writes out what was accepted, and resolves', () =>
      withBackend(async (under) => {
        const run = randomBytes(4).toString('hex');
        const records = Array.from({ length: 25 }, (_, n) => accountingRecord(n, run));
        await recordAll(under.backend, records);
        await within(under.backend.close(), 15_000, 'close()');
        await assertWritten(under, records);
      }));

    it('keeps its metrics consistent: nothing dropped, no failed flush, an empty queue once flushed', () =>
      withBackend(async ({ backend }, probe) => {
        const run = randomBytes(4).toString('hex');
        await recordAll(
          backend,
          Array.from({ length: 50 }, (_, n) => accountingRecord(n, run)),
        );
        await within(backend.flush(), 15_000, 'flush()');
        assert.equal(await probe.value('tracker_backend_dropped_total'), 0, 'records dropped with room to spare');
        assert.equal(await probe.value('tracker_backend_flushes_total', { outcome: 'error' }), 0, 'failed flushes against a healthy destination');
        assert.equal(await probe.value('tracker_backend_queue_depth'), 0, 'records still queued after flush()');
        const recorded = await probe.value('tracker_backend_records_total');
        assert.ok(recorded === 0 || recorded === 50, `records counted: ${recorded}, of 50 handed over (a driver counts each once, or none)`);
      }));
  });
}

/** A backend whose close() also tells the suite it was called, so that it is not closed twice. */
function wrapClose(backend: Backend, onClose: () => void): Backend {
  return {
    record: (entry) => backend.record(entry),
    flush: () => backend.flush(),
    close: () => {
      onClose();
      return backend.close();
    },
  };
}

/** Backend metrics on a registry of their own, read back as numbers (for a backend's own tests too). */
export class BackendMetricsProbe {
  readonly registry = new Registry();
  readonly metrics: BackendMetrics;

  constructor(backend = 'conformance') {
    this.metrics = new BackendMetrics(this.registry, backend);
  }

  /**
   * The value of the one series of `name` with these labels. Throws for a metric or a label name that does
   * not exist, for labels no series has, and for labels more than one series has: a misspelt or renamed
   * metric, label or label value must fail a check, never read as 0 (and pass one that expects 0).
   * BackendMetrics creates every series it has at 0 when it starts, so "not counted yet" is a series of 0.
   */
  async value(name: string, labels: Record<string, string> = {}): Promise<number> {
    const metric = this.registry.getSingleMetric(name);
    if (!metric) throw new Error(`no metric ${name}`);
    const known = (metric as unknown as { labelNames?: readonly string[] }).labelNames ?? [];
    for (const label of Object.keys(labels)) if (!known.includes(label)) throw new Error(`metric ${name} has no label ${label} (labels: ${known.join(', ')})`);
    const { values } = await metric.get();
    const found = values.filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want));
    const series = () => values.map((v) => JSON.stringify(v.labels)).join(', ');
    if (found.length === 0) throw new Error(`metric ${name} has no series ${JSON.stringify(labels)} (series: ${series()})`);
    if (found.length > 1) throw new Error(`metric ${name}: ${found.length} series match ${JSON.stringify(labels)}; name more labels (series: ${series()})`);
    return found[0]!.value;
  }

  flushes(outcome: 'ok' | 'error'): Promise<number> {
    return this.value('tracker_backend_flushes_total', { outcome });
  }
}
