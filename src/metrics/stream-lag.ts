/**
 * The accounting stream as the tracker sees it from Redis: its length and, per consumer group, the
 * entries not yet delivered (lag) and delivered but not acknowledged (pending). The redis-stream backend
 * polls these off the announce path; consumers need not export metrics for their lag to be watched.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

/** One consumer group as XINFO GROUPS reports it; lag is null where Redis cannot tell (before 7, or after trims). */
export interface ConsumerGroupState {
  name: string;
  lag: number | null;
  pending: number;
}

export class StreamLagMetrics {
  private readonly length: Gauge;
  private readonly lag: Gauge<'group'>;
  private readonly pending: Gauge<'group'>;
  private readonly errors: { inc(value?: number): void };

  constructor(registry: Registry) {
    const registers = [registry];
    // No gauge series before the first poll: a backend that never polls exports none (the error counter is 0).
    this.length = new Gauge({ name: 'tracker_backend_stream_length', help: 'Entries in the accounting stream (XLEN), as last polled.', registers });
    this.lag = new Gauge({
      name: 'tracker_backend_consumer_lag',
      help: 'Entries of the accounting stream not yet delivered to the consumer group (XINFO GROUPS lag); absent where Redis cannot tell.',
      labelNames: ['group'],
      registers,
    });
    this.pending = new Gauge({
      name: 'tracker_backend_consumer_pending',
      help: 'Entries delivered to the consumer group but not acknowledged (XINFO GROUPS pending).',
      labelNames: ['group'],
      registers,
    });
    this.errors = new Counter({
      name: 'tracker_backend_stream_poll_errors_total',
      help: 'Failed polls of the accounting stream length and consumer lag (the gauges keep their last values).',
      registers,
    });
    this.errors.inc(0);
  }

  polled(length: number, groups: readonly ConsumerGroupState[]): void {
    this.length.set(length);
    // Reset first: a group deleted since the last poll must not linger with its old lag.
    this.lag.reset();
    this.pending.reset();
    for (const group of groups) {
      if (group.lag !== null) this.lag.labels(group.name).set(group.lag);
      this.pending.labels(group.name).set(group.pending);
    }
  }

  failed(): void {
    this.errors.inc();
  }
}
