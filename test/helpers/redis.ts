/**
 * Real Redis for tests: redis-server processes on free ports (standalone, Sentinel, Cluster), started,
 * stopped and restarted by the tests, and killed when the test process exits. Never a mock.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { toolMissing } from './tools.js';

/** The Redis configuration the project ships for deployments. */
export const SHIPPED_CONFIG = fileURLToPath(new URL('../../../redis.conf', import.meta.url));

const children = new Set<ChildProcess>();
const dirs = new Set<string>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Throws under CI=true when redis-server is missing; otherwise returns a reason to skip, or null. */
export function redisMissing(): string | null {
  return toolMissing('redis-server', 'redis-server', [
    ['redis-server', ['--version']],
    ['redis-cli', ['--version']],
  ]);
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free port whose cluster bus port (+10000) is free too. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 30000);
    if ((await portFree(port)) && (await portFree(port + 10000))) return port;
  }
}

export function redisCli(port: number, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10_000 }, (error, stdout) =>
      error ? reject(error as Error) : resolve(stdout.trim()),
    );
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

export class RedisServer {
  child: ChildProcess | null = null;

  constructor(
    readonly port: number,
    private args: string[],
    readonly dir: string,
  ) {}

  /**
   * What the next start() makes of this server: a replica of the server on `masterPort`, or a master
   * (null). For a server that was killed and comes back in another role, as after a Sentinel failover.
   */
  setReplicaOf(masterPort: number | null): void {
    const at = this.args.indexOf('--replicaof');
    if (at !== -1) this.args = [...this.args.slice(0, at), ...this.args.slice(at + 3)];
    if (masterPort !== null) this.args = [...this.args, '--replicaof', '127.0.0.1', String(masterPort)];
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const configFile = this.args[0]?.endsWith('.conf') ? [this.args[0]] : [];
    const extra = configFile.length ? this.args.slice(1) : this.args;
    const child = spawn(
      'redis-server',
      [
        ...configFile,
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        // A replica's first sync starts at once (Redis waits 5 s by default, to gather more replicas for
        // one diskless transfer), and an idle master pings its replicas every second instead of ten:
        // Redis 7 lists a replica in CLUSTER SLOTS only once its replication offset has moved, which on
        // an empty cluster only those pings do. Every Cluster the tests start waited ~8 s on the two.
        '--repl-diskless-sync-delay',
        '0',
        '--repl-ping-replica-period',
        '1',
        '--dir',
        this.dir,
        '--loglevel',
        'warning',
        ...extra,
      ],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    children.add(child);
    child.on('exit', () => children.delete(child));
    this.child = child;
    await waitFor(`redis-server on ${this.port}`, async () => (await redisCli(this.port, 'ping')) === 'PONG');
  }

  /** SIGKILL: a crash, not a clean shutdown. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    this.child = null;
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.start();
  }
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-redis-'));
  dirs.add(dir);
  return dir;
}

/** A standalone redis-server on a free port (or the given one), started. */
export async function startRedis(options: { port?: number; args?: string[] } = {}): Promise<RedisServer> {
  const server = new RedisServer(options.port ?? (await freePort()), options.args ?? [], tempDir());
  await server.start();
  return server;
}

/** A server that is not started: for tests that need Redis to be down first. */
export async function plannedRedis(): Promise<RedisServer> {
  return new RedisServer(await freePort(), [], tempDir());
}

export interface RedisCluster {
  nodes: RedisServer[];
  /** "host:port" of every node, for the driver's `cluster` parameter. */
  addresses: string[];
  masterOfSlot(slot: number): Promise<RedisServer>;
  waitHealthy(): Promise<void>;
  stop(): Promise<void>;
}

/** True when every running replica among `nodes` has its link to the master up and no sync in progress. */
export async function replicasInSync(nodes: RedisServer[]): Promise<boolean> {
  for (const node of nodes) {
    if (!node.child) continue;
    const info = await redisCli(node.port, 'info', 'replication');
    if (info.includes('role:slave') && (!info.includes('master_link_status:up') || info.includes('master_sync_in_progress:1'))) return false;
  }
  return true;
}

/** Three masters and three replicas, node timeout 2 s; returns once every slot is served and replicas are in sync. */
export async function startCluster(): Promise<RedisCluster> {
  const root = tempDir();
  const nodes: RedisServer[] = [];
  for (let i = 0; i < 6; i++) {
    const port = await freePort();
    const dir = join(root, String(port));
    mkdirSync(dir);
    const node = new RedisServer(
      port,
      [
        SHIPPED_CONFIG,
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        'nodes.conf',
        '--cluster-node-timeout',
        '2000',
        '--cluster-replica-validity-factor',
        '0',
      ],
      dir,
    );
    await node.start();
    nodes.push(node);
  }
  execFileSync('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes'], {
    stdio: 'ignore',
    timeout: 30_000,
  });
  const cluster: RedisCluster = {
    nodes,
    addresses: nodes.map((n) => `127.0.0.1:${n.port}`),
    async masterOfSlot(slot) {
      const live = nodes.find((n) => n.child)!;
      const table = JSON.parse(await redisCli(live.port, '--json', 'cluster', 'slots')) as Array<[number, number, [string, number, string]]>;
      const range = table.find(([from, to]) => slot >= from && slot <= to)!;
      return nodes.find((n) => n.port === range[2][1])!;
    },
    async waitHealthy() {
      await waitFor(
        'cluster state ok on every node',
        async () => {
          for (const node of nodes) if (node.child && !(await redisCli(node.port, 'cluster', 'info')).includes('cluster_state:ok')) return false;
          return replicasInSync(nodes);
        },
        30_000,
      );
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.kill()));
    },
  };
  await cluster.waitHealthy();
  // Replicas appear in CLUSTER SLOTS once gossip has spread them: clients read the topology from there.
  await waitFor(
    'every node listing a replica for every slot range',
    async () => {
      for (const node of nodes) {
        const ranges = JSON.parse(await redisCli(node.port, '--json', 'cluster', 'slots')) as unknown[][];
        if (ranges.length !== 3 || ranges.some((range) => range.length < 4)) return false;
      }
      return true;
    },
    30_000,
  );
  return cluster;
}

export interface RedisSentinel {
  master: RedisServer;
  replica: RedisServer;
  sentinel: RedisServer;
  name: string;
  stop(): Promise<void>;
}

/** A master, a replica in sync, and one sentinel watching them (quorum 1). */
export async function startSentinel(): Promise<RedisSentinel> {
  const name = 'shoalmaster';
  const master = await startRedis();
  const replica = await startRedis({ args: ['--replicaof', '127.0.0.1', String(master.port)] });
  await waitFor('replica sync', () => replicasInSync([replica]));
  const dir = tempDir();
  const port = await freePort();
  const conf = join(dir, 'sentinel.conf');
  writeFileSync(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${name} 127.0.0.1 ${master.port} 1`,
      `sentinel down-after-milliseconds ${name} 1000`,
      `sentinel failover-timeout ${name} 5000`,
      '',
    ].join('\n'),
  );
  const sentinel = new SentinelServer(port, conf, dir);
  await sentinel.start();
  await waitFor('sentinel knows the master', async () => (await redisCli(port, 'sentinel', 'get-master-addr-by-name', name)).includes(String(master.port)));
  return {
    master,
    replica,
    sentinel,
    name,
    async stop() {
      await Promise.all([master.kill(), replica.kill(), sentinel.kill()]);
    },
  };
}

class SentinelServer extends RedisServer {
  constructor(
    port: number,
    private readonly conf: string,
    dir: string,
  ) {
    super(port, [], dir);
  }

  override async start(): Promise<void> {
    const child = spawn('redis-server', [this.conf, '--sentinel'], { stdio: ['ignore', 'ignore', 'inherit'] });
    children.add(child);
    child.on('exit', () => children.delete(child));
    this.child = child;
    await waitFor(`sentinel on ${this.port}`, async () => (await redisCli(this.port, 'ping')) === 'PONG');
  }
}
