/** Starts trackers for tests: in-process via boot(), or as a child process of the real CLI. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { boot } from '../../src/boot.js';
import { httpGet, type HttpReply } from './http.js';

/** The UDP connection-id key the test trackers share. */
export const TEST_UDP_SECRET = 'test-secret-0123456789abcdef';

export const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

export interface TestTracker {
  port: number;
  /** 0 when metrics are off (the default in tests). */
  metricsPort?: number;
  udpPort: number;
  /** 0 when the management API is off (the default). */
  adminPort?: number;
  get(path: string, headers?: Record<string, string>, host?: string): Promise<HttpReply>;
  close(): Promise<void>;
}

/** Boots a tracker in this process on a free port of every address ([::]:0). */
export async function startTracker(config: Record<string, unknown> = {}): Promise<TestTracker> {
  const running = await boot({
    config: {
      ...config,
      http: { addr: '[::]:0', ...((config.http as object) ?? {}) },
      udp: { addr: '[::]:0', secret: TEST_UDP_SECRET, ...((config.udp as object) ?? {}) },
      metrics: { addr: '', ...((config.metrics as object) ?? {}) },
    },
    env: {},
    logger: pino({ level: 'silent' }),
  });
  const port = running.httpAddress.port;
  return {
    metricsPort: running.metricsAddress?.port ?? 0,
    adminPort: running.adminAddress?.port ?? 0,
    port,
    udpPort: running.udpAddress?.port ?? 0,
    get: (path, headers = {}, host = '127.0.0.1') => httpGet(host, port, path, headers),
    close: () => running.close(),
  };
}

export interface ChildTracker {
  child: ChildProcess;
  /** Every stdout line so far. */
  lines: string[];
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first stdout line for which `match` is true. */
  waitForLine(match: (line: string) => boolean, timeoutMs?: number): Promise<string>;
}

/** Spawns a node program (the CLI by default) with a clean TRACKER_* environment. */
export function spawnNode(args: string[], env: Record<string, string> = {}): ChildTracker {
  const cleanEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TRACKER_') && v !== undefined) cleanEnv[k] = v;
  const child = spawn(process.execPath, args, { env: { ...cleanEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let err = '';
  const waiters: Array<{ match: (line: string) => boolean; resolve: (line: string) => void }> = [];
  let pending = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    let nl: number;
    while ((nl = pending.indexOf('\n')) !== -1) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      lines.push(line);
      for (const w of [...waiters])
        if (w.match(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    child,
    lines,
    stderr: () => err,
    exit,
    waitForLine(match, timeoutMs = 10_000) {
      const found = lines.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching line within ${timeoutMs} ms; stdout: ${lines.join('\n')} stderr: ${err}`)), timeoutMs);
        waiters.push({
          match,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
        void exit.then(() => {
          clearTimeout(timer);
          reject(new Error(`process exited before the line; stdout: ${lines.join('\n')} stderr: ${err}`));
        });
      });
    },
  };
}

/** The tracker CLI as a separate process (configured through the environment), as a TestTracker. */
export async function startTrackerProcess(env: Record<string, string>): Promise<TestTracker & { proc: ChildTracker }> {
  const proc = spawnNode([CLI], {
    TRACKER_HTTP_ADDR: '[::]:0',
    TRACKER_UDP_ADDR: '[::]:0',
    TRACKER_UDP_SECRET: TEST_UDP_SECRET,
    TRACKER_METRICS_ADDR: '',
    TRACKER_LOG_LEVEL: 'info',
    ...env,
  });
  const line = await proc.waitForLine((l) => l.includes('"tracker started"'), 15_000).catch(() => null);
  if (!line) throw new Error(`tracker process did not start: ${proc.stderr()}`);
  const port = portFromStartLine(line);
  const udpPort = udpPortFromStartLine(line);
  const admin = (JSON.parse(line) as { admin?: string | null }).admin;
  return {
    proc,
    udpPort,
    port,
    adminPort: admin ? Number(admin.slice(admin.lastIndexOf(':') + 1)) : 0,
    get: (path, headers = {}, host = '127.0.0.1') => httpGet(host, port, path, headers),
    async close() {
      proc.child.kill('SIGTERM');
      await proc.exit;
    },
  };
}

/** The HTTP port from the "tracker started" log line. */
export function portFromStartLine(line: string): number {
  const record = JSON.parse(line) as { http: string };
  return Number(record.http.slice(record.http.lastIndexOf(':') + 1));
}

/** The UDP port from the "tracker started" log line (0 when UDP is off). */
export function udpPortFromStartLine(line: string): number {
  const record = JSON.parse(line) as { udp: string | null };
  return record.udp ? Number(record.udp.slice(record.udp.lastIndexOf(':') + 1)) : 0;
}
