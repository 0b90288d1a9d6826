/**
 * The Redis the trackers, the consumer and the tap share, and the faults done to it: a master, a replica
 * and a sentinel (failover; a restart without persistence), or a 3-master Cluster with a replica each
 * (a master killed, its replica promoted). Real redis-server processes from test/helpers/redis.ts.
 */
import calculateSlot from 'cluster-key-slot';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { connectRedis, type RedisClient } from '../../src/redis/connection.js';
import { redisCli, replicasInSync, startCluster, startSentinel, type RedisCluster, type RedisSentinel, type RedisServer } from '../../test/helpers/redis.js';

export type TopologyName = 'sentinel' | 'cluster';

/** What startSentinel() configures: how long the sentinel waits on an unanswering master before it fails over. */
const SENTINEL_DOWN_AFTER_MS = 1000;

/** Polls `check` every 100 ms until it is true; throws after `timeoutMs`. Errors count as "not yet". */
async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** A client of the soak's own (the tap, the drain) for the same Redis the trackers use. */
export function connectSoakClient(connection: Record<string, unknown>, commandTimeoutMs: number): RedisClient {
  const hostPort = (text: string) => ({ host: text.slice(0, text.lastIndexOf(':')), port: Number(text.slice(text.lastIndexOf(':') + 1)) });
  return connectRedis(
    {
      sentinels: (connection.sentinels as string[] | undefined)?.map(hostPort),
      name: connection.name as string | undefined,
      cluster: (connection.cluster as string[] | undefined)?.map(hostPort),
      commandTimeout: commandTimeoutMs,
      connectTimeout: 2000,
    },
    pino({ level: 'silent' }),
  );
}

export interface SoakRedis {
  readonly name: TopologyName;
  /** The connection keys of tracker.params and backend.params (sentinels and name, or cluster). */
  readonly connection: Record<string, unknown>;
  describe(): Promise<string>;
  stop(): Promise<void>;
}

export class SentinelTopology implements SoakRedis {
  readonly name = 'sentinel';
  private constructor(private readonly group: RedisSentinel) {}

  static async start(): Promise<SentinelTopology> {
    return new SentinelTopology(await startSentinel());
  }

  get connection(): Record<string, unknown> {
    return { sentinels: [`127.0.0.1:${this.group.sentinel.port}`], name: this.group.name };
  }

  private get servers(): RedisServer[] {
    return [this.group.master, this.group.replica];
  }

  /** The port the sentinel names as the master now. */
  async masterPort(): Promise<number> {
    const reply = await redisCli(this.group.sentinel.port, 'sentinel', 'get-master-addr-by-name', this.group.name);
    return Number(reply.split('\n')[1]);
  }

  /**
   * The master and the replica, once the sentinel and the servers agree on them: a fault aimed at the
   * master must hit the master (under load the sentinel may have failed over by itself; see switches).
   */
  private async roles(timeoutMs = 30_000): Promise<{ master: RedisServer; replica: RedisServer }> {
    let found: { master: RedisServer; replica: RedisServer } | null = null;
    await waitFor(
      'the sentinel and the servers to agree on the master',
      async () => {
        const port = await this.masterPort();
        const master = this.servers.find((s) => s.port === port);
        if (!master?.child || !(await redisCli(master.port, 'info', 'replication')).includes('role:master')) return false;
        // Never two masters (a failover the sentinel has not finished reconfiguring): that is split brain.
        const replica = this.servers.find((s) => s !== master)!;
        if (replica.child && !(await redisCli(replica.port, 'info', 'replication')).includes('role:slave')) return false;
        found = { master, replica };
        return true;
      },
      timeoutMs,
    );
    return found!;
  }

  /**
   * Every master switch the sentinel announces (its +switch-master channel), with its time: the planned
   * ones and those it made by itself, which lose what the replica had not received, as a planned one does.
   */
  watchSwitches(onSwitch: (toPort: number) => void): () => void {
    const subscriber = new Redis({ host: '127.0.0.1', port: this.group.sentinel.port, retryStrategy: () => 200, lazyConnect: false });
    subscriber.on('error', () => {});
    subscriber.on('message', (_channel: string, message: string) => onSwitch(Number(message.split(' ').at(-1))));
    void subscriber.subscribe('+switch-master').catch(() => {});
    return () => subscriber.disconnect();
  }

  async describe(): Promise<string> {
    const { master, replica } = await this.roles();
    return `master :${master.port}, replica :${replica.port}, sentinel :${this.group.sentinel.port}`;
  }

  /** Waits until the replica's link is up and its sync done, so that the next fault starts from a copy. */
  async waitReplicaInSync(timeoutMs = 30_000): Promise<void> {
    await waitFor('the replica in sync', () => replicasInSync(this.servers), timeoutMs);
  }

  /**
   * A failover: SIGKILL of the master; the sentinel promotes the replica (down-after 1 s); the old
   * master comes back as a replica of the new one. Returns the ports, old master first.
   */
  async failover(timeoutMs = 30_000): Promise<string> {
    const { master, replica } = await this.roles();
    await master.kill();
    await waitFor('the sentinel to promote the replica', async () => (await this.masterPort()) === replica.port, timeoutMs);
    master.setReplicaOf(replica.port);
    await master.start();
    await this.waitReplicaInSync(timeoutMs);
    return `master :${master.port} killed, :${replica.port} promoted, :${master.port} back as its replica`;
  }

  /**
   * Redis loses its recent data: SIGKILL of the master and a restart at once, without persistence of its
   * own, so the replica resyncs from what the master came back with. That is nothing when the master
   * was never a replica, and an older copy when it was one (a failover before): a replica keeps the copy
   * of its last full sync in its dump.rdb, which a restart loads (a restart from an old snapshot: the
   * stream and its group come back as they were then). The sentinel must not act meanwhile: it pings once a second
   * and would count even 300 ms of downtime after an unanswered ping against down-after (1 s), fail over
   * to the replica, and turn the restarted master into a replica of it: another fault than this one (seen
   * in a trial run). So down-after is raised for the restart, and set back once the master has answered
   * the sentinel again. Returns once the master is back; waitReplicaInSync() says when the replica has
   * its (empty) copy.
   */
  async restartEmpty(): Promise<string> {
    const { master } = await this.roles();
    const copy = existsSync(join(master.dir, 'dump.rdb')) ? 'with the copy of its last sync as a replica (an older snapshot)' : 'empty';
    const sentinel = this.group.sentinel.port;
    await redisCli(sentinel, 'sentinel', 'set', this.group.name, 'down-after-milliseconds', '60000');
    try {
      await master.kill();
      master.setReplicaOf(null);
      await master.start();
      // The sentinel's next ping (once a second) reaches the new process before down-after is back.
      await sleep(2000);
    } finally {
      await redisCli(sentinel, 'sentinel', 'set', this.group.name, 'down-after-milliseconds', String(SENTINEL_DOWN_AFTER_MS));
    }
    if ((await this.masterPort()) !== master.port) throw new Error('the sentinel failed over during the empty restart: not the fault intended');
    return `master :${master.port} killed and restarted ${copy} (sentinel down-after raised meanwhile)`;
  }

  async stop(): Promise<void> {
    await this.group.stop();
  }
}

export class ClusterTopology implements SoakRedis {
  readonly name = 'cluster';
  private constructor(
    private readonly cluster: RedisCluster,
    private readonly streamKey: string,
  ) {}

  static async start(streamKey: string): Promise<ClusterTopology> {
    return new ClusterTopology(await startCluster(), streamKey);
  }

  get connection(): Record<string, unknown> {
    return { cluster: this.cluster.addresses };
  }

  async describe(): Promise<string> {
    const master = await this.cluster.masterOfSlot(calculateSlot(this.streamKey));
    return `6 nodes (${this.cluster.addresses.join(', ')}); the stream's master :${master.port}`;
  }

  /**
   * SIGKILL of the master of the stream's slot (the accounting stream is on it: the fault that matters
   * most to accounting), its replica promoted (node timeout 2 s), the old master back as its replica.
   */
  async failMaster(timeoutMs = 40_000): Promise<string> {
    const slot = calculateSlot(this.streamKey);
    const master = await this.cluster.masterOfSlot(slot);
    await master.kill();
    await waitFor('the cluster to promote a replica', async () => (await this.cluster.masterOfSlot(slot)).port !== master.port, timeoutMs);
    const promoted = await this.cluster.masterOfSlot(slot);
    // Same port, same nodes.conf: it rejoins, learns it was failed over, and becomes the new master's replica.
    await master.start();
    await waitFor('the old master to rejoin as a replica', async () => (await redisCli(master.port, 'info', 'replication')).includes('role:slave'), timeoutMs);
    await this.cluster.waitHealthy();
    return `master :${master.port} of the stream's slot killed, :${promoted.port} promoted, :${master.port} back as its replica`;
  }

  async stop(): Promise<void> {
    await this.cluster.stop();
  }
}
