/**
 * The redis driver's address ledger: what this replica saw (LocalAddressLedger), plus a sorted set per
 * user in Redis (`<prefix>ua:<user id>`, member = address, score = last seen) that every replica
 * writes to and counts from, once a second, off the announce path. So a user's count on any replica
 * includes the addresses the others saw up to about a second before, at no round trip per announce.
 */
import type { Logger } from 'pino';
import type { RedisClient } from '../../redis/connection.js';
import { LocalAddressLedger, MAX_ADDRESSES_PER_USER } from '../address-ledger.js';

const FLUSH_MS = 1000;
/** Most (user, address) pairs waiting for the next flush; more wait for the one after. */
const MAX_PENDING = 100_000;
/** Most users whose shared count is remembered. */
const MAX_SHARED = 200_000;

export class RedisAddressLedger extends LocalAddressLedger {
  /** user -> address -> last seen (ms), to be written at the next flush. */
  private readonly pending = new Map<number, Map<string, number>>();
  private pendingPairs = 0;
  /** "user address" -> when it was last written: an address seen again is written again only now and then. */
  private readonly written = new Map<string, number>();
  /** user -> distinct addresses in Redis at the last flush (every replica's). */
  private readonly shared = new Map<number, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly client: RedisClient,
    private readonly prefix: string,
    private readonly logger: Logger,
  ) {
    super();
    this.timer = setInterval(() => void this.flush(), FLUSH_MS);
    this.timer.unref();
  }

  key(userId: number): string {
    return `${this.prefix}ua:${userId}`;
  }

  override async list(userId: number): Promise<Array<{ address: string; lastSeen: number }>> {
    const cutoff = Math.floor((Date.now() - this.windowMs) / 1000);
    const flat = await this.client.zrevrangebyscore(this.key(userId), '+inf', cutoff, 'WITHSCORES', 'LIMIT', 0, MAX_ADDRESSES_PER_USER);
    const out: Array<{ address: string; lastSeen: number }> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) out.push({ address: flat[i]!, lastSeen: Number(flat[i + 1]) * 1000 });
    return out;
  }

  close(): void {
    clearInterval(this.timer);
  }

  protected override othersCount(userId: number): number {
    return this.shared.get(userId) ?? 0;
  }

  protected override added(userId: number, address: string, at: number): void {
    this.queue(userId, address, at);
  }

  protected override refreshed(userId: number, address: string, at: number): void {
    // The score needs to be right to a twentieth of the window, no better.
    if (at - (this.written.get(`${userId} ${address}`) ?? 0) > this.windowMs / 20) this.queue(userId, address, at);
  }

  private queue(userId: number, address: string, at: number): void {
    if (this.pendingPairs >= MAX_PENDING) return;
    let addresses = this.pending.get(userId);
    if (!addresses) this.pending.set(userId, (addresses = new Map<string, number>()));
    if (!addresses.has(address)) this.pendingPairs++;
    addresses.set(address, at);
  }

  /** One ZADD, trim, EXPIRE and ZCARD per user with news: single-key commands, auto-pipelined. */
  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = [...this.pending];
    this.pending.clear();
    this.pendingPairs = 0;
    const now = Date.now();
    const windowSeconds = Math.ceil(this.windowMs / 1000);
    await Promise.all(
      batch.map(async ([userId, addresses]) => {
        const key = this.key(userId);
        const members: Array<string | number> = [];
        for (const [address, at] of addresses) {
          members.push(Math.floor(at / 1000), address);
          this.written.set(`${userId} ${address}`, at);
          if (this.written.size > MAX_PENDING * 4) this.written.delete(this.written.keys().next().value!);
        }
        try {
          await this.client.zadd(key, ...members);
          await this.client.zremrangebyscore(key, '-inf', `(${Math.floor(now / 1000) - windowSeconds}`);
          await this.client.expire(key, windowSeconds + 60);
          const count = await this.client.zcard(key);
          this.shared.delete(userId);
          this.shared.set(userId, count);
          if (this.shared.size > MAX_SHARED) this.shared.delete(this.shared.keys().next().value!);
        } catch (error) {
          this.logger.debug({ err: error }, 'address ledger: write to Redis failed; counting locally until it answers');
        }
      }),
    );
  }
}
