/**
 * The reference consumer's metrics: what it applied, and what the session marks credited beyond the
 * records' own deltas (bytes a crash would have cost), on their own registry and listener
 * (consumer.metrics_addr): the consumer is a process of its own.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Registry } from 'prom-client';
import { createLimitedServer, listenHttp } from '../common/listen.js';
import type { BatchOutcome } from './postgres.js';

export class ConsumerMetrics {
  readonly registry = new Registry();
  private readonly records = new Counter({
    name: 'tracker_consumer_records_total',
    help: 'Accounting records the consumer handled, by outcome: applied, duplicate (an id applied before), dead_letter (malformed)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  private readonly recovered = new Counter({
    name: 'tracker_consumer_credited_by_recovery_bytes_total',
    help: "Raw bytes the session marks credited beyond the records' own deltas: records lost before the stream (a killed replica, Redis losing writes), covered by a later record",
    labelNames: ['direction'],
    registers: [this.registry],
  });
  private readonly recoveredRecords = new Counter({
    name: 'tracker_consumer_recovering_records_total',
    help: 'Records that credited more than their own delta because an earlier record of their session never arrived',
    registers: [this.registry],
  });
  private readonly suppressed = new Counter({
    name: 'tracker_consumer_credit_suppressed_bytes_total',
    help: "Raw bytes the records' own deltas claimed that the session marks had credited already (a record late or written twice)",
    labelNames: ['direction'],
    registers: [this.registry],
  });

  private readonly streamLosses = new Counter({
    name: 'tracker_consumer_stream_losses_total',
    help: 'Times the consumer found that Redis had lost the unread part of the accounting stream (the group gone, or gone back to an older copy)',
    labelNames: ['how'],
    registers: [this.registry],
  });

  constructor() {
    for (const how of ['group_gone', 'went_back']) this.streamLosses.inc({ how }, 0);
    for (const outcome of ['applied', 'duplicate', 'dead_letter']) this.records.inc({ outcome }, 0);
    for (const direction of ['up', 'down']) {
      this.recovered.inc({ direction }, 0);
      this.suppressed.inc({ direction }, 0);
    }
  }

  batch(outcome: BatchOutcome): void {
    this.records.inc({ outcome: 'applied' }, outcome.applied);
    this.records.inc({ outcome: 'duplicate' }, outcome.duplicates);
    this.records.inc({ outcome: 'dead_letter' }, outcome.deadLetters);
    const r = outcome.recovery;
    this.recoveredRecords.inc(r.records);
    this.recovered.inc({ direction: 'up' }, Number(r.uploaded));
    this.recovered.inc({ direction: 'down' }, Number(r.downloaded));
    this.suppressed.inc({ direction: 'up' }, Number(r.suppressedUploaded));
    this.suppressed.inc({ direction: 'down' }, Number(r.suppressedDownloaded));
  }

  streamLost(how: 'group_gone' | 'went_back'): void {
    this.streamLosses.inc({ how });
  }

  /** Serves /metrics (Prometheus text) on host:port. */
  async listen(host: string, port: number): Promise<{ server: Server; address: AddressInfo }> {
    const server = createLimitedServer(
      (req, res) => {
        if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') return void res.writeHead(404).end();
        this.registry.metrics().then(
          (body) => res.writeHead(200, { 'Content-Type': this.registry.contentType }).end(body),
          () => res.writeHead(500).end(),
        );
      },
      { headerTimeoutMs: 5000, requestTimeoutMs: 10_000, keepAliveTimeoutMs: 5000, maxConnections: 64 },
    );
    return { server, address: await listenHttp(server, host, port) };
  }
}
