/**
 * The redis driver's user ledger: what this replica saw (LocalUserLedger), plus a sorted set per user in
 * Redis (`<key prefix><user id>`, member = the member's text, score = last seen) that every replica
 * writes to and counts from, once a second, off the announce path. So a user's count on any replica
 * includes the members the others saw up to about a second before, at no round trip per announce.
 */
import type { Logger } from 'pino';
import type { RedisClient } from '../../redis/connection.js';
import { LocalUserLedger, MAX_MEMBERS_PER_USER } from '../user-ledger.js';

const FLUSH_MS = 1000;
/** Most (user, member) pairs waiting for the next flush; more wait for the one after. */
const MAX_PENDING = 100_000;
/** Most users whose shared count is remembered. */
const MAX_SHARED = 200_000;

export class RedisUserLedger extends LocalUserLedger {
  /** user -> member -> last seen (ms), or 0 for a member to remove, to be written at the next flush. */
  private readonly pending = new Map<number, Map<string, number>>();
  private pendingPairs = 0;
  /** "user member" -> when it was last written: a member seen again is written again only now and then. */
  private readonly written = new Map<string, number>();
  /** user -> distinct members in Redis at the last flush (every replica's). */
  private readonly shared = new Map<number, number>();
  private readonly timer: NodeJS.Timeout;

  /** `keyPrefix`: the sorted sets' names before the user id, e.g. "t:ua:". */
  constructor(
    private readonly client: RedisClient,
    private readonly keyPrefix: string,
    private readonly logger: Logger,
  ) {
    super();
    this.timer = setInterval(() => void this.flush(), FLUSH_MS);
    this.timer.unref();
  }

  key(userId: number): string {
    return `${this.keyPrefix}${userId}`;
  }

  override async list(userId: number): Promise<Array<{ member: string; lastSeen: number }>> {
    const cutoff = Math.floor((Date.now() - this.windowMs) / 1000);
    const flat = await this.client.zrevrangebyscore(this.key(userId), '+inf', cutoff, 'WITHSCORES', 'LIMIT', 0, MAX_MEMBERS_PER_USER);
    const out: Array<{ member: string; lastSeen: number }> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) out.push({ member: flat[i]!, lastSeen: Number(flat[i + 1]) * 1000 });
    return out;
  }

  close(): void {
    clearInterval(this.timer);
  }

  protected override othersCount(userId: number): number {
    return this.shared.get(userId) ?? 0;
  }

  protected override added(userId: number, member: string, at: number): void {
    this.queue(userId, member, at);
  }

  protected override refreshed(userId: number, member: string, at: number): void {
    // The score needs to be right to a twentieth of the window, no better.
    if (at - (this.written.get(`${userId} ${member}`) ?? 0) > this.windowMs / 20) this.queue(userId, member, at);
  }

  protected override removed(userId: number, member: string): void {
    this.queue(userId, member, 0);
    this.written.delete(`${userId} ${member}`);
    // The shared count goes down now, not a flush later: a user who stops one torrent may start another.
    const shared = this.shared.get(userId);
    if (shared !== undefined && shared > 0) this.shared.set(userId, shared - 1);
  }

  protected override overLimit(userId: number): void {
    // Counts are read back only with news to write; a user refused here has none, and would stay
    // refused after the others gave their members back. An empty entry has the next flush read it.
    if (!this.pending.has(userId) && this.pendingPairs < MAX_PENDING) this.pending.set(userId, new Map());
  }

  private queue(userId: number, member: string, at: number): void {
    if (this.pendingPairs >= MAX_PENDING) return;
    let members = this.pending.get(userId);
    if (!members) this.pending.set(userId, (members = new Map<string, number>()));
    if (!members.has(member)) this.pendingPairs++;
    members.set(member, at);
  }

  /** Per user with news (or refused): ZADD, ZREM, trim, EXPIRE and ZCARD: single-key commands, auto-pipelined. */
  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = [...this.pending];
    this.pending.clear();
    this.pendingPairs = 0;
    const now = Date.now();
    const windowSeconds = Math.ceil(this.windowMs / 1000);
    await Promise.all(
      batch.map(async ([userId, members]) => {
        const key = this.key(userId);
        const added: Array<string | number> = [];
        const gone: string[] = [];
        for (const [member, at] of members) {
          if (at === 0) {
            gone.push(member);
            continue;
          }
          added.push(Math.floor(at / 1000), member);
          this.written.set(`${userId} ${member}`, at);
          if (this.written.size > MAX_PENDING * 4) this.written.delete(this.written.keys().next().value!);
        }
        try {
          if (added.length > 0) await this.client.zadd(key, ...added);
          if (gone.length > 0) await this.client.zrem(key, ...gone);
          await this.client.zremrangebyscore(key, '-inf', `(${Math.floor(now / 1000) - windowSeconds}`);
          if (added.length > 0) await this.client.expire(key, windowSeconds + 60);
          const count = await this.client.zcard(key);
          this.shared.delete(userId);
          this.shared.set(userId, count);
          if (this.shared.size > MAX_SHARED) this.shared.delete(this.shared.keys().next().value!);
        } catch (error) {
          this.logger.debug({ err: error }, 'user ledger: write to Redis failed; counting locally until it answers');
        }
      }),
    );
  }
}
