/** Metrics of the HTTPS listener's certificate: reloads by outcome, and when the served certificate expires. */
import { Counter, Gauge, type Registry } from 'prom-client';

export type ReloadOutcome = 'ok' | 'unchanged' | 'error';

interface Inc {
  inc(value?: number): void;
}

export class TlsMetrics {
  private readonly reloads: Record<ReloadOutcome, Inc>;
  private notAfter = 0;

  constructor(registry: Registry) {
    const registers = [registry];
    const reloads = new Counter({
      name: 'tracker_tls_reloads_total',
      help: 'Reads of the TLS certificate and key after a change on disk or SIGHUP, by outcome: ok (a new pair is served), unchanged (the same files), error (unreadable, or not a valid pair: the previous one is still served).',
      labelNames: ['outcome'],
      registers,
    });
    this.reloads = { ok: reloads.labels('ok'), unchanged: reloads.labels('unchanged'), error: reloads.labels('error') };
    for (const counter of Object.values(this.reloads)) counter.inc(0);
    const read = (): number => this.notAfter;
    new Gauge({
      name: 'tracker_tls_certificate_expiry_timestamp_seconds',
      help: 'When the certificate served now stops being valid (its notAfter), as a Unix time.',
      registers,
      collect() {
        this.set(read());
      },
    });
  }

  reloaded(outcome: ReloadOutcome): void {
    this.reloads[outcome].inc();
  }

  served(notAfter: Date): void {
    this.notAfter = Math.floor(notAfter.getTime() / 1000);
  }
}
