/**
 * SharedState through Redis (see ../shared.ts). Neither path is on the announce path: the keys are read
 * at start and a few times per rotation, the hot swarms once per summary window per replica.
 *
 * Keys (prefix `t:` by default): `t:secret:NAME` (HASH current, previous, next, rotated);
 * `t:{hot}:replicas` (ZSET replica id → expiry, Unix ms) and `t:{hot}:r:ID` (STRING, the replica's summary
 * as JSON, with the same expiry). The hot keys share one hash tag, so MGET works on Cluster.
 *
 * Configuration reloads for every replica: PUBLISH on `t:config-reload` (the message is the asking
 * replica's id), heard by each replica on a connection of its own. On a Cluster, PUBLISH reaches every
 * node's subscribers, but its answer counts only those of the node that took it.
 */
import type { RedisClient } from '../../redis/connection.js';
import type { PublishedHotSwarms, SharedKeys, SharedState } from '../shared.js';

/**
 * Creates the keys if absent, rotates them when `rotated` is `period` seconds old or older (0: never),
 * and answers current, previous, next, rotated, created. One script, so that two replicas starting or
 * rotating at once agree: the first one's keys win, the other reads them.
 */
const CONNECTION_KEYS_LUA = `
local now = tonumber(redis.call('TIME')[1])
local period = tonumber(ARGV[1])
local k = redis.call('HMGET', KEYS[1], 'current', 'previous', 'next', 'rotated')
if not k[1] then
  redis.call('HSET', KEYS[1], 'current', ARGV[2], 'previous', '', 'next', ARGV[3], 'rotated', now)
  return {ARGV[2], '', ARGV[3], now, 1}
end
local rotated = tonumber(k[4]) or 0
if period > 0 and now - rotated >= period then
  redis.call('HSET', KEYS[1], 'current', k[3], 'previous', k[1], 'next', ARGV[2], 'rotated', now)
  return {k[3], k[1], ARGV[2], now, 0}
end
return {k[1], k[2] or '', k[3], rotated, 0}
`;

/** Most replica summaries read back: a bound on the answer whatever was published. */
const MAX_REPLICAS = 64;
/** Longest summary accepted back from Redis (a few hundred swarms of about 80 bytes each). */
const MAX_SUMMARY_BYTES = 256 * 1024;

type KeysReply = [string, string, string, number, number];

export class RedisShared implements SharedState {
  private subscriber: RedisClient | null = null;
  private readonly scripted: { trackerConnectionKeys(key: string, period: number, current: string, next: string): Promise<KeysReply> };

  constructor(
    private readonly client: RedisClient,
    private readonly prefix: string,
    /** The store's deadline and retry around each call. */
    private readonly call: <T>(run: () => Promise<T>) => Promise<T>,
  ) {
    client.defineCommand('trackerConnectionKeys', { numberOfKeys: 1, lua: CONNECTION_KEYS_LUA });
    this.scripted = client as unknown as RedisShared['scripted'];
  }

  async connectionKeys(name: string, rotateSeconds: number, candidates: () => [string, string]): Promise<SharedKeys> {
    const [current, next] = candidates();
    const [c, p, n, rotated, created] = await this.call(() =>
      this.scripted.trackerConnectionKeys(`${this.prefix}secret:${name}`, rotateSeconds, current, next),
    );
    return { current: c, previous: p, next: n, rotated: Number(rotated), created: created === 1 };
  }

  async publishHotSwarms(summary: PublishedHotSwarms, ttlSeconds: number): Promise<void> {
    const now = Date.now();
    const expires = now + ttlSeconds * 1000;
    await this.call(() =>
      this.client
        .multi()
        .set(this.replicaKey(summary.replica), JSON.stringify(summary), 'PX', ttlSeconds * 1000)
        .zadd(this.replicasKey(), expires, summary.replica)
        .zremrangebyscore(this.replicasKey(), '-inf', now)
        .exec(),
    );
  }

  async hotSwarms(): Promise<PublishedHotSwarms[]> {
    const replicas = await this.call(() => this.client.zrangebyscore(this.replicasKey(), Date.now(), '+inf', 'LIMIT', 0, MAX_REPLICAS));
    if (replicas.length === 0) return [];
    const texts = await this.call(() => this.client.mget(...replicas.map((replica) => this.replicaKey(replica))));
    const summaries: PublishedHotSwarms[] = [];
    for (const text of texts) {
      if (!text || text.length > MAX_SUMMARY_BYTES) continue;
      const summary = parseSummary(text);
      if (summary) summaries.push(summary);
    }
    return summaries;
  }

  async publishReload(origin: string): Promise<number> {
    return this.call(() => this.client.publish(this.reloadChannel(), origin));
  }

  onReload(listener: (origin: string) => void): void {
    if (this.subscriber) throw new Error('onReload: this store already has a listener');
    // A subscribed connection takes no other commands; ioredis subscribes again after each reconnect.
    const subscriber = (this.client.duplicate as () => RedisClient).call(this.client);
    this.subscriber = subscriber;
    subscriber.on('error', () => undefined); // the main connection logs Redis errors
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.reloadChannel()) listener(message);
    });
    subscriber.subscribe(this.reloadChannel()).catch(() => undefined);
  }

  /** Ends the reload subscription. */
  close(): void {
    const subscriber = this.subscriber;
    this.subscriber = null;
    if (!subscriber) return;
    void subscriber.quit().catch(() => undefined);
    subscriber.disconnect();
  }

  private reloadChannel(): string {
    return `${this.prefix}config-reload`;
  }

  private replicasKey(): string {
    return `${this.prefix}{hot}:replicas`;
  }

  private replicaKey(replica: string): string {
    return `${this.prefix}{hot}:r:${replica}`;
  }
}

/** A summary read back, or null when it is not one (another version wrote it, or someone else did). */
function parseSummary(text: string): PublishedHotSwarms | null {
  try {
    const value = JSON.parse(text) as Partial<PublishedHotSwarms>;
    if (typeof value.replica !== 'string' || typeof value.windowEnd !== 'number' || typeof value.windowSeconds !== 'number' || !Array.isArray(value.swarms)) {
      return null;
    }
    const swarms = value.swarms.filter(
      (s): s is PublishedHotSwarms['swarms'][number] =>
        typeof s === 'object' &&
        s !== null &&
        typeof s.infoHash === 'string' &&
        /^[0-9a-f]{40}$/.test(s.infoHash) &&
        Number.isFinite(s.announces) &&
        Number.isFinite(s.error),
    );
    return { replica: value.replica, windowEnd: value.windowEnd, windowSeconds: value.windowSeconds, swarms };
  } catch {
    return null;
  }
}
