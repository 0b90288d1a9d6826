/**
 * `npm run bench:hostile`: what legitimate clients see while the tracker is attacked. The tracker (memory
 * driver, CLI defaults unless told otherwise) runs on CPU 0; legitimate announces come from 127.0.0.1
 * (bench/load.ts, keep-alive and Connection: close) and the attacker (bench/hostile-flood.ts) from
 * 127.0.1.x (slow connections) and 127.0.0.2 (rapid announces), both on CPU 1. Each round measures the
 * legitimate load alone, then under the flood; the table shows medians and every round.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FloodOptions, FloodResult } from './hostile-flood.js';
import type { LoadOptions, LoadResult } from './load.js';

const HELP = `usage: npm run bench:hostile -- [--seconds N] [--rounds N] [--connections N] [--slow N] [--slow-addresses N] [--rapid N]
                                [--env KEY=VALUE ...]

  --seconds N         seconds per measurement (5)           --rounds N   rounds, each without and with the flood (3)
  --connections N     legitimate connections from 127.0.0.1 (16)
  --slow N            slow connections of the flood: a partial head, then a byte a second, reopened when closed (2000)
  --slow-addresses N  loopback addresses they come from, 127.0.1.1 up (100)
  --rapid N           keep-alive connections from 127.0.0.2 announcing as fast as they are answered (4; 0: none)
  --env KEY=VALUE     tracker environment, e.g. --env TRACKER_HTTP_HEADER_TIMEOUT=60 (repeatable)`;

const args = process.argv.slice(2);
if (args.includes('--help')) {
  console.log(HELP);
  process.exit(0);
}
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(args[i + 1]);
};
const trackerEnv: Record<string, string> = {};
args.forEach((arg, i) => {
  if (arg !== '--env') return;
  const [key, ...value] = (args[i + 1] ?? '').split('=');
  if (key) trackerEnv[key] = value.join('=');
});
const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));

const hasTaskset = ((): boolean => {
  try {
    execFileSync('taskset', ['-c', '0', 'true']);
    return true;
  } catch {
    return false;
  }
})();

const started = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function spawnPinned(cpu: number, script: string, scriptArgs: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const command = hasTaskset ? 'taskset' : process.execPath;
  const argv = hasTaskset ? ['-c', String(cpu), process.execPath, script, ...scriptArgs] : [script, ...scriptArgs];
  const child = spawn(command, argv, { env, stdio: ['ignore', 'pipe', 'inherit'] });
  started.add(child);
  child.once('exit', () => started.delete(child));
  return child;
}

/** Resolves with the first stdout line `match` accepts. */
function lineOf(child: ChildProcess, match: (line: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const onData = (chunk: Buffer): void => {
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop()!;
      for (const line of lines)
        if (match(line)) {
          child.stdout!.off('data', onData);
          return resolve(line);
        }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`process exited (${code}) before the expected line`)));
  });
}

/** CPU seconds (user + system) a process has used, from /proc (taskset execs, so the pid is node's). */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

async function metrics(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

function series(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name + ' ') || line.startsWith(name + '{')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  const seconds = option('seconds', 5);
  const rounds = option('rounds', 3);
  const base = { connections: option('connections', 16), torrents: 10_000, zipf: 1, seeders: 0.3, numwant: 50, pool: 100_000 };
  const floodOptions: Omit<FloodOptions, 'port'> = {
    host: '127.0.0.1',
    slow: option('slow', 2000),
    slowAddresses: option('slow-addresses', 100),
    rapid: option('rapid', 4),
  };

  const tracker = spawnPinned(0, here('../src/cli.js'), [], {
    ...process.env,
    TRACKER_HTTP_ADDR: '127.0.0.1:0',
    TRACKER_UDP_ADDR: '',
    TRACKER_METRICS_ADDR: '127.0.0.1:0',
    TRACKER_LOG_LEVEL: 'info',
    ...trackerEnv,
  });
  const startLine = JSON.parse(await lineOf(tracker, (l) => l.includes('tracker started'))) as { http: string; metrics: string };
  const portOf = (address: string): number => Number(address.slice(address.lastIndexOf(':') + 1));
  const port = portOf(startLine.http);
  const metricsPort = portOf(startLine.metrics);

  console.log(`shoal hostile-load benchmark: node ${process.version}, ${hasTaskset ? 'tracker on CPU 0, load and flood on CPU 1' : 'unpinned (no taskset)'}`);
  console.log(`tracker environment: ${Object.keys(trackerEnv).length ? JSON.stringify(trackerEnv) : 'defaults'}`);
  console.log(`legitimate: ${base.connections} connections from 127.0.0.1, ${base.pool} peers over ${base.torrents} torrents, numwant ${base.numwant}`);
  console.log(
    `flood: ${floodOptions.slow} slow connections from ${floodOptions.slowAddresses} addresses (127.0.1.x; partial head, a byte a second, reopened when closed), ` +
      `${floodOptions.rapid} rapid keep-alive announcers from 127.0.0.2`,
  );
  console.log(`${rounds} rounds of ${seconds} s per case, each without and with the flood\n`);

  const load = async (keepAlive: boolean, extra: Partial<LoadOptions> = {}): Promise<LoadResult> => {
    const child = spawnPinned(1, here('./load.js'), [JSON.stringify({ ...base, host: '127.0.0.1', port, keepAlive, seconds, ...extra })]);
    return JSON.parse(await lineOf(child, (l) => l.startsWith('{'))) as LoadResult;
  };
  // Warm-up: one announce from every legitimate peer.
  await load(true, { seconds: 120, maxRequests: base.pool });

  type Row = LoadResult & { flood?: FloodResult };
  const results = new Map<string, Row[]>();
  const push = (name: string, row: Row): void => void results.set(name, [...(results.get(name) ?? []), row]);
  for (let round = 0; round < rounds; round++) {
    push('keep-alive, no flood', await load(true));
    push('close, no flood', await load(false));
    const flood = spawnPinned(1, here('./hostile-flood.js'), [JSON.stringify({ ...floodOptions, port })]);
    const floodDone = lineOf(flood, (l) => l.startsWith('{"slowOpened"'));
    await lineOf(flood, (l) => l.includes('"ready"'));
    // The tracker's CPU spent on the flood alone (no legitimate load): a figure this VM's drift hardly moves.
    const cpuBefore = cpuSeconds(tracker.pid!);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const floodCpu = (cpuSeconds(tracker.pid!) - cpuBefore) / 3;
    const openDuring = series(await metrics(metricsPort), 'tracker_http_connections_open');
    const keepAlive = await load(true);
    const close = await load(false);
    flood.kill('SIGTERM');
    const floodResult = JSON.parse(await floodDone) as FloodResult;
    push('keep-alive, flood', { ...keepAlive, flood: floodResult });
    push('close, flood', close);
    console.log(
      `round ${round + 1}: the flood alone took ${fmt(floodCpu * 100)}% of the tracker's core; it held ${openDuring} connections; the flood opened ${floodResult.slowOpened} slow connections, ` +
        `the tracker closed ${floodResult.slowClosed} (longest held ${fmt(floodResult.slowLongestHeldMs / 1000, 1)} s), ${floodResult.slowOpenAtEnd} open at the end; ` +
        `rapid announces: ${floodResult.rapidAnswered} answered, ${floodResult.rapidFailures} refused`,
    );
  }

  console.log('\n| case | requests/s | p50 ms | p99 ms | failures | errors |\n| --- | --- | --- | --- | --- | --- |');
  for (const [name, rows] of results) {
    console.log(
      `| ${name} | ${fmt(median(rows.map((r) => r.rps)))} | ${fmt(median(rows.map((r) => r.p50us)) / 1000, 2)} | ${fmt(median(rows.map((r) => r.p99us)) / 1000, 2)} | ` +
        `${rows.reduce((s, r) => s + r.failures, 0)} | ${rows.reduce((s, r) => s + r.errors, 0)} |`,
    );
  }
  console.log('\nevery round (requests/s, p99 ms):');
  for (const [name, rows] of results) console.log(`  ${name.padEnd(22)} ${rows.map((r) => `${fmt(r.rps)} / ${fmt(r.p99us / 1000, 2)}`).join('   ')}`);

  const text = await metrics(metricsPort);
  console.log('\ntracker metrics at the end:');
  for (const line of text.split('\n')) if (/^tracker_http_(connections|forwarded)/.test(line)) console.log(`  ${line}`);
  tracker.kill('SIGTERM');
}

await main();
