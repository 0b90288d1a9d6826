/**
 * The memory driver's snapshot file (`tracker.params.snapshot_file`): loaded when the driver opens,
 * written when the store closes (SIGTERM) and every `snapshot_interval` seconds if set. A write goes to
 * a temporary file beside the target, is fsynced and renamed over it (and the directory fsynced), so
 * that a crash mid-write leaves the previous snapshot whole. A file that cannot be used, for whatever
 * reason, starts the store empty with one warning: a snapshot is an optimisation, never a reason not
 * to start.
 */
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { decodeSnapshot, encodeSnapshot } from './snapshot.js';
import type { MemoryStore } from './store.js';

export interface SnapshotFileOptions {
  path: string;
  /** 0: only when the store closes. */
  intervalMs: number;
  /** A larger file is neither loaded nor written. */
  maxBytes: number;
  peerTtlMs: number;
  torrentTtlMs: number;
  maxPeers: number;
  logger: Logger;
}

/** Loads the snapshot into an empty store; a missing or unusable file leaves it empty, with one warning. */
export async function loadSnapshot(store: MemoryStore, o: SnapshotFileOptions): Promise<void> {
  const started = performance.now();
  let file: Buffer;
  try {
    const size = (await stat(o.path)).size;
    if (size > o.maxBytes) {
      o.logger.warn({ snapshot_file: o.path, bytes: size, max: o.maxBytes }, 'snapshot file larger than snapshot_max_bytes: starting empty');
      return;
    }
    file = await readFile(o.path);
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    o.logger.warn(
      { snapshot_file: o.path, err: missing ? undefined : error },
      missing ? 'no snapshot file: starting empty' : 'snapshot file unreadable: starting empty',
    );
    return;
  }
  try {
    const state = decodeSnapshot(file, {
      now: Date.now(),
      peerTtlMs: o.peerTtlMs,
      torrentTtlMs: o.torrentTtlMs,
      maxPeers: o.maxPeers,
      tickOf: (t) => store.tickAt(t),
    });
    store.restore(state);
    o.logger.info(
      {
        snapshot_file: o.path,
        peers: state.peers,
        snatch_counts: state.snatches.length,
        totals: state.totals?.live ?? 0,
        ms: Math.round(performance.now() - started),
      },
      'snapshot loaded',
    );
  } catch (error) {
    // Whatever went wrong (a SnapshotError names what), it went wrong while decoding, which changes nothing in the store.
    o.logger.warn({ snapshot_file: o.path, reason: error instanceof Error ? error.message : String(error) }, 'snapshot file unusable: starting empty');
  }
}

/** Writes a store's snapshots: every intervalMs (if set) and once more on close. */
export class SnapshotWriter {
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> | null = null;

  constructor(
    private readonly store: MemoryStore,
    private readonly o: SnapshotFileOptions,
  ) {}

  start(): void {
    if (this.o.intervalMs <= 0) return;
    this.timer = setInterval(() => void this.save('interval'), this.o.intervalMs);
    this.timer.unref();
  }

  /** One write at a time: a save while one is under way waits for it, then writes the state as it is then. */
  async save(reason: 'interval' | 'close'): Promise<void> {
    while (this.writing) await this.writing;
    this.writing = this.write(reason).finally(() => (this.writing = null));
    return this.writing;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.save('close');
  }

  private async write(reason: string): Promise<void> {
    const started = performance.now();
    const o = this.o;
    const data = encodeSnapshot(this.store.snapshotSource(), Date.now());
    if (data.length > o.maxBytes) {
      o.logger.error({ snapshot_file: o.path, bytes: data.length, max: o.maxBytes }, 'snapshot larger than snapshot_max_bytes: not written');
      return;
    }
    const temporary = `${o.path}.${process.pid}.tmp`;
    try {
      const handle = await open(temporary, 'w', 0o600);
      try {
        await handle.writeFile(data);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, o.path);
      await syncDirectory(dirname(o.path));
      o.logger.info({ snapshot_file: o.path, reason, bytes: data.length, ms: Math.round(performance.now() - started) }, 'snapshot written');
    } catch (error) {
      await unlink(temporary).catch(() => undefined);
      o.logger.error({ snapshot_file: o.path, err: error }, 'snapshot not written');
    }
  }
}

/** Makes a rename durable; some file systems cannot open a directory for it, which costs only that. */
async function syncDirectory(path: string): Promise<void> {
  try {
    const handle = await open(path, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // the rename happened; only its durability across a power cut is not guaranteed here
  }
}
