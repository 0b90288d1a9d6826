/**
 * `npm run bench`: the tracker (memory driver) against a bare node:http server under the same load, from a
 * separate process, keep-alive and Connection: close; then the scaling case. Servers are pinned to CPU 0
 * and the load generator to CPU 1 when `taskset` exists.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { redisDriver } from '../src/tracker/redis/driver.js';
import { benchPasskey, buildPool, type LoadOptions, type LoadResult } from './load.js';
import { freePort } from './swarm-peers.js';

const HELP = `usage: npm run bench -- [--seconds N] [--connections N] [--torrents N] [--zipf S] [--seeders F] [--numwant N] [--peers N] [--no-scaling] [--no-redis] [--seconds N] [--rounds N] [--sizes 10,100000,1000000]`;

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

const PRIVATE_USERS = 1000;
const PRIVATE_STREAM = 'bench:accounting';

/** A private-mode tracker, with the benchmark's users and every torrent of its pool registered. */
async function startPrivateTracker(redisPort: number, base: Omit<LoadOptions, 'host' | 'port' | 'keepAlive' | 'seconds'>): Promise<{ child: ChildProcess; port: number }> {
  const url = `redis://127.0.0.1:${redisPort}`;
  const store = await redisDriver.open({ url }, { peerTtl: 3600, logger: pino({ level: 'silent' }) });
  const hashes = new Map(buildPool(base).map((p) => [p.infoHash.toString('hex'), p.infoHash]));
  let torrentId = 0;
  const writes: Array<Promise<void>> = [];
  for (let id = 1; id <= PRIVATE_USERS; id++) writes.push(store.catalogue.putUser({ id, passkey: benchPasskey(id), upMultiplier: 1, downMultiplier: 1, enabled: true }));
  for (const infoHash of hashes.values()) writes.push(store.catalogue.putTorrent({ infoHash, id: ++torrentId, upMultiplier: 1, downMultiplier: 1, freeleech: false }));
  await Promise.all(writes);
  await store.close();
  return startTracker({
    TRACKER_TRACKER_DRIVER: 'redis',
    TRACKER_TRACKER_PARAMS: JSON.stringify({ url }),
    TRACKER_PRIVATE_ENABLED: 'true',
    TRACKER_BACKEND_DRIVER: 'redis-stream',
    TRACKER_BACKEND_PARAMS: JSON.stringify({ url, stream: PRIVATE_STREAM, max_len: 200_000 }),
  });
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
  const seconds = option('seconds', 5);
  const rounds = option('rounds', 3);
  const hasRedis = ((): boolean => {
    try {
      execFileSync('redis-server', ['--version']);
      return true;
    } catch {
      return false;
    }
  })();
  const withRedis = hasRedis && !args.includes('--no-redis');
  console.log(`shoal benchmark: node ${process.version}, ${hasTaskset ? 'servers on CPU 0, load generator and Redis on CPU 1' : 'unpinned (no taskset)'}`);
  console.log(`load: ${base.connections} connections, ${base.pool} peers over ${base.torrents} torrents (Zipf s=${base.zipf}), ${base.seeders * 100}% seeders, numwant ${base.numwant}`);
  console.log(`every case runs ${seconds} s in each of ${rounds} interleaved rounds (this VM's speed drifts); the table shows medians`);
  console.log('each tracker is warmed up with one announce from every peer; measured announces are re-announces\n');

  const tracker = await startTracker();
  const bare = await startBare();
  const redis = withRedis ? await startRedisServer() : null;
  const redisTracker = redis ? await startTracker({ TRACKER_TRACKER_DRIVER: 'redis', TRACKER_TRACKER_PARAMS: JSON.stringify({ url: `redis://127.0.0.1:${redis.port}` }) }) : null;
  // Private mode: the same driver on a Redis of its own (so that INFO tells its costs apart), every
  // announce checked against users and registered torrents, and its accounting written to a stream.
  const privateRedis = withRedis ? await startRedisServer() : null;
  const privateTracker = privateRedis ? await startPrivateTracker(privateRedis.port, base) : null;
  const privateLoad = { ...base, users: PRIVATE_USERS };
  // Warm-up: one pass over every peer fills the swarms and lets the JIT settle.
  for (const t of [tracker, redisTracker]) if (t) await load(t.child, { ...base, host: '127.0.0.1', port: t.port, keepAlive: true, seconds: 120, maxRequests: base.pool });
  if (privateTracker) await load(privateTracker.child, { ...privateLoad, host: '127.0.0.1', port: privateTracker.port, keepAlive: true, seconds: 120, maxRequests: base.pool });
  for (const r of [redis, privateRedis]) if (r) redisCli(r.port, 'config', 'resetstat');

  type Measured = LoadResult & { cpuUsPerRequest: number };
  type Case = { name: string; run: () => Promise<Measured> };
  const http = (t: { child: ChildProcess; port: number }, keepAlive: boolean) => () =>
    load(t.child, { ...base, host: '127.0.0.1', port: t.port, keepAlive, seconds });
  const udp = (t: { child: ChildProcess; udpPort: number }) => () =>
    load(t.child, { ...base, host: '127.0.0.1', port: t.udpPort, keepAlive: true, seconds }, './udp-load.js');
  const cases: Case[] = [
    { name: 'tracker  keep-alive', run: http(tracker, true) },
    { name: 'bare     keep-alive', run: http(bare, true) },
    { name: 'tracker  Connection: close', run: http(tracker, false) },
    { name: 'bare     Connection: close', run: http(bare, false) },
    { name: 'tracker  UDP', run: udp(tracker) },
  ];
  if (redisTracker) cases.push({ name: 'tracker  keep-alive, redis', run: http(redisTracker, true) }, { name: 'tracker  UDP, redis', run: udp(redisTracker) });
  if (privateTracker) {
    cases.push({ name: 'private  keep-alive, redis', run: () => load(privateTracker.child, { ...privateLoad, host: '127.0.0.1', port: privateTracker.port, keepAlive: true, seconds }) });
  }
  const results = new Map<string, Measured[]>(cases.map((c) => [c.name, []]));
  let redisHttpRequests = 0;
  for (let round = 0; round < rounds; round++) {
    for (const c of cases) {
      const result = await c.run();
      results.get(c.name)!.push(result);
      if (c.name === 'tracker  keep-alive, redis') redisHttpRequests += result.requests;
    }
  }
  const metricsText = await (await fetch(`http://127.0.0.1:${tracker.metricsPort}/metrics`)).text();
  let redisStats = withRedis ? '' : hasRedis ? 'redis driver: skipped (--no-redis)' : 'redis driver: skipped (redis-server not installed)';
  let redisMicros = NaN;
  if (redis && redisTracker) {
    // Script calls counted over the whole run, divided by the announces of all redis cases (HTTP and UDP).
    const stats = redisCli(redis.port, 'info', 'commandstats');
    const evalsha = /cmdstat_evalsha:calls=(\d+),usec=(\d+),usec_per_call=([\d.]+)/.exec(stats);
    const udpRequests = results.get('tracker  UDP, redis')!.reduce((n, r) => n + r.requests, 0);
    redisMicros = evalsha ? Number(evalsha[3]) : NaN;
    redisStats = `redis driver: ${((evalsha ? Number(evalsha[1]) : 0) / Math.max(1, redisHttpRequests + udpRequests)).toFixed(3)} script calls per announce, ${redisMicros.toFixed(1)} µs of Redis time per announce (INFO commandstats)`;
    await stop(redisTracker.child);
    redis.child.kill('SIGKILL');
  }
  let privateStats = '';
  if (privateRedis && privateTracker) {
    await stop(privateTracker.child); // flushes the accounting buffer
    const stats = redisCli(privateRedis.port, 'info', 'commandstats');
    const perCall = (name: string): { calls: number; usec: number } => {
      const m = new RegExp(`cmdstat_${name}:calls=(\\d+),usec=(\\d+)`).exec(stats);
      return { calls: m ? Number(m[1]) : 0, usec: m ? Number(m[2]) : 0 };
    };
    const evalsha = perCall('evalsha');
    const xadd = perCall('xadd');
    const announces = results.get('private  keep-alive, redis')!.reduce((n, r) => n + r.requests, 0);
    privateStats =
      `private mode: ${(evalsha.calls / Math.max(1, announces)).toFixed(3)} script calls and ${(xadd.calls / Math.max(1, announces)).toFixed(3)} XADDs per announce; ` +
      `Redis time per announce ${((evalsha.usec + xadd.usec) / Math.max(1, announces)).toFixed(1)} µs (script ${(evalsha.usec / Math.max(1, evalsha.calls)).toFixed(1)}, XADD ${(xadd.usec / Math.max(1, xadd.calls)).toFixed(1)} per call); ` +
      `stream length ${redisCli(privateRedis.port, 'xlen', PRIVATE_STREAM).trim()} (capped by max_len)`;
    privateRedis.child.kill('SIGKILL');
  }
  await Promise.all([stop(tracker.child), stop(bare.child)]);

  const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const med = (name: string, pick: (r: Measured) => number): number => median(results.get(name)!.map(pick));
  /** The median over rounds of a per-round ratio, so both sides of each ratio ran minutes apart at most. */
  const roundRatio = (a: string, b: string, pick: (r: Measured) => number): number =>
    median(results.get(a)!.map((r, i) => pick(r) / pick(results.get(b)![i]!)));

  console.log('case                        requests/s     p50 µs     p99 µs   server CPU µs/req   body B   failures  errors');
  for (const c of cases) {
    const all = results.get(c.name)!;
    const failures = all.reduce((n, r) => n + r.failures, 0);
    const errors = all.reduce((n, r) => n + r.errors, 0);
    console.log(
      `${c.name.padEnd(26)} ${fmt(med(c.name, (r) => r.rps)).padStart(12)} ${fmt(med(c.name, (r) => r.p50us)).padStart(10)} ${fmt(med(c.name, (r) => r.p99us)).padStart(10)} ${fmt(med(c.name, (r) => r.cpuUsPerRequest), 1).padStart(19)} ${fmt(med(c.name, (r) => r.meanBodyBytes)).padStart(8)} ${String(failures).padStart(10)} ${String(errors).padStart(7)}`,
    );
  }
  const rps = (r: Measured): number => r.rps;
  const cpu = (r: Measured): number => r.cpuUsPerRequest;
  console.log(`\ntracker/bare throughput: keep-alive ${roundRatio('tracker  keep-alive', 'bare     keep-alive', rps).toFixed(2)}, Connection: close ${roundRatio('tracker  Connection: close', 'bare     Connection: close', rps).toFixed(2)}`);
  console.log(
    `UDP/HTTP keep-alive throughput (memory driver, same tracker, same core): ${roundRatio('tracker  UDP', 'tracker  keep-alive', rps).toFixed(2)}` +
      `; tracker CPU per announce HTTP/UDP: ${roundRatio('tracker  keep-alive', 'tracker  UDP', cpu).toFixed(2)}`,
  );
  if (redisTracker) {
    const trackerCpu = med('tracker  keep-alive, redis', cpu);
    console.log(`redis/memory driver throughput (keep-alive), measured with Redis beside the load generator: ${roundRatio('tracker  keep-alive, redis', 'tracker  keep-alive', rps).toFixed(2)}`);
    // On two cores Redis shares the load generator's core, which the measured ratio pays for. With Redis on
    // a core of its own the tracker's core is the limit while Redis needs less time per announce than the
    // tracker does; the ratio is then that of tracker CPU per announce.
    console.log(
      `redis/memory driver throughput with Redis on a core of its own: ${roundRatio('tracker  keep-alive', 'tracker  keep-alive, redis', cpu).toFixed(2)} ` +
        `(tracker CPU per announce, memory/redis; ${redisMicros < trackerCpu ? 'tracker-bound' : 'Redis-bound'}: Redis ${redisMicros.toFixed(1)} µs vs tracker ${trackerCpu.toFixed(1)} µs per announce)`,
    );
  }
  if (privateTracker) {
    console.log(
      `private/public throughput (both redis driver, keep-alive; private adds passkey and torrent checks and the redis-stream backend): ${roundRatio('private  keep-alive, redis', 'tracker  keep-alive, redis', rps).toFixed(2)}` +
        `; tracker CPU per announce private/public: ${roundRatio('private  keep-alive, redis', 'tracker  keep-alive, redis', cpu).toFixed(2)}`,
    );
  }
  console.log(redisStats);
  if (privateStats) console.log(privateStats);
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
        const r = JSON.parse(line) as { case: string; layout?: string; bytesPerPeer?: number; swarm?: number; private?: boolean; usPerCall?: number; rounds?: number[] };
        if (r.case === 'memory') console.log(`  memory: ${r.bytesPerPeer!.toFixed(1)} bytes per peer, ${r.layout}`);
        else {
          console.log(
            `  ${r.private ? 'private announce' : 'announce'} into a swarm of ${fmt(r.swarm!).padStart(9)} peers: ${r.usPerCall!.toFixed(1)} µs of Redis time ` +
              `(median; rounds ${r.rounds!.map((us) => us.toFixed(1)).join(', ')})`,
          );
        }
      }
    });
    await new Promise((resolve) => child.on('exit', resolve));
    redis.child.kill('SIGKILL');
  }
}

await main();
