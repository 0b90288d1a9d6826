/**
 * Every process the soak starts, so that none outlives it: children are killed with SIGKILL when the
 * harness exits (normally, on an exception, or on Ctrl-C, which main.ts turns into an exit), and the
 * synchronous clean-ups (PostgreSQL's pg_ctl stop, temporary directories) run then too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';

const children = new Set<ChildProcess>();
const cleanups: Array<() => void> = [];

process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  // In reverse order of registration: what was set up last is torn down first.
  for (const cleanup of cleanups.reverse()) {
    try {
      cleanup();
    } catch {
      // best effort: the next clean-up must still run
    }
  }
});

/** Registers a synchronous clean-up for exit (async work cannot run in an exit handler). */
export function atExit(cleanup: () => void): void {
  cleanups.push(cleanup);
}

/** The environment without TRACKER_* variables: a child's configuration comes from its file only. */
function cleanEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('TRACKER_') && value !== undefined) env[key] = value;
  return env;
}

/**
 * A node program of ours (the tracker or the consumer CLI) that the soak starts, kills and starts again:
 * its stdout and stderr go to one log file (appended across restarts), and start() resolves once stdout
 * shows the program's "started" log line.
 */
export class NodeService {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private readonly log: WriteStream;
  starts = 0;

  constructor(
    readonly label: string,
    private readonly args: string[],
    logFile: string,
    private readonly readyText: string,
  ) {
    this.log = createWriteStream(logFile, { flags: 'a' });
  }

  get running(): boolean {
    return this.child !== null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(timeoutMs = 15_000): Promise<void> {
    if (this.child) throw new Error(`${this.label} is already running`);
    this.starts++;
    this.log.write(`--- soak: start #${this.starts} at ${new Date().toISOString()}\n`);
    const child = spawn(process.execPath, this.args, { env: cleanEnvironment(), stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    this.child = child;
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        children.delete(child);
        if (this.child === child) this.child = null;
        this.log.write(`--- soak: exited with ${signal ?? code} at ${new Date().toISOString()}\n`);
        resolve();
      }),
    );
    let seen = '';
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.label} did not log "${this.readyText}" within ${timeoutMs} ms`)), timeoutMs);
      child.stdout!.on('data', (chunk: Buffer) => {
        // Only the tail is kept: enough to find the line, bounded whatever the program prints.
        seen = (seen + chunk.toString('utf8')).slice(-8192);
        if (seen.includes(this.readyText)) {
          clearTimeout(timer);
          resolve();
        }
      });
      void this.exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`${this.label} exited before logging "${this.readyText}"`));
      });
    });
    child.stdout!.pipe(this.log, { end: false });
    child.stderr!.pipe(this.log, { end: false });
    try {
      await ready;
    } catch (error) {
      await this.stop('SIGKILL');
      throw error;
    }
  }

  /** Sends `signal` and waits for the exit; a process that outlives `graceMs` is killed with SIGKILL. */
  async stop(signal: NodeJS.Signals, graceMs = 15_000): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
