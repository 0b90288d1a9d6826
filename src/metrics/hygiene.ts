/**
 * Metrics of the connection hygiene: HTTP connections the tracker closed (caps, timeouts, malformed
 * requests) and UDP addresses it ignores. Kept apart from metrics.ts (the request metrics) because they
 * are counted by the listeners, not per answered request.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export const CLOSE_REASONS = ['address_cap', 'total_cap', 'timeout', 'malformed', 'keep_alive_idle', 'tls_handshake'] as const;
export type CloseReason = (typeof CLOSE_REASONS)[number];

interface Inc {
  inc(value?: number): void;
}

export class ConnectionMetrics {
  private readonly closes: Record<CloseReason, Inc>;
  private readonly forwardedRefusals: Inc;

  /** `open` reads the number of open HTTP connections when Prometheus scrapes. */
  constructor(registry: Registry, open: () => number) {
    const registers = [registry];
    const closes = new Counter({
      name: 'tracker_http_connections_closed_total',
      help: 'HTTP connections the tracker closed, by reason: address_cap and total_cap (refused at once), timeout (request head or request not complete in time, or nothing sent), malformed (unparsable request), keep_alive_idle (idle after an answer: normal), tls_handshake (a TLS handshake failed or was not done within http.tls.handshake_timeout).',
      labelNames: ['reason'],
      registers,
    });
    this.closes = Object.fromEntries(CLOSE_REASONS.map((reason) => [reason, closes.labels(reason)])) as Record<CloseReason, Inc>;
    this.forwardedRefusals = new Counter({
      name: 'tracker_http_forwarded_refused_total',
      help: 'Requests from a trusted proxy refused because their forwarded client address already had max_connections_per_address requests in flight.',
      registers,
    });
    new Gauge({
      name: 'tracker_http_connections_open',
      help: 'HTTP connections open now.',
      registers,
      collect() {
        this.set(open());
      },
    });
    for (const counter of [...Object.values(this.closes), this.forwardedRefusals]) counter.inc(0);
  }

  closed(reason: CloseReason): void {
    this.closes[reason].inc();
  }

  refusedForwarded(): void {
    this.forwardedRefusals.inc();
  }
}

export class UdpBanMetrics {
  private readonly ignoredCounter: Inc;
  private readonly banCounter: Inc;

  /** `banned` reads the number of addresses banned now when Prometheus scrapes. */
  constructor(registry: Registry, banned: () => number) {
    const registers = [registry];
    this.ignoredCounter = new Counter({
      name: 'tracker_udp_ignored_total',
      help: 'UDP packets from banned addresses left unanswered (no valid connection id).',
      registers,
    });
    this.banCounter = new Counter({
      name: 'tracker_udp_bans_total',
      help: 'UDP bans started: an address sent ban_threshold invalid packets within ban_window.',
      registers,
    });
    new Gauge({
      name: 'tracker_udp_banned_addresses',
      help: 'Addresses (IPv6: /64 prefixes) whose invalid UDP packets are ignored now.',
      registers,
      collect() {
        this.set(banned());
      },
    });
    this.ignoredCounter.inc(0);
    this.banCounter.inc(0);
  }

  ignored(): void {
    this.ignoredCounter.inc();
  }

  banned(): void {
    this.banCounter.inc();
  }
}
