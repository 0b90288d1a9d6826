/**
 * Docker for the image and compose tests: the engine at DOCKER_HOST, which `bash .ci/with-docker npm test`
 * starts (with local stand-ins for the upstream images), or the machine's own engine.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';

/**
 * Why the Docker tests cannot run, or null when an engine answers and compose is there. Under CI=true a
 * missing engine throws: CI must run the tests under .ci/with-docker.
 */
export function dockerMissing(): string | null {
  try {
    execFileSync('docker', ['version', '--format', '{{.Server.Version}}'], { stdio: 'ignore', timeout: 20_000 });
    composeCommand();
    return null;
  } catch {
    const reason = 'no Docker engine or docker-compose answers (run the tests as `bash .ci/with-docker npm test`)';
    if (process.env.CI === 'true') throw new Error(`${reason}: CI must provide one (.ci/run does)`);
    console.log(`# SKIP the image and compose tests: ${reason}`);
    return reason;
  }
}

let compose: string[] | undefined;

/** docker-compose (v1, Debian's) when installed, else the `docker compose` plugin. */
export function composeCommand(): string[] {
  if (compose) return compose;
  for (const candidate of [['docker-compose'], ['docker', 'compose']]) {
    try {
      execFileSync(candidate[0]!, [...candidate.slice(1), 'version'], { stdio: 'ignore', timeout: 20_000 });
      return (compose = candidate);
    } catch {
      // try the next one
    }
  }
  throw new Error('neither docker-compose nor the docker compose plugin is installed');
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/** Runs a command to its end; rejects with its stderr when it fails or outlives the timeout. */
export function run(command: string, args: string[], options: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { env: options.env ?? process.env, timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      if (!error) return resolve(stdout);
      const tail = `${stderr}`.trim().split('\n').slice(-30).join('\n');
      reject(new Error(`${command} ${args.join(' ').slice(0, 300)} failed (${error.code ?? error.signal}):\n${tail}`));
    });
  });
}

/** `docker inspect` of one object, parsed. */
export async function inspect(id: string): Promise<any> {
  return (JSON.parse(await run('docker', ['inspect', id])) as any[])[0];
}

/** A UDP port nobody holds on any address right now. */
export async function freeUdpPort(): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 30000);
    const free = await new Promise<boolean>((resolve) => {
      const socket = createSocket('udp4');
      socket.once('error', () => resolve(false));
      socket.bind(port, () => socket.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

/**
 * A program for `node --input-type=module -e` inside a container (the tracker image has node): it GETs each
 * URL of its arguments in turn and prints one JSON line with its own IPv4 addresses and every answer
 * (status, base64 body), so that a test can act as a client on a container network.
 */
export const FETCH_SCRIPT = `
import { networkInterfaces } from 'node:os';
const addresses = Object.values(networkInterfaces()).flat().filter((a) => a.family === 'IPv4' && !a.internal).map((a) => a.address);
const replies = [];
for (const url of process.argv.slice(1)) {
  const res = await fetch(url, { signal: AbortSignal.timeout(10000) });
  replies.push({ status: res.status, body: Buffer.from(await res.arrayBuffer()).toString('base64') });
}
console.log(JSON.stringify({ addresses, replies }));
`;

export interface FetchResult {
  addresses: string[];
  replies: Array<{ status: number; body: Buffer }>;
}

export function parseFetchResult(stdout: string): FetchResult {
  const parsed = JSON.parse(stdout.trim().split('\n').at(-1)!) as { addresses: string[]; replies: Array<{ status: number; body: string }> };
  return { addresses: parsed.addresses, replies: parsed.replies.map((r) => ({ status: r.status, body: Buffer.from(r.body, 'base64') })) };
}
