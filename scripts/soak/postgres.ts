/**
 * A private PostgreSQL for the soak: initdb into a temporary directory (trust authentication), started
 * with pg_ctl on a free loopback port, so that restarting it is a fault the soak owns and nothing relies
 * on the machine's own server. As root the binaries run as user postgres (initdb refuses root), and the
 * directory is made theirs.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { atExit } from './children.js';

const DEBIAN_ROOT = '/usr/lib/postgresql';

/** Debian's versioned binaries (the newest version), else whatever PATH has. */
export function postgresBinary(name: 'initdb' | 'pg_ctl'): string {
  if (existsSync(DEBIAN_ROOT)) {
    const versions = readdirSync(DEBIAN_ROOT)
      .filter((v) => /^\d+$/.test(v) && existsSync(join(DEBIAN_ROOT, v, 'bin', name)))
      .sort((a, b) => Number(b) - Number(a));
    if (versions.length > 0) return join(DEBIAN_ROOT, versions[0]!, 'bin', name);
  }
  return name;
}

/** null when initdb and pg_ctl run; otherwise why not. */
export function postgresToolsMissing(): string | null {
  for (const name of ['initdb', 'pg_ctl'] as const) {
    const result = spawnSync(postgresBinary(name), ['--version'], { stdio: 'ignore' });
    if (result.error || result.status !== 0) return `${name} is not installed (apt-get install -y postgresql)`;
  }
  return null;
}

const asRoot = process.getuid?.() === 0;

/** The command line of a PostgreSQL binary, run as user postgres when we are root. */
function commandLine(binary: 'initdb' | 'pg_ctl', args: string[]): [string, string[]] {
  const command = postgresBinary(binary);
  return asRoot ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
}

/** Runs it without blocking the event loop: the soak's clients and tap keep running meanwhile. */
function run(binary: 'initdb' | 'pg_ctl', args: string[], timeoutMs: number): Promise<void> {
  const [file, argv] = commandLine(binary, args);
  return new Promise((resolve, reject) =>
    execFile(file, argv, { timeout: timeoutMs }, (error, _stdout, stderr) =>
      error ? reject(new Error(`${binary} ${args[0]} failed: ${error.message} ${stderr}`)) : resolve(),
    ),
  );
}

export class PrivatePostgres {
  private running = false;
  private readonly dataDir: string;
  private readonly logFile: string;

  private constructor(
    readonly port: number,
    private readonly root: string,
  ) {
    this.dataDir = join(root, 'data');
    this.logFile = join(root, 'postgres.log');
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/shoal`;
  }

  /** initdb, start, and create the database `shoal`. */
  static async create(port: number): Promise<PrivatePostgres> {
    const root = mkdtempSync(join(tmpdir(), 'shoal-soak-pg-'));
    const server = new PrivatePostgres(port, root);
    atExit(() => {
      server.stopNow();
      rmSync(root, { recursive: true, force: true });
    });
    if (asRoot) {
      const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
      const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
      chownSync(root, uid, gid);
    }
    await run('initdb', ['-D', server.dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8'], 60_000);
    await server.start();
    const admin = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
    await admin.connect();
    try {
      await admin.query('CREATE DATABASE shoal');
    } finally {
      await admin.end();
    }
    return server;
  }

  /** Starts the server and waits until it accepts connections (pg_ctl -w). */
  async start(): Promise<void> {
    // Only loopback TCP; the socket directory is ours; fsync off: the soak's faults are process crashes,
    // not power losses, and a crash of the postmaster keeps what the OS has (a restart replays the WAL).
    const options = `-p ${this.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${this.root} -c fsync=off -c max_connections=50`;
    this.running = true;
    await run('pg_ctl', ['start', '-w', '-t', '60', '-D', this.dataDir, '-l', this.logFile, '-o', options], 70_000);
  }

  /** The fault: an immediate shutdown (no checkpoint; the next start recovers from the WAL). */
  async stopImmediately(): Promise<void> {
    await run('pg_ctl', ['stop', '-w', '-t', '30', '-D', this.dataDir, '-m', 'immediate'], 40_000);
    this.running = false;
  }

  /** For exit, where nothing asynchronous runs: blocks, never throws. */
  private stopNow(): void {
    if (!this.running) return;
    try {
      const [file, argv] = commandLine('pg_ctl', ['stop', '-w', '-t', '30', '-D', this.dataDir, '-m', 'immediate']);
      execFileSync(file, argv, { stdio: 'ignore', timeout: 40_000 });
    } catch {
      // the directory is removed next; a postmaster left without its data directory exits by itself
    }
  }
}
