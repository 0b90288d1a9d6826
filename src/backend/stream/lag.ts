/**
 * Polls the accounting stream's length and its consumer groups' lag (XLEN, XINFO GROUPS) every so often,
 * off the announce path, so that a consumer falling behind shows on the trackers' metrics. A poll is two
 * commands bounded by command_timeout; a failed one is counted and logged at most once a minute, never thrown.
 */
import type { Logger } from 'pino';
import type { ConsumerGroupState, StreamLagMetrics } from '../../metrics/stream-lag.js';
import type { RedisClient } from '../../redis/connection.js';

/** Groups exported at most: each is a label value, and a stream has one or two in practice. */
export const MAX_GROUPS = 16;

export class StreamLagMonitor {
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  private lastErrorLog = 0;

  constructor(
    private readonly client: RedisClient,
    private readonly stream: string,
    private readonly metrics: StreamLagMetrics,
    private readonly logger: Logger,
  ) {}

  start(intervalMs: number): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.poll(), intervalMs);
    // Polling alone must not keep a process alive.
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One poll; true when it updated the gauges. A poll still running is not overlapped. */
  async poll(): Promise<boolean> {
    if (this.polling) return false;
    this.polling = true;
    try {
      // Without the offline queue, a command while disconnected fails at once: no pile-up during an outage.
      const length = await this.client.xlen(this.stream);
      const groups = length === 0 && !(await this.client.exists(this.stream)) ? [] : parseGroups(await this.client.xinfo('GROUPS', this.stream));
      this.metrics.polled(length, groups);
      return true;
    } catch (error) {
      this.metrics.failed();
      const now = Date.now();
      if (now - this.lastErrorLog >= 60_000) {
        this.lastErrorLog = now;
        this.logger.warn({ err: error, stream: this.stream }, 'polling the accounting stream for consumer lag failed');
      }
      return false;
    } finally {
      this.polling = false;
    }
  }
}

/** XINFO GROUPS' reply: one flat field/value array per group. Unknown shapes are skipped, not trusted. */
export function parseGroups(reply: unknown): ConsumerGroupState[] {
  if (!Array.isArray(reply)) return [];
  const groups: ConsumerGroupState[] = [];
  for (const entry of reply.slice(0, MAX_GROUPS)) {
    if (!Array.isArray(entry)) continue;
    const fields = new Map<string, unknown>();
    for (let i = 0; i + 1 < entry.length; i += 2) fields.set(String(entry[i]), entry[i + 1]);
    const name = fields.get('name');
    const pending = Number(fields.get('pending'));
    if (typeof name !== 'string' || !Number.isFinite(pending)) continue;
    const rawLag = fields.get('lag');
    const lag = rawLag === null || rawLag === undefined ? null : Number(rawLag);
    groups.push({ name, pending, lag: lag !== null && Number.isFinite(lag) ? lag : null });
  }
  return groups;
}
