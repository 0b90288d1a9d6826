/**
 * Metrics of the IP blocklists (blocklist.files): requests refused and peers left out, by list; the
 * ranges each list holds; reloads after a change, by result. Each list's counters are made at start
 * (a list at 0 shows in Prometheus, and a refusal pays no label lookup).
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { BlocklistObserver, Blocklists, BlockProtocol } from '../blocklist/lists.js';

const PROTOCOLS: BlockProtocol[] = ['http', 'udp', 'webtorrent'];

export class BlocklistMetrics implements BlocklistObserver {
  private readonly refusals = new Map<string, { inc(): void }>();
  private readonly withheldByList = new Map<string, { inc(): void }>();
  private readonly reloads: Counter<'list' | 'result'>;

  constructor(registry: Registry, lists: Blocklists) {
    const registers = [registry];
    const refused = new Counter({
      name: 'tracker_blocklist_refusals_total',
      help: 'Requests refused because the client address is on a blocklist, by list (the first in blocklist.files that holds it) and protocol (UDP: every packet left unanswered).',
      labelNames: ['list', 'protocol'],
      registers,
    });
    const withheld = new Counter({
      name: 'tracker_blocklist_peers_withheld_total',
      help: 'Peers left out of announce answers because their address is on a blocklist (blocklist.peers), by list.',
      labelNames: ['list'],
      registers,
    });
    this.reloads = new Counter({
      name: 'tracker_blocklist_reloads_total',
      help: 'Blocklist files read again after a change, by list and result: ok (in force), failed (the previous list stays; see the log).',
      labelNames: ['list', 'result'],
      registers,
    });
    new Gauge({
      name: 'tracker_blocklist_ranges',
      help: 'Address ranges each blocklist holds, after overlapping and adjacent ranges are merged.',
      labelNames: ['list'],
      registers,
      collect() {
        for (const { name, ranges } of lists.ranges()) this.labels(name).set(ranges);
      },
    });
    this.refused0 = refused;
    this.withheld0 = withheld;
    this.listsChanged(lists.names);
  }

  private readonly refused0: Counter<'list' | 'protocol'>;
  private readonly withheld0: Counter<'list'>;

  /** Makes the counters of lists new since the start (a reload of blocklist.files); a removed list's stay. */
  listsChanged(names: readonly string[]): void {
    for (const list of names) {
      if (this.withheldByList.has(list)) continue;
      for (const protocol of PROTOCOLS) {
        const child = this.refused0.labels(list, protocol);
        child.inc(0);
        this.refusals.set(`${list} ${protocol}`, child);
      }
      const child = this.withheld0.labels(list);
      child.inc(0);
      this.withheldByList.set(list, child);
      for (const result of ['ok', 'failed']) this.reloads.labels(list, result).inc(0);
    }
  }

  refused(list: string, protocol: BlockProtocol): void {
    this.refusals.get(`${list} ${protocol}`)?.inc();
  }

  withheld(list: string): void {
    this.withheldByList.get(list)?.inc();
  }

  reloaded(list: string, ok: boolean): void {
    this.reloads.labels(list, ok ? 'ok' : 'failed').inc();
  }
}
