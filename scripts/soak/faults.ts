/**
 * The faults and their schedule. Replica SIGKILLs come every 20 s; the other kinds are spread evenly over
 * the fault window in an order drawn from the seed, once per cycle of about two and a half minutes, so
 * that a short run (3 minutes: the CI test) holds every kind and a given --seed gives the same schedule.
 * Two executors run the plan: one for the periodic SIGKILLs, one for the rest, which may take seconds
 * (a failover waits for the promotion); a replica is never the target of two faults at once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { NodeService } from './children.js';
import type { Random } from './random.js';
import type { TopologyName } from './topology.js';

export type FaultKind =
  'replica-sigkill' | 'replica-sigterm' | 'consumer-sigkill' | 'postgres-restart' | 'sentinel-failover' | 'redis-data-loss' | 'cluster-master-failover';

/** Faults after which Redis may have lost stream entries it had accepted (no persistence, asynchronous replication). */
export const REDIS_LOSS_KINDS: readonly FaultKind[] = ['redis-data-loss', 'sentinel-failover', 'cluster-master-failover'];

export const REPLICA_KILL_EVERY_MS = 20_000;
/** A killed replica (or consumer) is started again this long after. */
const RESTART_AFTER_MS = 2000;
/** The kinds of one cycle besides the periodic SIGKILLs. */
const CYCLE: Record<TopologyName, FaultKind[]> = {
  sentinel: ['replica-sigterm', 'replica-sigterm', 'consumer-sigkill', 'postgres-restart', 'sentinel-failover', 'redis-data-loss'],
  cluster: ['replica-sigterm', 'consumer-sigkill', 'postgres-restart', 'cluster-master-failover'],
};
const CYCLE_MS = 150_000;

export interface PlannedFault {
  /** Milliseconds after the start of the fault window. */
  at: number;
  kind: FaultKind;
}

export function planFaults(random: Random, topology: TopologyName, windowMs: number): PlannedFault[] {
  const plan: PlannedFault[] = [];
  for (let at = 5000; at < windowMs; at += REPLICA_KILL_EVERY_MS) plan.push({ at, kind: 'replica-sigkill' });
  const cycles = Math.max(1, Math.floor(windowMs / CYCLE_MS));
  const cycleMs = windowMs / cycles;
  for (let c = 0; c < cycles; c++) {
    const kinds = random.shuffle(CYCLE[topology]);
    // Evenly spread, each a little off the slot's middle (drawn from the seed, never past the window).
    kinds.forEach((kind, i) => {
      const slot = cycleMs / kinds.length;
      plan.push({ at: Math.round(c * cycleMs + slot * (i + 0.5) + random.between(-0.2, 0.2) * slot), kind });
    });
  }
  return plan.sort((a, b) => a.at - b.at);
}

export interface FaultRecord {
  kind: FaultKind;
  /** When it was done (ms since the epoch), and when what it broke was back. */
  at: number;
  recoveredAt: number;
  detail: string;
  error?: string;
}

/** What the executors act on. */
export interface FaultTargets {
  replicas: Array<{ label: string; service: NodeService }>;
  consumer: NodeService;
  restartPostgres(): Promise<void>;
  sentinelFailover?(): Promise<string>;
  redisDataLoss?(): Promise<string>;
  clusterMasterFailover?(): Promise<string>;
}

export class FaultInjector {
  readonly done: FaultRecord[] = [];
  /** Replicas a fault holds (down, or being stopped): no second fault takes them. */
  private readonly busy = new Set<string>();
  private readonly background = new Set<Promise<void>>();

  constructor(
    private readonly random: Random,
    private readonly targets: FaultTargets,
    private readonly log: (line: string) => void,
    private readonly since: number,
  ) {}

  /** Runs the plan from `windowStart` (ms since the epoch); a fault whose time falls after `windowEnd` is skipped. */
  async run(plan: PlannedFault[], windowStart: number, windowEnd: number): Promise<void> {
    const kills = plan.filter((p) => p.kind === 'replica-sigkill');
    const others = plan.filter((p) => p.kind !== 'replica-sigkill');
    await Promise.all([this.execute(kills, windowStart, windowEnd), this.execute(others, windowStart, windowEnd)]);
    // Restarts in flight (a replica killed 2 s ago) finish before the quiet tail begins.
    await Promise.all(this.background);
  }

  private async execute(plan: PlannedFault[], windowStart: number, windowEnd: number): Promise<void> {
    for (const fault of plan) {
      const due = windowStart + fault.at;
      if (due > Date.now()) await sleep(due - Date.now());
      if (Date.now() > windowEnd) {
        this.log(`fault ${fault.kind} skipped: its time came after the fault window`);
        continue;
      }
      const record: FaultRecord = { kind: fault.kind, at: Date.now(), recoveredAt: 0, detail: '' };
      this.done.push(record);
      try {
        record.detail = await this.inject(fault.kind, record);
      } catch (error) {
        record.error = (error as Error).message;
      }
      if (!record.recoveredAt) record.recoveredAt = Date.now();
      const t = (ms: number) => `t+${((ms - this.since) / 1000).toFixed(1)}s`;
      this.log(`${t(record.at)} ${record.kind}: ${record.detail}${record.error ? ` FAILED: ${record.error}` : ''}`);
    }
  }

  /** A replica no fault holds, drawn from the seed; null when only one would be left up. */
  private pickReplica(): { label: string; service: NodeService } | null {
    const up = this.targets.replicas.filter((r) => !this.busy.has(r.label) && r.service.running);
    if (up.length < 2) return null;
    return this.random.pick(up);
  }

  /** Starts `service` again after `delayMs`, in the background; the record's recovery time is its start. */
  private restartLater(service: NodeService, delayMs: number, record: FaultRecord, label?: string): void {
    record.recoveredAt = Number.MAX_SAFE_INTEGER;
    const task = (async () => {
      await sleep(delayMs);
      try {
        await service.start();
      } catch (error) {
        record.error = `restart failed: ${(error as Error).message}`;
        this.log(`${service.label} restart failed: ${(error as Error).message}`);
      }
      record.recoveredAt = Date.now();
      if (label) this.busy.delete(label);
    })();
    this.background.add(task);
    void task.then(() => this.background.delete(task));
  }

  private async inject(kind: FaultKind, record: FaultRecord): Promise<string> {
    switch (kind) {
      case 'replica-sigkill':
      case 'replica-sigterm': {
        const replica = this.pickReplica();
        if (!replica) throw new Error('fewer than two replicas up: not taking another down');
        this.busy.add(replica.label);
        const pid = replica.service.pid;
        await replica.service.stop(kind === 'replica-sigkill' ? 'SIGKILL' : 'SIGTERM');
        this.restartLater(replica.service, RESTART_AFTER_MS, record, replica.label);
        return `${replica.label} (pid ${pid}) ${kind === 'replica-sigkill' ? 'killed' : 'stopped'}, restarting in ${RESTART_AFTER_MS / 1000} s`;
      }
      case 'consumer-sigkill': {
        const pid = this.targets.consumer.pid;
        await this.targets.consumer.stop('SIGKILL');
        this.restartLater(this.targets.consumer, RESTART_AFTER_MS, record);
        return `consumer (pid ${pid}) killed, restarting in ${RESTART_AFTER_MS / 1000} s`;
      }
      case 'postgres-restart':
        await this.targets.restartPostgres();
        return 'pg_ctl stop -m immediate, then start';
      case 'sentinel-failover':
        return await this.targets.sentinelFailover!();
      case 'redis-data-loss':
        return await this.targets.redisDataLoss!();
      case 'cluster-master-failover':
        return await this.targets.clusterMasterFailover!();
    }
  }
}
