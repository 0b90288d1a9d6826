/** A real Prometheus server for tests: on a free port, its own data directory, killed at exit. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './redis.js';
import { toolMissing } from './tools.js';
import { waitUntil } from './wait.js';

const children = new Set<ChildProcess>();
const dirs = new Set<string>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Throws under CI=true when prometheus or promtool is missing; otherwise a reason to skip, or null. */
export function prometheusMissing(): string | null {
  return toolMissing('prometheus and promtool', 'prometheus', [
    ['prometheus', ['--version']],
    ['promtool', ['--version']],
  ]);
}

export interface PrometheusQueryResult {
  metric: Record<string, string>;
  value: [number, string];
}

export interface TestPrometheus {
  port: number;
  dir: string;
  query(expr: string): Promise<PrometheusQueryResult[]>;
  /** Alerts as /api/v1/alerts lists them (pending and firing). */
  alerts(): Promise<Array<{ labels: Record<string, string>; state: string }>>;
  stop(): Promise<void>;
}

/** Starts Prometheus with `config` (YAML text) and any extra files written beside it. */
export async function startPrometheus(config: string, files: Record<string, string> = {}): Promise<TestPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-prometheus-'));
  dirs.add(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  writeFileSync(join(dir, 'prometheus.yml'), config);
  const port = await freePort();
  const child = spawn(
    'prometheus',
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  children.add(child);
  child.on('exit', () => children.delete(child));
  const api = async (path: string): Promise<any> => {
    const reply = await fetch(`http://127.0.0.1:${port}${path}`);
    const body = (await reply.json()) as { status: string; data: unknown; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error}`);
    return body.data;
  };
  await waitUntil(
    'prometheus ready',
    async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited: ${stderr}`);
      return (await fetch(`http://127.0.0.1:${port}/-/ready`).catch(() => null))?.ok === true;
    },
    30_000,
    200,
  );
  return {
    port,
    dir,
    async query(expr) {
      return ((await api(`/api/v1/query?query=${encodeURIComponent(expr)}`)) as { result: PrometheusQueryResult[] }).result;
    },
    async alerts() {
      return ((await api('/api/v1/alerts')) as { alerts: Array<{ labels: Record<string, string>; state: string }> }).alerts;
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
