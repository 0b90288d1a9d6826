/** The memory driver's open bulk syncs: which items were put under each, until it is finished or idle too long. */
import { randomBytes } from 'node:crypto';
import { type SyncKind, UnknownSync } from '../catalogue.js';

/** A sync idle this long is forgotten (its items stay; nothing is removed). */
export const SYNC_IDLE_MS = 3_600_000;
/** Most syncs open at once: each holds the keys of a whole catalogue. */
export const MAX_SYNCS = 4;

interface Sync {
  kind: SyncKind;
  seen: Set<number | string>;
  touched: number;
}

export class LocalSyncs {
  private readonly syncs = new Map<string, Sync>();

  constructor(private readonly now: () => number) {}

  begin(kind: SyncKind): string {
    this.expire();
    if (this.syncs.size >= MAX_SYNCS) this.syncs.delete(this.syncs.keys().next().value!); // the oldest goes
    const id = randomBytes(12).toString('hex');
    this.syncs.set(id, { kind, seen: new Set(), touched: this.now() });
    return id;
  }

  has(kind: SyncKind, id: string): boolean {
    this.expire();
    return this.syncs.get(id)?.kind === kind;
  }

  /** The set of items put under an open sync (refreshing it); throws UnknownSync. */
  open(kind: SyncKind, id: string): Set<number | string> {
    this.expire();
    const sync = this.syncs.get(id);
    if (sync?.kind !== kind) throw new UnknownSync(`no open ${kind} sync ${id}`);
    sync.touched = this.now();
    return sync.seen;
  }

  finish(kind: SyncKind, id: string): Set<number | string> {
    const seen = this.open(kind, id);
    this.syncs.delete(id);
    return seen;
  }

  private expire(): void {
    const cutoff = this.now() - SYNC_IDLE_MS;
    for (const [id, sync] of this.syncs) if (sync.touched < cutoff) this.syncs.delete(id);
  }
}
