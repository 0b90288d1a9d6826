/**
 * Metrics of the tracker's defences: requests refused over budget, the addresses and subnets over
 * budget now, announces too soon, peers answered but not stored. The tracker reports through its
 * DefenceObserver; the gauges read the request budget when scraped.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { BudgetScope, RequestBudget } from '../tracker/budget.js';
import type { BudgetProtocol, DefenceObserver } from '../tracker/defences.js';
import type { CheckResult } from '../tracker/connectability.js';
import type { NotStored } from '../store/driver.js';
import type { TokenEnd } from '../backend/driver.js';

export class DefenceMetrics implements DefenceObserver {
  /** The refusal counters by protocol, action and scope, bound once: a flood must not pay a label lookup per request. */
  private readonly overBudgetChildren: Record<string, { inc(): void }> = {};
  private readonly tooSoonCounter: Counter<'outcome'>;
  private readonly notStoredCounter: Counter<'reason'>;
  private readonly withheldCounter: Counter;
  private readonly tokensEndedCounter: Counter<'end' | 'outcome'>;
  private readonly connectabilityCounter: Counter<'result'>;

  constructor(registry: Registry, budget: () => RequestBudget | null) {
    const registers = [registry];
    const overBudget = new Counter({
      name: 'tracker_budget_refusals_total',
      help: 'Requests refused because their address or subnet spent its request budget, by protocol, action and scope (address, subnet).',
      labelNames: ['protocol', 'action', 'scope'],
      registers,
    });
    for (const protocol of ['http', 'udp', 'webtorrent'] satisfies BudgetProtocol[])
      for (const action of ['announce', 'scrape'])
        for (const scope of ['address', 'subnet']) {
          const child = overBudget.labels(protocol, action, scope);
          child.inc(0);
          this.overBudgetChildren[`${protocol} ${action} ${scope}`] = child;
        }
    new Gauge({
      name: 'tracker_budget_over',
      help: "Addresses and subnets over their request budget in this window, as this replica knows them (the others' counts arrive with each sync).",
      labelNames: ['scope'],
      registers,
      collect() {
        const over = budget()?.overBudget ?? { address: 0, subnet: 0 };
        this.labels('address').set(over.address);
        this.labels('subnet').set(over.subnet);
      },
    });
    new Gauge({
      name: 'tracker_budget_sync_errors',
      help: 'Failed merges of request counts with the other replicas since start (counts stay local meanwhile).',
      registers,
      collect() {
        this.set(budget()?.syncErrors ?? 0);
      },
    });
    this.tooSoonCounter = new Counter({
      name: 'tracker_min_interval_total',
      help: 'Announces without an event sooner than min interval: answered without a write, or refused (min_interval_enforcement).',
      labelNames: ['outcome'],
      registers,
    });
    this.tooSoonCounter.labels('answered').inc(0);
    this.tooSoonCounter.labels('refused').inc(0);
    this.notStoredCounter = new Counter({
      name: 'tracker_admission_refused_total',
      help: "Peers answered but not stored (admission control), by reason: the process's peer_limit, a swarm's swarm_limit, Redis out_of_memory.",
      labelNames: ['reason'],
      registers,
    });
    for (const reason of ['peer_limit', 'swarm_limit', 'out_of_memory']) this.notStoredCounter.labels(reason).inc(0);
    this.withheldCounter = new Counter({
      name: 'tracker_peer_lists_withheld_total',
      help: 'Private announces answered without peers because their user spent private.peer_list_budget (tracked and credited all the same).',
      registers,
    });
    this.withheldCounter.inc(0);
    this.tokensEndedCounter = new Counter({
      name: 'tracker_tokens_ended_total',
      help: 'Freeleech tokens ended by an announce, by end (completed, expired) and outcome (deleted; failed: the catalogue could not be written, the token stays until an announce ends it again).',
      labelNames: ['end', 'outcome'],
      registers,
    });
    for (const end of ['completed', 'expired']) for (const outcome of ['deleted', 'failed']) this.tokensEndedCounter.labels(end, outcome).inc(0);
    this.connectabilityCounter = new Counter({
      name: 'tracker_connectability_checks_total',
      help: "Connectability checks (private.connectable_check) by result: connectable, not_connectable, or skipped (an address never checked: private range, trusted proxy; or this replica's queue full). A result another replica stored is not counted again.",
      labelNames: ['result'],
      registers,
    });
    for (const result of ['connectable', 'not_connectable', 'skipped']) this.connectabilityCounter.labels(result).inc(0);
  }

  connectabilityChecked(result: CheckResult): void {
    this.connectabilityCounter.labels(result).inc();
  }

  tokenEnded(end: TokenEnd, failed: boolean): void {
    this.tokensEndedCounter.labels(end, failed ? 'failed' : 'deleted').inc();
  }

  peerListWithheld(): void {
    this.withheldCounter.inc();
  }

  overBudget(protocol: BudgetProtocol, action: 'announce' | 'scrape', scope: BudgetScope): void {
    this.overBudgetChildren[`${protocol} ${action} ${scope}`]!.inc();
  }

  tooSoon(refused: boolean): void {
    this.tooSoonCounter.labels(refused ? 'refused' : 'answered').inc();
  }

  notStored(reason: NotStored): void {
    this.notStoredCounter.labels(reason).inc();
  }
}
