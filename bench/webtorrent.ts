/**
 * `npm run bench:webtorrent`: WebTorrent (WebSocket) load against shoal and, in the same run, against
 * webtorrent's own bittorrent-tracker server (installed from the npm registry with --ignore-scripts:
 * its dependencies include native WebRTC packages whose install scripts download binaries).
 *
 * Cases, in interleaved rounds (this VM drifts): shoal with the memory driver; bittorrent-tracker; the
 * floor, a bare `ws` server relaying offers and answers with no tracker logic (ws-floor-server.ts: what
 * `ws` and JSON themselves cost per relayed offer), the same relay writing through shoal's outbox, and the
 * transport floor (ws-transport-floor.ts: no `ws`, no JSON, frames by hand, ids as tokens: what Node's
 * sockets and the framing alone cost, a bound for any tracker in Node); and, with redis-server installed, two shoal replicas sharing a Redis, the sockets split between them, so
 * that about half of the offers and answers cross replicas. Servers on CPU 0, the load generator (and
 * Redis) on CPU 1. Reported: messages/s (announces + offers relayed + answers relayed), announce p50 and
 * p99, server CPU per message and per relayed offer (an offer and its answer), and for the replicas
 * the Redis commands per announce and per signal relayed across replicas (INFO commandstats).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import { fileURLToPath } from 'node:url';
import { installedPackage } from '../test/helpers/npm-package.js';
import { freePort } from './swarm-peers.js';
import type { WsLoadOptions, WsLoadResult } from './ws-load.js';

const BITTORRENT_TRACKER_VERSION = '11.2.3';
const args = process.argv.slice(2);
if (args.includes('--help')) {
  console.log(
    `npm run bench:webtorrent -- [--seconds 8] [--rounds 3] [--sockets 200] [--swarms 4] [--offers 5] [--sdp 600] [--fillers 0] [--no-redis] [--cpu-prof DIR] [--baseline CLI]\n` +
      `  --cpu-prof DIR: the servers run with node --cpu-prof and write their profiles into DIR when the bench stops them\n` +
      `  --baseline CLI: more cases, another build's dist/src/cli.js (memory driver, and two replicas on Redis with redis-server installed): a before and after in one run`,
  );
  process.exit(0);
}
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(args[i + 1]);
};
const profileDir = ((): string | undefined => {
  const i = args.indexOf('--cpu-prof');
  return i === -1 ? undefined : args[i + 1];
})();
const baselineCli = ((): string | undefined => {
  const i = args.indexOf('--baseline');
  return i === -1 ? undefined : args[i + 1];
})();
/** Node flags for a server process: a CPU profile of it when asked. */
const nodeFlags = profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir];
const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));
const CLI = here('../src/cli.js');
const hasTaskset = ((): boolean => {
  try {
    execFileSync('taskset', ['-c', '0', 'true']);
    return true;
  } catch {
    return false;
  }
})();
const hasRedis = ((): boolean => {
  try {
    execFileSync('redis-server', ['--version']);
    return !args.includes('--no-redis');
  } catch {
    return false;
  }
})();

const started = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function spawnPinned(cpu: number, command: string, argv: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const child = hasTaskset
    ? spawn('taskset', ['-c', String(cpu), command, ...argv], { env, stdio: ['ignore', 'pipe', 'inherit'] })
    : spawn(command, argv, { env, stdio: ['ignore', 'pipe', 'inherit'] });
  started.add(child);
  child.once('exit', () => started.delete(child));
  return child;
}

/**
 * Stops a server: SIGKILL, or when profiling SIGTERM and its exit awaited (a profile is written on a
 * clean exit only). taskset execs node, so the child's pid is node's.
 */
async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(profileDir === undefined ? 'SIGKILL' : 'SIGTERM');
  await exited;
}

function firstLine(child: ChildProcess, match: (line: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const onData = (chunk: Buffer): void => {
      buffer += chunk.toString();
      const line = buffer.split('\n').find(match);
      if (line !== undefined) {
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolve(line);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`process exited (${code}) before it was ready`)));
  });
}

/** The child's stdout lines, awaited one match at a time. */
function lineReader(child: ChildProcess): { next(contains: string): Promise<string> } {
  const lines: string[] = [];
  let waiter: (() => void) | null = null;
  let buffer = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) !== -1) {
      lines.push(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
    }
    waiter?.();
  });
  let exited = false;
  child.once('exit', () => {
    exited = true;
    waiter?.();
  });
  return {
    async next(contains) {
      for (;;) {
        const i = lines.findIndex((l) => l.includes(contains));
        if (i !== -1) return lines.splice(0, i + 1).pop()!;
        if (exited) throw new Error(`load generator exited without ${contains}`);
        await new Promise<void>((resolve) => (waiter = resolve));
      }
    },
  };
}

/** CPU seconds (user + system) a process has used, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The system (kernel) part of cpuSeconds: the sockets' reads and writes, the loopback TCP. */
function systemSeconds(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[12]) / 100;
}

/** Read and write system calls a process has made (/proc/PID/io: syscr, syscw; 0 where unreadable). */
function syscalls(pid: number): { reads: number; writes: number } {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const field = (name: string): number => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(io)?.[1] ?? 0);
    return { reads: field('syscr'), writes: field('syscw') };
  } catch {
    return { reads: 0, writes: 0 };
  }
}

function fetchText(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

/** The sum of a counter's series whose labels match. */
async function counter(port: number, name: string, labels: string): Promise<number> {
  const text = await fetchText(port, '/metrics');
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name + '{') && line.includes(labels)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

interface Server {
  name: string;
  urls: string[];
  pids: number[];
  metricsPorts: number[];
  redisPort?: number;
  stop(): Promise<void>;
}

async function startShoal(env: Record<string, string>, cli = CLI): Promise<{ child: ChildProcess; port: number; metricsPort: number }> {
  const child = spawnPinned(0, process.execPath, [...nodeFlags, cli], {
    ...process.env,
    TRACKER_HTTP_ADDR: '127.0.0.1:0',
    TRACKER_UDP_ADDR: '',
    TRACKER_METRICS_ADDR: '127.0.0.1:0',
    TRACKER_LOG_LEVEL: 'info',
    TRACKER_WEBTORRENT_MAX_CONNECTIONS_PER_IP: '100000',
    TRACKER_WEBTORRENT_MAX_MESSAGES_PER_MINUTE: '1000000',
    // Every socket comes from 127.0.0.1, at thousands of announces a second: no request budget.
    TRACKER_BUDGET_ENABLED: 'false',
    ...env,
  });
  const line = await firstLine(child, (l) => l.includes('tracker started'));
  const { http, metrics } = JSON.parse(line) as { http: string; metrics: string };
  const portOf = (address: string): number => Number(address.slice(address.lastIndexOf(':') + 1));
  return { child, port: portOf(http), metricsPort: portOf(metrics) };
}

async function shoalMemory(cli?: string): Promise<Server> {
  const s = await startShoal({}, cli);
  return {
    name: cli === undefined ? 'shoal, memory driver' : 'baseline shoal, memory driver',
    urls: [`ws://127.0.0.1:${s.port}/`],
    pids: [s.child.pid!],
    metricsPorts: [s.metricsPort],
    stop: () => stopServer(s.child),
  };
}

async function bittorrentTracker(): Promise<Server> {
  const modules = await installedPackage('bittorrent-tracker', BITTORRENT_TRACKER_VERSION);
  const child = spawnPinned(0, process.execPath, [...nodeFlags, here('./bittorrent-tracker-server.js'), modules]);
  const { port } = JSON.parse(await firstLine(child, (l) => l.startsWith('{'))) as { port: number };
  return {
    name: `bittorrent-tracker ${BITTORRENT_TRACKER_VERSION}`,
    urls: [`ws://127.0.0.1:${port}/`],
    pids: [child.pid!],
    metricsPorts: [],
    stop: () => stopServer(child),
  };
}

const FLOOR = 'floor: bare ws relay';
const RAW_FLOOR = 'floor, raw frames (outbox.ts)';
const TRANSPORT_FLOOR = 'floor: transport (no ws, no JSON)';

/** The transport floor (ws-transport-floor.ts): hand-made frames, ids as tokens, no JSON. */
async function transportFloor(): Promise<Server> {
  const child = spawnPinned(0, process.execPath, [...nodeFlags, here('./ws-transport-floor.js')]);
  const { port } = JSON.parse(await firstLine(child, (l) => l.startsWith('{'))) as { port: number };
  return { name: TRANSPORT_FLOOR, urls: [`ws://127.0.0.1:${port}/`], pids: [child.pid!], metricsPorts: [], stop: () => stopServer(child) };
}

/** The floor; `raw`: its frames through shoal's FrameWriter (outbox.ts) instead of ws.send. */
async function wsFloor(raw: boolean): Promise<Server> {
  const child = spawnPinned(0, process.execPath, [...nodeFlags, here('./ws-floor-server.js'), ...(raw ? ['raw'] : [])]);
  const { port } = JSON.parse(await firstLine(child, (l) => l.startsWith('{'))) as { port: number };
  return { name: raw ? RAW_FLOOR : FLOOR, urls: [`ws://127.0.0.1:${port}/`], pids: [child.pid!], metricsPorts: [], stop: () => stopServer(child) };
}

function redisCli(port: number, ...argv: string[]): string {
  return execFileSync('redis-cli', ['-p', String(port), ...argv], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
}

async function shoalReplicas(cli?: string): Promise<Server> {
  const redisPort = await freePort();
  const redis = spawnPinned(1, 'redis-server', [
    here('../../redis.conf'),
    '--port',
    String(redisPort),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
  ]);
  for (let i = 0; i < 100; i++) {
    try {
      if (redisCli(redisPort, 'ping').trim() === 'PONG') break;
    } catch {
      // starting
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  // A command timeout above the default 500 ms: the closed loop overloads the servers on purpose, and
  // the bench measures cost, not how a starved replica fails.
  const env = { TRACKER_TRACKER_DRIVER: 'redis', TRACKER_TRACKER_PARAMS: JSON.stringify({ url: `redis://127.0.0.1:${redisPort}`, command_timeout: 3000 }) };
  const replicas = [await startShoal(env, cli), await startShoal(env, cli)];
  for (const r of replicas) {
    for (let i = 0; i < 200 && !(await fetchText(r.port, '/readyz')).startsWith('ready'); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    name: cli === undefined ? 'shoal, redis driver, 2 replicas' : 'baseline shoal, redis driver, 2 replicas',
    urls: replicas.map((r) => `ws://127.0.0.1:${r.port}/`),
    pids: replicas.map((r) => r.child.pid!),
    metricsPorts: replicas.map((r) => r.metricsPort),
    redisPort,
    stop: async () => {
      for (const r of replicas) await stopServer(r.child);
      redis.kill('SIGKILL');
    },
  };
}

interface Measured extends WsLoadResult {
  cpuUsPerMessage: number;
  cpuUsPerOffer: number;
  /** The share of that CPU spent in the kernel. */
  systemShare: number;
  /** The servers' read and write system calls per relayed offer: most of the CPU is in them. */
  readsPerOffer: number;
  writesPerOffer: number;
  /** Replicas only: Redis commands per announce and per signal that crossed replicas. */
  evalshaPerAnnounce?: number;
  spublishPerRemoteSignal?: number;
  remoteSignals?: number;
}

function commandCalls(port: number): Record<string, number> {
  const calls: Record<string, number> = {};
  for (const m of redisCli(port, 'info', 'commandstats').matchAll(/cmdstat_(\w+):calls=(\d+)/g)) calls[m[1]!] = Number(m[2]);
  return calls;
}

async function measure(server: Server, load: WsLoadOptions): Promise<Measured> {
  const remote = async (): Promise<number> => {
    let sum = 0;
    for (const port of server.metricsPorts) sum += await counter(port, 'tracker_ws_relayed_total', 'route="remote"');
    return sum;
  };
  const child = spawnPinned(1, process.execPath, [here('./ws-load.js'), JSON.stringify(load)]);
  const lines = lineReader(child);
  await lines.next('"phase":"start"');
  // The measured window only: the servers' CPU and Redis' counters at its two ends.
  const cpuBefore = server.pids.map(cpuSeconds);
  const sysBefore = server.pids.map(systemSeconds);
  const ioBefore = server.pids.map(syscalls);
  const remoteBefore = await remote();
  const callsBefore = server.redisPort ? commandCalls(server.redisPort) : {};
  await lines.next('"phase":"end"');
  const cpu = server.pids.map(cpuSeconds).reduce((sum, after, i) => sum + after - cpuBefore[i]!, 0);
  const sys = server.pids.map(systemSeconds).reduce((sum, after, i) => sum + after - sysBefore[i]!, 0);
  const io = server.pids
    .map(syscalls)
    .reduce((sum, after, i) => ({ reads: sum.reads + after.reads - ioBefore[i]!.reads, writes: sum.writes + after.writes - ioBefore[i]!.writes }), {
      reads: 0,
      writes: 0,
    });
  const calls = server.redisPort ? commandCalls(server.redisPort) : {};
  const remoteSignals = (await remote()) - remoteBefore;
  const result = JSON.parse(await lines.next('"announces"')) as WsLoadResult;
  await new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(null)));
  const messages = result.announces + result.offersReceived + result.answersReceived;
  const offers = Math.max(1, result.offersReceived);
  const measured: Measured = {
    ...result,
    cpuUsPerMessage: (cpu * 1e6) / messages,
    cpuUsPerOffer: (cpu * 1e6) / offers,
    systemShare: sys / Math.max(cpu, 0.01),
    readsPerOffer: io.reads / offers,
    writesPerOffer: io.writes / offers,
  };
  if (server.redisPort) {
    const delta = (name: string): number => (calls[name] ?? 0) - (callsBefore[name] ?? 0);
    measured.remoteSignals = remoteSignals;
    measured.spublishPerRemoteSignal = delta('spublish') / Math.max(1, remoteSignals);
    // Announces answered in the window against script calls in it (the edges blur it a little).
    measured.evalshaPerAnnounce = (delta('evalsha') + delta('eval')) / Math.max(1, result.announces);
  }
  return measured;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};
const fmt = (n: number, digits = 1): string => n.toFixed(digits);

async function main(): Promise<void> {
  const load: Omit<WsLoadOptions, 'urls'> = {
    sockets: option('sockets', 200),
    swarms: option('swarms', 4),
    offers: option('offers', 5),
    sdpBytes: option('sdp', 600),
    seconds: option('seconds', 8),
    fillers: option('fillers', 0),
  };
  const rounds = option('rounds', 3);
  console.log(
    `shoal WebTorrent benchmark: node ${process.version}, ${hasTaskset ? 'servers on CPU 0, load generator and Redis on CPU 1' : 'unpinned (no taskset)'}; ` +
      `${load.sockets} sockets in ${load.swarms} swarms (+ ${load.fillers} passive peers each), ${load.offers} offers of ${load.sdpBytes} B per announce, every offer answered, ${load.seconds} s x ${rounds} rounds`,
  );
  const baseline = baselineCli === undefined ? [] : [await shoalMemory(baselineCli), ...(hasRedis ? [await shoalReplicas(baselineCli)] : [])];
  const servers = [
    await shoalMemory(),
    await bittorrentTracker(),
    await wsFloor(false),
    ...(hasRedis ? [await shoalReplicas()] : []),
    await wsFloor(true),
    await transportFloor(),
    ...baseline,
  ];
  const results = new Map<string, Measured[]>(servers.map((s) => [s.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const server of servers) {
      const r = await measure(server, { ...load, urls: server.urls });
      results.get(server.name)!.push(r);
      console.log(
        `  round ${round + 1} ${server.name.padEnd(34)} ${fmt(r.messagesPerSecond, 0).padStart(7)} msg/s  p50 ${fmt(r.p50us / 1000, 2)} ms  p99 ${fmt(r.p99us / 1000, 2)} ms  ` +
          `CPU ${fmt(r.cpuUsPerMessage)} µs/msg ${fmt(r.cpuUsPerOffer)} µs/offer (${fmt(r.systemShare * 100, 0)}% kernel)  syscalls/offer ${fmt(r.readsPerOffer, 2)} read ${fmt(r.writesPerOffer, 2)} write  (${r.announces} announces, ${r.offersReceived} offers, ${r.answersReceived} answers, ${r.failures} failures)` +
          (r.spublishPerRemoteSignal !== undefined
            ? `  redis: ${fmt(r.evalshaPerAnnounce!, 2)} scripts/announce, ${fmt(r.spublishPerRemoteSignal, 2)} SPUBLISH per cross-replica signal (${r.remoteSignals})`
            : ''),
      );
    }
  }
  for (const server of servers) await server.stop();

  console.log('\nmedians of the rounds');
  console.log('| server | messages/s | announce p50 | announce p99 | CPU per message | CPU per relayed offer (+ its answer) |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  const med = (name: string, pick: (r: Measured) => number): number => median(results.get(name)!.map(pick));
  for (const server of servers) {
    const n = server.name;
    console.log(
      `| ${n} | ${fmt(
        med(n, (r) => r.messagesPerSecond),
        0,
      )} | ${fmt(med(n, (r) => r.p50us) / 1000, 2)} ms | ${fmt(med(n, (r) => r.p99us) / 1000, 2)} ms | ${fmt(med(n, (r) => r.cpuUsPerMessage))} µs | ${fmt(med(n, (r) => r.cpuUsPerOffer))} µs |`,
    );
  }
  const [memory, bt, floor, replicas] = servers
    .map((s) => s.name)
    .filter((name) => !name.startsWith('baseline') && name !== RAW_FLOOR && name !== TRANSPORT_FLOOR);
  const perRound = (a: string, b: string): number[] => results.get(a)!.map((r, i) => results.get(b)![i]!.cpuUsPerOffer / r.cpuUsPerOffer);
  const ratio = median(perRound(memory!, bt!));
  console.log(`\ntargets`);
  console.log(`  CPU per relayed offer, bittorrent-tracker ÷ shoal (memory driver): ${fmt(ratio, 2)}x (target ≥ 3x) ${ratio >= 3 ? 'PASS' : 'FAIL'}`);
  // The floor is what a relay on ws costs with no tracker at all: shoal ÷ floor is shoal's own share,
  // and bittorrent-tracker ÷ floor the most any tracker on ws could beat bittorrent-tracker by.
  console.log(`  CPU per relayed offer, shoal (memory driver) ÷ floor (bare ws relay): ${fmt(median(perRound(floor!, memory!)), 2)}x`);
  console.log(
    `  CPU per relayed offer, bittorrent-tracker ÷ floor (bare ws relay): ${fmt(median(perRound(floor!, bt!)), 2)}x (the most a tracker on ws.send could reach)`,
  );
  console.log(
    `  CPU per relayed offer, bittorrent-tracker ÷ floor with raw frames: ${fmt(median(perRound(RAW_FLOOR, bt!)), 2)}x (the most a tracker on ws' receiver and outbox.ts could reach); shoal ÷ it ${fmt(median(perRound(RAW_FLOOR, memory!)), 2)}x`,
  );
  // The transport floor parses nothing and checks nothing: what Node's sockets and the framing cost.
  console.log(
    `  CPU per relayed offer, bittorrent-tracker ÷ transport floor (no ws, no JSON): ${fmt(median(perRound(TRANSPORT_FLOOR, bt!)), 2)}x (the most any tracker in Node could reach here); shoal ÷ it ${fmt(median(perRound(TRANSPORT_FLOOR, memory!)), 2)}x`,
  );
  if (baseline.length > 0) {
    const before = baseline[0]!.name;
    console.log(
      `  baseline (${baselineCli}): bittorrent-tracker ÷ baseline ${fmt(median(perRound(before, bt!)), 2)}x, baseline ÷ floor ${fmt(median(perRound(floor!, before)), 2)}x, baseline ÷ shoal ${fmt(median(perRound(memory!, before)), 2)}x`,
    );
  }
  if (replicas && baseline.length > 1) {
    const before = baseline[1]!.name;
    console.log(`  baseline (${baselineCli}), 2 replicas on Redis: baseline ÷ shoal ${fmt(median(perRound(replicas, before)), 2)}x`);
  }
  if (replicas) {
    const ratio2 = median(perRound(replicas, bt!));
    console.log(`  CPU per relayed offer, bittorrent-tracker ÷ shoal (2 replicas on Redis, both replicas' CPU): ${fmt(ratio2, 2)}x`);
    const rt = median(results.get(replicas)!.map((r) => r.spublishPerRemoteSignal!));
    console.log(`  Redis round trips per signal relayed across replicas: ${fmt(rt, 2)} (target ≤ 1) ${rt <= 1 ? 'PASS' : 'FAIL'}`);
    console.log(`  Redis script calls per announce (replicas): ${fmt(median(results.get(replicas)!.map((r) => r.evalshaPerAnnounce!)), 2)}`);
  }
}

await main();
process.exit(0);
