/**
 * Request budgets: how many announces and scrapes one address, and one subnet (IPv4 /24, IPv6 /48 by
 * default), may make per window of time. A request over budget is refused before anything else is
 * done for it, so it costs a map lookup and a constant failure message, and changes nothing.
 *
 * The check never waits on anything: each process counts in its own tables (one Map per scope, reset
 * wholesale when the window turns, so entries need no expiry of their own). When the tracker driver is
 * shared by several processes (it offers `addBudgetCounts`), what each process admitted is added to
 * shared counters in the background every `syncIntervalMs`, and the totals read back tell every
 * process how much of the budget the others used. Only keys busy enough to matter are shared (at least
 * `shareThreshold()` requests in this process this window), so a tracker with millions of ordinary
 * clients sends a few counters a second to the store, not one per announce.
 *
 * Accuracy across N processes (a client spreading its requests over all of them): each process knows
 * the others' use as of its last sync and extrapolates it at the rate seen between its last two syncs,
 * so a steady flood is held close to the budget; what can slip through is what the others admit in one
 * sync interval that the extrapolation missed (a flood that starts or speeds up at once), at most
 * about rate × (sync interval + one round trip), plus fewer than `shareThreshold()` per process before
 * a key is shared at all. test/tracker/budget-replicas.test.ts measures it.
 */
import type { BudgetCount } from '../store/driver.js';

export interface BudgetPolicy {
  /** Seconds of one window; budgets count requests per window. */
  windowSeconds: number;
  /** Requests per window from one address; 0: no address budget. */
  perAddress: number;
  /** Requests per window from one subnet; 0: no subnet budget. */
  perSubnet: number;
  /** Prefix lengths of a subnet. */
  ipv4Prefix: number;
  ipv6Prefix: number;
  /** Milliseconds between two syncs with a shared store. */
  syncIntervalMs: number;
  /** Most keys each table tracks per window; beyond it new keys are not counted (and so admitted). */
  maxTracked: number;
}

export type BudgetScope = 'address' | 'subnet';

/** What the budget needs of the store: the optional shared counters of the tracker driver contract. */
export type BudgetSharing = (counts: BudgetCount[], ttlSeconds: number) => Promise<number[]>;

/** Most keys one sync sends: keeps a sync's cost to the store bounded whatever the attack. */
const MAX_KEYS_PER_SYNC = 5000;

/**
 * A key of the tables: an IPv4 address or subnet as a number (no string to make, and a cheaper hash),
 * an IPv6 one as a latin1 string of its bytes.
 */
type Key = number | string;

class Entry {
  /** Requests admitted by this process in this window. */
  count = 0;
  /** Admitted and not yet sent to the shared counter. */
  unsynced = 0;
  /** Sent, and the answer not back yet. */
  inFlight = 0;
  /** The shared total at the last sync (this process's sent requests included). */
  global = 0;
  /** What the other processes admitted per millisecond between the last two syncs. */
  othersRate = 0;
  /** When the last sync answered (ms), or when the key was first seen. */
  syncedAt: number;
  /** In the list of keys the next sync sends. */
  queued = false;
  /** Once shared, every change is sent, however small. */
  shared = false;
  /** Known to be over budget for the rest of the window. */
  over = false;

  constructor(
    readonly key: Key,
    now: number,
  ) {
    this.syncedAt = now;
  }
}

class Table {
  readonly entries = new Map<Key, Entry>();
  /** Keys marked over budget this window. */
  over = 0;

  constructor(
    readonly scope: BudgetScope,
    readonly limit: number,
  ) {}
}

export class RequestBudget {
  private window = -1;
  private windowStart = 0;
  private addresses: Table;
  private subnets: Table;
  /** Keys with counts the next sync sends. */
  private dirty: Array<{ table: Table; entry: Entry }> = [];
  private syncing = false;
  private readonly timer: NodeJS.Timeout | null = null;
  private readonly windowMs: number;
  private readonly threshold: { address: number; subnet: number };
  /** Scratch for IPv6 subnet keys. */
  private readonly scratch = Buffer.alloc(16);
  /** Sync failures since start (the store unreachable, say): counts stay local meanwhile. */
  syncErrors = 0;

  constructor(
    private readonly policy: BudgetPolicy,
    private readonly share: BudgetSharing | null,
    private readonly now: () => number = Date.now,
  ) {
    this.windowMs = policy.windowSeconds * 1000;
    this.addresses = new Table('address', policy.perAddress);
    this.subnets = new Table('subnet', policy.perSubnet);
    this.threshold = { address: shareThreshold(policy.perAddress), subnet: shareThreshold(policy.perSubnet) };
    if (share) {
      this.timer = setInterval(() => void this.sync(), policy.syncIntervalMs);
      this.timer.unref();
    }
  }

  /** Keys over budget now, per scope (this window). */
  get overBudget(): { address: number; subnet: number } {
    this.turn(this.now());
    return { address: this.addresses.over, subnet: this.subnets.over };
  }

  /**
   * Takes one request of `ip` (4 or 16 bytes) from its budgets; returns the scope over budget instead
   * (and takes nothing) when one is.
   */
  take(ip: Buffer): BudgetScope | null {
    const now = this.now();
    this.turn(now);
    const subnets = this.subnets;
    const addresses = this.addresses;
    const subnet = subnets.limit > 0 ? this.entry(subnets, this.subnetKey(ip), now) : null;
    if (subnet && this.spent(subnets, subnet, now)) return 'subnet';
    const address = addresses.limit > 0 ? this.entry(addresses, ip.length === 4 ? ip.readUInt32BE(0) : ip.toString('latin1'), now) : null;
    if (address && this.spent(addresses, address, now)) return 'address';
    if (subnet) this.count(subnets, subnet, this.threshold.subnet);
    if (address) this.count(addresses, address, this.threshold.address);
    return null;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Sends the counts of busy keys to the shared store and reads back the totals. */
  async sync(): Promise<void> {
    if (!this.share || this.syncing || this.dirty.length === 0) return;
    this.syncing = true;
    const batch = this.dirty.splice(0, MAX_KEYS_PER_SYNC);
    const window = this.window;
    const counts: BudgetCount[] = batch.map(({ table, entry }) => {
      const delta = entry.unsynced;
      entry.unsynced = 0;
      entry.inFlight += delta;
      entry.queued = false;
      return { key: `${table.scope === 'address' ? 'a' : 's'}:${sharedName(entry.key)}:${window}`, delta };
    });
    try {
      // Counters outlive their window by another one: replicas' clocks differ a little.
      const totals = await this.share(counts, Math.ceil((2 * this.windowMs) / 1000));
      const now = this.now();
      batch.forEach(({ table, entry }, i) => {
        const delta = counts[i]!.delta;
        const total = totals[i] ?? entry.global + delta;
        const others = total - entry.global - delta;
        const elapsed = now - entry.syncedAt;
        entry.othersRate = elapsed > 0 && others > 0 ? others / elapsed : 0;
        entry.global = total;
        entry.syncedAt = now;
        entry.inFlight -= delta;
        entry.shared = true;
        if (window === this.window) this.spent(table, entry, now);
      });
    } catch {
      this.syncErrors++;
      // Sent again with the next sync (unless the window turned meanwhile).
      for (const { table, entry } of batch) {
        const delta = entry.inFlight;
        entry.inFlight = 0;
        entry.unsynced += delta;
        if (window === this.window && !entry.queued) {
          entry.queued = true;
          this.dirty.push({ table, entry });
        }
      }
    } finally {
      this.syncing = false;
    }
  }

  /** A new window: every count starts again (the old tables are dropped whole). */
  private turn(now: number): void {
    const window = Math.floor(now / this.windowMs);
    if (window === this.window) return;
    this.window = window;
    this.windowStart = window * this.windowMs;
    this.addresses = new Table('address', this.policy.perAddress);
    this.subnets = new Table('subnet', this.policy.perSubnet);
    this.dirty = [];
  }

  /** The entry of `key`, made if the table has room; null when it is full (the key is not counted). */
  private entry(table: Table, key: Key, now: number): Entry | null {
    let entry = table.entries.get(key);
    if (entry === undefined) {
      if (table.entries.size >= this.policy.maxTracked) return null;
      entry = new Entry(key, Math.max(now, this.windowStart));
      table.entries.set(key, entry);
    }
    return entry;
  }

  /** Whether the key's budget is spent: what is known of every process's use, plus the others' extrapolated. */
  private spent(table: Table, entry: Entry, now: number): boolean {
    if (entry.over) return true;
    const known = entry.global + entry.inFlight + entry.unsynced;
    if (known >= table.limit) {
      entry.over = true;
      table.over++;
      return true;
    }
    // Extrapolated over two sync intervals at most: syncs that fail (the store unreachable) must not
    // make a guess grow until it refuses a client on its own.
    const since = Math.min(now - entry.syncedAt, 2 * this.policy.syncIntervalMs);
    return entry.othersRate > 0 && known + entry.othersRate * since >= table.limit;
  }

  private count(table: Table, entry: Entry, threshold: number): void {
    entry.count++;
    entry.unsynced++;
    if (this.share && !entry.queued && (entry.shared || entry.count >= threshold)) {
      entry.queued = true;
      this.dirty.push({ table, entry });
    }
  }

  /**
   * A subnet's key: an IPv4 address's prefix as a number (the prefix length apart, no other IPv4
   * subnet has it); an IPv6 one as its masked bytes in a latin1 string.
   */
  private subnetKey(ip: Buffer): Key {
    if (ip.length === 4) return Math.floor(ip.readUInt32BE(0) / 2 ** (32 - this.policy.ipv4Prefix));
    const bits = this.policy.ipv6Prefix;
    const bytes = Math.ceil(bits / 8);
    const out = this.scratch;
    ip.copy(out, 0, 0, bytes);
    const rest = bits % 8;
    if (rest !== 0) out[bytes - 1] = out[bytes - 1]! & (0xff << (8 - rest));
    return out.toString('latin1', 0, bytes);
  }
}

/** A key as the shared counters name it: IPv4 as 8 hex digits (a subnet: its prefix's), IPv6 in hex. */
function sharedName(key: Key): string {
  return typeof key === 'number' ? key.toString(16).padStart(8, '0') : Buffer.from(key, 'latin1').toString('hex');
}

/**
 * A key is shared once this process admitted this many requests of it in a window: fewer cannot put a
 * client over budget unless it spreads over more than 64 processes, and ordinary clients (a few
 * announces a window) never cost the store anything.
 */
export function shareThreshold(limit: number): number {
  return Math.max(1, Math.floor(limit / 64));
}
