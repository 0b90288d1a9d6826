/** The repository's nginx configuration, run by a real nginx in front of test trackers. */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { httpGet } from './http.js';
import { freePort } from './redis.js';

export const NGINX_CONF = fileURLToPath(new URL('../../../nginx/nginx.conf', import.meta.url));

/** The shipped configuration with the upstream pointed at the test's trackers and a test port. */
export function nginxConfig(trackerPorts: number[], listenPort: number, dir: string): string {
  const shipped = readFileSync(NGINX_CONF, 'utf8');
  assert.match(shipped, /server tracker:6969[^;]*;/);
  return shipped
    .replace(/server tracker:6969([^;]*);/, trackerPorts.map((p) => `server 127.0.0.1:${p}$1;`).join('\n    '))
    .replace(/listen 80 reuseport;\s*listen \[::\]:80 reuseport;/, `listen 127.0.0.1:${listenPort};`)
    .replace('worker_processes auto;', `worker_processes 1;\npid ${join(dir, 'nginx.pid')};\nerror_log ${join(dir, 'error.log')} warn;`);
}

export interface TestNginx {
  port: number;
  dir: string;
  process: ChildProcess;
  stop(): void;
}

/** Starts nginx with the shipped configuration in front of `trackerPorts` (127.0.0.1) and waits for it. */
export async function startNginx(trackerPorts: number[]): Promise<TestNginx> {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-nginx-'));
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConfig(trackerPorts, port, dir));
  execFileSync('nginx', ['-t', '-q', '-p', dir, '-c', conf], { stdio: 'inherit' });
  const child = spawn('nginx', ['-p', dir, '-c', conf, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'inherit'] });
  process.on('exit', () => child.kill('SIGKILL'));
  for (let i = 0; i < 100; i++) {
    try {
      if ((await httpGet('127.0.0.1', port, '/healthz')).status === 200) break;
    } catch {
      await sleep(50);
    }
  }
  return { port, dir, process: child, stop: () => child.kill('SIGTERM') };
}
