/**
 * Private mode: a set of members per user, each kept while it is seen within a window, counted against
 * a limit. Two ledgers use it: the distinct addresses a user announces from (account sharing shows as
 * one passkey announcing from many addresses) and the torrents a user is downloading (download slots).
 * A new member beyond the limit is refused only when the caller enforces it; otherwise it is counted.
 *
 * The count lives in the tracker process, so that checking it costs no round trip: this ledger keeps
 * what this process saw, and a shared store (the redis driver) adds what the other replicas saw,
 * about a second late (see RedisUserLedger). Bounded: so many users, so many members per user.
 */

export interface LedgerLimits {
  /** Seconds a member is kept after it was last seen. */
  windowSeconds: number;
  /** Most members per user within the window; 0: no limit. */
  limit: number;
  /** Refuse a new member beyond the limit (otherwise it is only counted). */
  enforce: boolean;
}

export interface LedgerVerdict {
  /** The user's members within the window, this one included (unless refused). */
  count: number;
  refused: boolean;
  /** The member was new and is now kept. */
  added: boolean;
}

export interface UserLedger {
  /** Notes `member` (an address's or an info hash's text form) of `userId`; synchronous, no I/O. */
  note(userId: number, member: string, limits: LedgerLimits): LedgerVerdict;
  /** Drops a member before its window ends (a torrent no longer downloading); synchronous, no I/O. */
  forget(userId: number, member: string): void;
  /** The user's members within the window, most recent first, with when each was last seen (ms). */
  list(userId: number): Promise<Array<{ member: string; lastSeen: number }>>;
  /** Since start: new members beyond the limit (counted whether enforced or not), and those refused. */
  readonly counters: { overLimit: number; refused: number };
}

/** Users whose members are kept (least recently active dropped first). */
const MAX_USERS = 200_000;
/** Members kept per user: enough to tell any sane limit from abuse. */
export const MAX_MEMBERS_PER_USER = 1024;

export class LocalUserLedger implements UserLedger {
  readonly counters = { overLimit: 0, refused: 0 };
  /** user -> member -> last seen (ms); both maps in order of last note, oldest first. */
  protected readonly users = new Map<number, Map<string, number>>();
  protected windowMs = 86_400_000;

  constructor(protected readonly now: () => number = Date.now) {}

  note(userId: number, member: string, limits: LedgerLimits): LedgerVerdict {
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
    const known = seen.has(member);
    const count = Math.max(seen.size, this.othersCount(userId)) + (known ? 0 : 1);
    if (!known && limits.limit > 0 && count > limits.limit) {
      this.counters.overLimit++;
      this.overLimit(userId);
      if (limits.enforce) {
        this.counters.refused++;
        return { count: count - 1, refused: true, added: false };
      }
    }
    seen.delete(member);
    seen.set(member, now);
    if (seen.size > MAX_MEMBERS_PER_USER) seen.delete(seen.keys().next().value!);
    if (!known) this.added(userId, member, now);
    else this.refreshed(userId, member, now);
    return { count, refused: false, added: !known };
  }

  forget(userId: number, member: string): void {
    const seen = this.users.get(userId);
    if (seen?.delete(member)) this.removed(userId, member);
  }

  async list(userId: number): Promise<Array<{ member: string; lastSeen: number }>> {
    const cutoff = this.now() - this.windowMs;
    return [...(this.users.get(userId) ?? [])]
      .filter(([, at]) => at >= cutoff)
      .map(([member, lastSeen]) => ({ member, lastSeen }))
      .reverse();
  }

  /** Members of the user that other processes saw (a shared ledger); none here. */
  protected othersCount(_userId: number): number {
    return 0;
  }

  /** Hooks for a shared ledger: a member new to this process, seen again, or dropped. */
  protected added(_userId: number, _member: string, _at: number): void {}
  protected refreshed(_userId: number, _member: string, _at: number): void {}
  protected removed(_userId: number, _member: string): void {}
  /** A new member was over the limit: a shared ledger reads the user's count again, in case it went down elsewhere. */
  protected overLimit(_userId: number): void {}
}
