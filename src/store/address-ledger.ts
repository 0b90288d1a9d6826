/**
 * Private mode: the distinct addresses each user announced from over a window (account sharing shows
 * as one passkey announcing from many addresses). Counted always; an announce from a new address
 * beyond the limit is refused only when the operator enforces the limit.
 *
 * The count lives in the tracker process, so that checking it costs no round trip: this ledger keeps
 * what this process saw, and a shared store (the redis driver) adds what the other replicas saw,
 * about a second late (see RedisAddressLedger). Bounded: so many users, so many addresses per user.
 */

export interface AddressLimits {
  /** Seconds over which distinct addresses are counted. */
  windowSeconds: number;
  /** Most distinct addresses per user within the window; 0: no limit. */
  limit: number;
  /** Refuse a new address beyond the limit (otherwise it is only counted). */
  enforce: boolean;
}

export interface AddressVerdict {
  /** Distinct addresses of the user within the window, this one included (unless refused). */
  count: number;
  refused: boolean;
}

export interface AddressLedger {
  /** Notes an announce of `userId` from `address` (its text form); synchronous, no I/O. */
  note(userId: number, address: string, limits: AddressLimits): AddressVerdict;
  /** The user's addresses within the window, most recent first, with when each was last seen (ms). */
  list(userId: number): Promise<Array<{ address: string; lastSeen: number }>>;
  /** Since start: new addresses beyond the limit (counted whether enforced or not), and those refused. */
  readonly counters: { overLimit: number; refused: number };
}

/** Users whose addresses are kept (least recently announcing dropped first). */
const MAX_USERS = 200_000;
/** Addresses kept per user: enough to tell any sane limit from abuse. */
export const MAX_ADDRESSES_PER_USER = 1024;

export class LocalAddressLedger implements AddressLedger {
  readonly counters = { overLimit: 0, refused: 0 };
  /** user -> address -> last seen (ms); both maps in order of last announce, oldest first. */
  protected readonly users = new Map<number, Map<string, number>>();
  protected windowMs = 86_400_000;

  constructor(protected readonly now: () => number = Date.now) {}

  note(userId: number, address: string, limits: AddressLimits): AddressVerdict {
    const now = this.now();
    this.windowMs = limits.windowSeconds * 1000;
    let seen = this.users.get(userId);
    if (seen) this.users.delete(userId);
    else seen = new Map();
    this.users.set(userId, seen);
    if (this.users.size > MAX_USERS) this.users.delete(this.users.keys().next().value!);
    const cutoff = now - this.windowMs;
    for (const [old, at] of seen) {
      if (at >= cutoff) break;
      seen.delete(old);
    }
    const known = seen.has(address);
    const count = Math.max(seen.size, this.othersCount(userId)) + (known ? 0 : 1);
    if (!known && limits.limit > 0 && count > limits.limit) {
      this.counters.overLimit++;
      if (limits.enforce) {
        this.counters.refused++;
        return { count: count - 1, refused: true };
      }
    }
    seen.delete(address);
    seen.set(address, now);
    if (seen.size > MAX_ADDRESSES_PER_USER) seen.delete(seen.keys().next().value!);
    if (!known) this.added(userId, address, now);
    else this.refreshed(userId, address, now);
    return { count, refused: false };
  }

  async list(userId: number): Promise<Array<{ address: string; lastSeen: number }>> {
    const cutoff = this.now() - this.windowMs;
    return [...(this.users.get(userId) ?? [])]
      .filter(([, at]) => at >= cutoff)
      .map(([address, lastSeen]) => ({ address, lastSeen }))
      .reverse();
  }

  /** Distinct addresses of the user that other processes saw (a shared ledger); none here. */
  protected othersCount(_userId: number): number {
    return 0;
  }

  /** Hooks for a shared ledger: an address new to this process, or seen again. */
  protected added(_userId: number, _address: string, _at: number): void {}
  protected refreshed(_userId: number, _address: string, _at: number): void {}
}
