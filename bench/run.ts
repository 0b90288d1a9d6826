/**
 * `npm run bench`: the tracker (memory driver) against a bare node:http server under the same load, from a
 * separate process, keep-alive and Connection: close; then the scaling case. Servers are pinned to CPU 0
 * and the load generator to CPU 1 when `taskset` exists.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { LoadOptions, LoadResult } from './load.js';

const HELP = `usage: npm run bench -- [--seconds N] [--connections N] [--torrents N] [--zipf S] [--seeders F] [--numwant N] [--peers N] [--no-scaling] [--no-redis] [--sizes 10,100000,1000000]`;

const args = process.argv.slice(2);
if (args.includes('--help')) {
  console.log(HELP);
  process.exit(0);
}
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(args[i + 1]);
};
const sizesArg = args.includes('--sizes') ? args[args.indexOf('--sizes') + 1]! : '10,100000,1000000';
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

function spawnPinned(cpu: number, script: string, scriptArgs: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const command = hasTaskset ? 'taskset' : process.execPath;
  const argv = hasTaskset ? ['-c', String(cpu), process.execPath, script, ...scriptArgs] : [script, ...scriptArgs];
  return spawn(command, argv, { env, stdio: ['ignore', 'pipe', 'inherit'] });
}

function firstLine(child: ChildProcess, match: (line: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const onData = (chunk: Buffer): void => {
      buffer += chunk.toString();
      for (const line of buffer.split('\n')) {
        if (match(line)) {
          child.stdout!.off('data', onData);
          return resolve(line);
        }
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`process exited (${code}) before it was ready`)));
  });
}

function allLines(child: ChildProcess): Promise<string[]> {
  return new Promise((resolve) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c));
    child.on('exit', () => resolve(out.trim().split('\n').filter(Boolean)));
  });
}

/** CPU seconds (user + system) a process has used, from /proc. */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** The pid of the node process under taskset (taskset execs, so it is the same pid). */
async function load(server: ChildProcess, options: LoadOptions, generator = './load.js'): Promise<LoadResult & { cpuUsPerRequest: number }> {
  const cpuBefore = cpuSeconds(server.pid!);
  const child = spawnPinned(1, here(generator), [JSON.stringify(options)]);
  const [line] = await allLines(child);
  const result = JSON.parse(line!) as LoadResult;
  const cpu = cpuSeconds(server.pid!) - cpuBefore;
  return { ...result, cpuUsPerRequest: (cpu * 1e6) / Math.max(1, result.requests) };
}

async function startTracker(env: Record<string, string> = {}): Promise<{ child: ChildProcess; port: number; udpPort: number; metricsPort: number }> {
  const child = spawnPinned(0, CLI, [], { ...process.env, TRACKER_HTTP_ADDR: '127.0.0.1:0', TRACKER_UDP_ADDR: '127.0.0.1:0', TRACKER_UDP_SECRET: 'benchmark-secret-0123456789', TRACKER_METRICS_ADDR: '127.0.0.1:0', TRACKER_LOG_LEVEL: 'info', ...env });
  const line = await firstLine(child, (l) => l.includes('tracker started'));
  const { http, udp, metrics } = JSON.parse(line) as { http: string; udp: string; metrics: string };
  const portOf = (address: string): number => Number(address.slice(address.lastIndexOf(':') + 1));
  return { child, port: portOf(http), udpPort: portOf(udp), metricsPort: portOf(metrics) };
}

async function startBare(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawnPinned(0, here('./bare-server.js'), ['0']);
  const line = await firstLine(child, (l) => l.startsWith('{'));
  return { child, port: (JSON.parse(line) as { port: number }).port };
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function redisCli(port: number, ...args: string[]): string {
  return execFileSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
}

async function startRedisServer(): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort();
  const conf = here('../../redis.conf');
  const command = hasTaskset ? 'taskset' : 'redis-server';
  const argv = [...(hasTaskset ? ['-c', '1', 'redis-server'] : []), conf, '--port', String(port), '--bind', '127.0.0.1'];
  const child = spawn(command, argv, { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    try {
      if (redisCli(port, 'ping').trim() === 'PONG') return { child, port };
    } catch {
      // starting
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('redis-server did not start');
}

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function main(): Promise<void> {
  const base: Omit<LoadOptions, 'host' | 'port' | 'keepAlive' | 'seconds'> = {
    connections: option('connections', 50),
    torrents: option('torrents', 10_000),
    zipf: option('zipf', 1.0),
    seeders: option('seeders', 0.3),
    numwant: option('numwant', 50),
    pool: option('peers', 100_000),
  };
  const seconds = option('seconds', 8);
  console.log(`shoal benchmark: node ${process.version}, ${hasTaskset ? 'servers on CPU 0, load on CPU 1' : 'unpinned (no taskset)'}`);
  console.log(`load: ${base.connections} connections, ${base.pool} peers over ${base.torrents} torrents (Zipf s=${base.zipf}), ${base.seeders * 100}% seeders, numwant ${base.numwant}, ${seconds} s per case`);
  console.log('the tracker is warmed up with one announce from every peer; measured announces are re-announces\n');

  const tracker = await startTracker();
  // Warm-up: one pass over every peer fills the swarms, so the measured announces are the steady
  // state of a tracker (re-announces of known peers), and the JIT settles.
  await load(tracker.child, { ...base, host: '127.0.0.1', port: tracker.port, keepAlive: true, seconds: 120, maxRequests: base.pool });
  const bare = await startBare();

  const rows: Array<[string, LoadResult & { cpuUsPerRequest: number }]> = [];
  for (const keepAlive of [true, false]) {
    const mode = keepAlive ? 'keep-alive' : 'Connection: close';
    const caseSeconds = keepAlive ? seconds : Math.min(seconds, 5);
    rows.push([`tracker  ${mode}`, await load(tracker.child, { ...base, host: '127.0.0.1', port: tracker.port, keepAlive, seconds: caseSeconds })]);
    rows.push([`bare     ${mode}`, await load(bare.child, { ...base, host: '127.0.0.1', port: bare.port, keepAlive, seconds: caseSeconds })]);
  }
  const udpMemory = await load(tracker.child, { ...base, host: '127.0.0.1', port: tracker.udpPort, keepAlive: true, seconds }, './udp-load.js');
  const metricsText = await (await fetch(`http://127.0.0.1:${tracker.metricsPort}/metrics`)).text();
  await Promise.all([stop(tracker.child), stop(bare.child)]);

  // The redis driver under the same load: Redis on CPU 1 beside the load generator, the tracker on CPU 0.
  let redisRow: [string, LoadResult & { cpuUsPerRequest: number }] | null = null;
  let udpRedis: (LoadResult & { cpuUsPerRequest: number }) | null = null;
  let redisStats = '';
  const hasRedis = ((): boolean => {
    try {
      execFileSync('redis-server', ['--version']);
      return true;
    } catch {
      return false;
    }
  })();
  if (hasRedis && !args.includes('--no-redis')) {
    const redis = await startRedisServer();
    const redisTracker = await startTracker({ TRACKER_TRACKER_DRIVER: 'redis', TRACKER_TRACKER_PARAMS: JSON.stringify({ url: `redis://127.0.0.1:${redis.port}` }) });
    await load(redisTracker.child, { ...base, host: '127.0.0.1', port: redisTracker.port, keepAlive: true, seconds: 120, maxRequests: base.pool });
    redisCli(redis.port, 'config', 'resetstat');
    const result = await load(redisTracker.child, { ...base, host: '127.0.0.1', port: redisTracker.port, keepAlive: true, seconds });
    const stats = redisCli(redis.port, 'info', 'commandstats');
    const evalsha = /cmdstat_evalsha:calls=(\d+),usec=(\d+),usec_per_call=([\d.]+)/.exec(stats);
    const calls = evalsha ? Number(evalsha[1]) : 0;
    redisStats =
      `redis driver: ${(calls / Math.max(1, result.requests)).toFixed(3)} script calls per announce, ` +
      `${evalsha ? evalsha[3] : '?'} µs of Redis time per announce (INFO commandstats)`;
    redisRow = ['tracker  keep-alive, redis', result];
    udpRedis = await load(redisTracker.child, { ...base, host: '127.0.0.1', port: redisTracker.udpPort, keepAlive: true, seconds }, './udp-load.js');
    await stop(redisTracker.child);
    redis.child.kill('SIGKILL');
  } else {
    redisStats = hasRedis ? 'redis driver: skipped (--no-redis)' : 'redis driver: skipped (redis-server not installed)';
  }
  if (redisRow) rows.push(redisRow);
  rows.push(['tracker  UDP', udpMemory]);
  if (udpRedis) rows.push(['tracker  UDP, redis', udpRedis]);

  console.log('case                        requests/s     p50 µs     p99 µs   server CPU µs/req   body B   failures  errors');
  for (const [name, r] of rows) {
    console.log(
      `${name.padEnd(26)} ${fmt(r.rps).padStart(12)} ${fmt(r.p50us).padStart(10)} ${fmt(r.p99us).padStart(10)} ${fmt(r.cpuUsPerRequest, 1).padStart(19)} ${fmt(r.meanBodyBytes).padStart(8)} ${String(r.failures).padStart(10)} ${String(r.errors).padStart(7)}`,
    );
  }
  const ratio = (i: number, j: number): string => (rows[i]![1].rps / rows[j]![1].rps).toFixed(2);
  console.log(`\ntracker/bare throughput: keep-alive ${ratio(0, 1)}, Connection: close ${ratio(2, 3)}`);
  if (redisRow) console.log(`redis/memory driver throughput (keep-alive): ${ratio(4, 0)}`);
  const udpRow = rows.findIndex(([name]) => name === 'tracker  UDP');
  console.log(`UDP/HTTP keep-alive throughput: memory ${ratio(udpRow, 0)}` + (udpRedis ? `, redis ${(udpRedis.rps / redisRow![1].rps).toFixed(2)}` : ''));
  console.log(redisStats);
  console.log('\n/metrics of the memory-driver tracker after its runs (excerpt):');
  for (const line of metricsText.split('\n')) {
    if (/^tracker_(requests_total|swarms|peers|driver_ready)|^tracker_request_duration_seconds_(count|sum)|^tracker_driver_duration_seconds_count|^process_resident_memory_bytes|^nodejs_eventloop_lag_p99_seconds/.test(line)) console.log(`  ${line}`);
  }

  if (!args.includes('--no-scaling')) {
    console.log(`\nscaling (memory driver, in-process, one swarm, re-announces with numwant 50):`);
    const child = spawnPinned(0, here('./scaling.js'), [sizesArg]);
    child.stdout!.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().trim().split('\n')) {
        const r = JSON.parse(line) as { swarm: number; usPerAnnounce: number; peersPerAnswer: number; heapBytesPerPeer: number | null };
        console.log(
          `  swarm ${fmt(r.swarm).padStart(9)} peers: ${r.usPerAnnounce.toFixed(2).padStart(7)} µs per announce, ${r.peersPerAnswer.toFixed(1)} peers per answer` +
            (r.heapBytesPerPeer ? `, ~${fmt(r.heapBytesPerPeer)} heap bytes per peer` : ''),
        );
      }
    });
    await new Promise((resolve) => child.on('exit', resolve));
  }

  if (hasRedis && !args.includes('--no-redis') && !args.includes('--no-scaling')) {
    console.log('\nredis driver costs (a redis-server of its own, shipped redis.conf):');
    const redis = await startRedisServer();
    const child = spawnPinned(0, here('./redis-costs.js'), [String(redis.port)]);
    child.stdout!.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().trim().split('\n')) {
        const r = JSON.parse(line) as { case: string; layout?: string; bytesPerPeer?: number; swarm?: number; usPerCall?: number };
        if (r.case === 'memory') console.log(`  memory: ${r.bytesPerPeer!.toFixed(1)} bytes per peer, ${r.layout}`);
        else console.log(`  announce into a swarm of ${fmt(r.swarm!).padStart(9)} peers: ${r.usPerCall!.toFixed(1)} µs of Redis time`);
      }
    });
    await new Promise((resolve) => child.on('exit', resolve));
    redis.child.kill('SIGKILL');
  }
}

await main();
