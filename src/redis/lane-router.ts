/**
 * The fast lanes (resp-lane.ts) beside one ioredis client, and which of them takes a call: each lane
 * points where that client sends its commands:
 *   standalone and Sentinel  one lane to the server the client is connected to, re-read every time the
 *                            client becomes ready (a reconnect, a Sentinel failover: +switch-master makes
 *                            ioredis reconnect to the new master, and so the lane follows it)
 *   Cluster                  one lane per master, the key's slot (cluster-key-slot, as ioredis computes
 *                            it) looked up in the client's own slot map, so MOVED and failovers are
 *                            ioredis' business: a lane's MOVED reply falls back to ioredis, which
 *                            refreshes the map the next call reads.
 * Same credentials and database as the client. TLS (rediss://) gets no lane: every call takes ioredis.
 */
import calculateSlot from 'cluster-key-slot';
import { Cluster, type Redis } from 'ioredis';
import type { RedisClient } from './connection.js';
import { DEFAULT_LANE_LIMITS, RespLane, type LaneLimits, type LaneTarget } from './resp-lane.js';
import { isKeyList, type TaggedKeys } from './resp-writer.js';

/** Most lanes of one Cluster client (one per master: far more masters than any deployment has). */
const MAX_CLUSTER_LANES = 256;

export class LaneRouter {
  /** Standalone / Sentinel: the one lane, when the client has been ready. */
  private single: RespLane | null = null;
  /** Cluster: by node key "host:port" of the client's slot map. */
  private readonly byNode = new Map<string, RespLane>();
  private closed = false;
  private readonly onReady = (): void => this.follow();
  private readonly onNodeGone = (node: Redis): void => this.forget(`${node.options.host}:${node.options.port}`);

  constructor(
    private readonly client: RedisClient,
    private readonly timeout: () => Error,
    private readonly onProblem: (error: Error) => void,
    private readonly limits: LaneLimits = DEFAULT_LANE_LIMITS,
  ) {
    if (client instanceof Cluster) {
      client.on('-node', this.onNodeGone);
    } else {
      client.on('ready', this.onReady);
      if (client.status === 'ready') this.follow();
    }
  }

  /**
   * The lane for a call of these keys (one slot: on Cluster the first key's decides), or null (none
   * ready: take the ordinary path).
   */
  pick(keys: readonly string[] | TaggedKeys): RespLane | null {
    const client = this.client;
    if (!(client instanceof Cluster)) return this.single !== null && this.single.isReady() ? this.single : null;
    // A tagged key's slot is its tag's: the hex between the braces.
    const slotKey: string = isKeyList(keys) ? keys[0]! : keys.tag.toString('hex');
    const node = client.slots[calculateSlot(slotKey)]?.[0];
    if (node === undefined) return null;
    let lane = this.byNode.get(node);
    if (lane === undefined) {
      const options = client.options.redisOptions ?? {};
      if (this.closed || options.tls || this.byNode.size >= MAX_CLUSTER_LANES) return null;
      const colon = node.lastIndexOf(':');
      lane = new RespLane(
        { host: node.slice(0, colon), port: Number(node.slice(colon + 1)), username: options.username, password: options.password },
        this.timeout,
        this.limits,
        this.onProblem,
      );
      this.byNode.set(node, lane);
    }
    return lane.isReady() ? lane : null;
  }

  /** Calls the lanes answered so far, a batch of announces as its announces (lanes closed since not counted). */
  answered(): number {
    let total = this.single?.answered ?? 0;
    for (const lane of this.byNode.values()) total += lane.answered;
    return total;
  }

  close(): void {
    this.closed = true;
    this.client.off('ready', this.onReady);
    this.client.off('-node', this.onNodeGone);
    this.single?.close();
    this.single = null;
    for (const lane of this.byNode.values()) lane.close();
    this.byNode.clear();
  }

  /** Standalone / Sentinel: the client is (again) ready, perhaps elsewhere: point the lane there. */
  private follow(): void {
    const client = this.client as Redis;
    if (this.closed || client.options.tls) return;
    const target = targetOf(client);
    if (target === null) return;
    const where = target.path ?? `${target.host}:${target.port}`;
    if (this.single !== null && this.single.address() === where) return;
    this.single?.close();
    this.single = new RespLane(target, this.timeout, this.limits, this.onProblem);
  }

  private forget(node: string): void {
    this.byNode.get(node)?.close();
    this.byNode.delete(node);
  }
}

/** Where the client is connected now (after Sentinel's resolution), as whom, and which database. */
function targetOf(client: Redis): LaneTarget | null {
  const { username, password, db, path } = client.options;
  if (path) return { path, username, password, db };
  const stream = client.stream as { remoteAddress?: string; remotePort?: number } | undefined;
  if (!stream?.remoteAddress || !stream.remotePort) return null;
  return { host: stream.remoteAddress, port: stream.remotePort, username, password, db };
}
