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

/** An exit the soak did not cause: a crash. */
export interface Crash {
  label: string;
  /** The exit code or signal, and the last lines of its log. */
  how: string;
  at: number;
}

/** Lines of a program's output kept to explain a crash. */
const TAIL_LINES = 12;

/**
 * A node program of ours (the tracker or the consumer CLI) that the soak starts, kills and starts again:
 * its stdout and stderr go to one log file (appended across restarts), and start() resolves once stdout
 * shows the program's "started" log line. Once supervised, an exit the soak did not ask for is reported
 * and the program started again 2 s later, as Kubernetes or systemd would: the run goes on, and the crash
 * is in the verdict (the README promises retries, never an exit, when Redis or PostgreSQL is away).
 */
export class NodeService {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private readonly log: WriteStream;
  private expectingExit = false;
  private supervisor: ((crash: Crash) => void) | null = null;
  private tail: string[] = [];
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

  /** From now on, report an unexpected exit to `report` and start the program again. */
  supervise(report: (crash: Crash) => void): void {
    this.supervisor = report;
  }

  /** The end of the run: exits are expected from now on. */
  retire(): void {
    this.supervisor = null;
  }

  private onCrash(how: string): void {
    const report = this.supervisor;
    if (!report) return;
    report({ label: this.label, how: `${how}; its last output: ${this.tail.join(' | ').slice(-1500)}`, at: Date.now() });
    setTimeout(() => {
      if (this.supervisor && !this.child) this.start().catch((error: Error) => this.log.write(`--- soak: restart after a crash failed: ${error.message}\n`));
    }, 2000);
  }

  async start(timeoutMs = 15_000): Promise<void> {
    if (this.child) throw new Error(`${this.label} is already running`);
    this.starts++;
    this.expectingExit = false;
    this.tail = [];
    let loggedReady = false;
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
        if (loggedReady && !this.expectingExit) this.onCrash(`exited with ${signal ?? code}`);
      }),
    );
    let seen = '';
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.label} did not log "${this.readyText}" within ${timeoutMs} ms`)), timeoutMs);
      child.stdout!.on('data', (chunk: Buffer) => {
        // Only the tail is kept: enough to find the line, bounded whatever the program prints.
        seen = (seen + chunk.toString('utf8')).slice(-8192);
        if (!loggedReady && seen.includes(this.readyText)) {
          loggedReady = true;
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
    // The last lines, to say why it crashed if it does.
    const keep = (chunk: Buffer) => {
      this.tail.push(
        ...chunk
          .toString('utf8')
          .split('\n')
          .filter((line) => line.trim() !== ''),
      );
      this.tail = this.tail.slice(-TAIL_LINES);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
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
    this.expectingExit = true;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
