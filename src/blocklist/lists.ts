/**
 * The blocklists of `blocklist.files`: each file one named list (its base name), loaded at start and
 * again when it changes. A file that cannot be loaded on a change (unreadable, gone, too large, too
 * many ranges, nothing but garbage) leaves its previous list in force and logs one warning; at start
 * there is no previous list, and the error stops the start (a tracker that believes it blocks and does
 * not is worse than one that does not start).
 *
 * Changes are found by polling each file's stat (mtime, size, inode) rather than by fs.watch: a
 * Kubernetes ConfigMap volume swaps a symlink to a new directory, which inotify on the file never
 * reports, and network filesystems report nothing at all. A changed file is read once its stat has
 * stayed the same for one more interval, so a file still being written is not read half done.
 */
import { open, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Logger } from 'pino';
import { ClientError } from '../bittorrent/errors.js';
import { ListParser, type ParseStats } from './parse.js';
import { RangeSet, RangeSetBuilder } from './ranges.js';

export type BlockProtocol = 'http' | 'udp' | 'webtorrent';

/** What a blocked client is told: HTTP's failure reason, the WebSocket's close reason. */
export function blockedError(list: string): ClientError {
  return new ClientError(`your address is blocked on this tracker (${list})`);
}

/** What the metrics count (metrics/blocklist.ts). */
export interface BlocklistObserver {
  /** A request from an address of `list` was refused. */
  refused(list: string, protocol: BlockProtocol): void;
  /** A peer of `list` was left out of a peer list (blocklist.peers). */
  withheld(list: string): void;
  /** A load after a change: in force, or failed and the previous list kept. */
  reloaded(list: string, ok: boolean): void;
  /** The lists are now these (a configuration reload). */
  listsChanged?(names: readonly string[]): void;
}

export interface BlocklistOptions {
  files: readonly string[];
  maxFileBytes: number;
  /** Most ranges in one file, before merging. */
  maxRanges: number;
  /** Between two checks of the files for changes; 0: never checked after the start. */
  checkIntervalMs: number;
  logger: Logger;
}

export interface LoadedList {
  set: RangeSet;
  stats: ParseStats;
  /** The file's stat when it was read: what a later check compares. */
  signature: string;
}

/** Bytes read at a time: the parser's memory, and the work between two turns of the event loop. */
const CHUNK_BYTES = 1 << 20;

/**
 * Reads and parses one file, chunk by chunk (never more than `maxFileBytes`, however the file grows
 * meanwhile); throws an Error that says what is wrong with it.
 */
export async function loadListFile(path: string, maxFileBytes: number, maxRanges: number): Promise<LoadedList> {
  const tooLarge = (size: string): Error => new Error(`${path} is ${size} bytes, more than blocklist.max_file_bytes (${maxFileBytes})`);
  const builder = new RangeSetBuilder(maxRanges);
  const parser = new ListParser(builder);
  const handle = await open(path, 'r');
  let signature: string;
  try {
    const st = await handle.stat();
    if (st.size > maxFileBytes) throw tooLarge(String(st.size));
    signature = signatureOf(st);
    const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    let total = 0;
    for (;;) {
      const { bytesRead } = await handle.read(chunk, 0, CHUNK_BYTES, total);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > maxFileBytes) throw tooLarge(`more than ${maxFileBytes}`);
      parser.feed(chunk.subarray(0, bytesRead));
    }
    parser.end();
  } catch (error) {
    if (error instanceof RangeError) throw new Error(`${path} has ${error.message}, more than blocklist.max_ranges`, { cause: error });
    throw error;
  } finally {
    await handle.close();
  }
  const stats = parser.stats;
  if (stats.ranges === 0 && stats.garbage > 0) {
    throw new Error(
      `${path} has no valid line (${stats.garbage} unreadable, the first at line ${stats.firstGarbage!.line}: ${JSON.stringify(stats.firstGarbage!.text)})`,
    );
  }
  return { set: builder.build(), stats, signature };
}

function signatureOf(st: { mtimeMs: number; size: number; ino: number }): string {
  return `${st.mtimeMs}:${st.size}:${st.ino}`;
}

/** A list's name: its file's base name. */
export function listName(path: string): string {
  return basename(path);
}

interface List {
  name: string;
  path: string;
  set: RangeSet;
  /** The stat last read (or last failed to read): a change is a stat other than this. */
  seen: string;
  /** A changed stat seen once, read when the next check sees it again. */
  pending: string | null;
}

export class Blocklists {
  observer: BlocklistObserver | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly listeners: Array<() => void> = [];

  private constructor(
    private readonly lists: List[],
    private options: BlocklistOptions,
  ) {}

  /** start() was called: a reload keeps checking (or starts, when check_interval was 0 or no file was listed). */
  private started = false;
  /** Bumped by each start() and close(). */
  private chain = 0;

  /** Loads every file; rejects with the first one that cannot be loaded. */
  static async open(options: BlocklistOptions): Promise<Blocklists> {
    const lists: List[] = [];
    for (const path of options.files) {
      const started = performance.now();
      const loaded = await loadListFile(path, options.maxFileBytes, options.maxRanges);
      const name = listName(path);
      logLoaded(options.logger, name, loaded, performance.now() - started);
      lists.push({ name, path, set: loaded.set, seen: loaded.signature, pending: null });
    }
    return new Blocklists(lists, options);
  }

  /** Names of the lists, in configuration order. */
  get names(): string[] {
    return this.lists.map((list) => list.name);
  }

  /** Ranges in force per list, after merging. */
  ranges(): Array<{ name: string; ranges: number }> {
    return this.lists.map((list) => ({ name: list.name, ranges: list.set.size4 + list.set.size6 }));
  }

  /** The first list (in configuration order) holding the address of `length` bytes (4 or 16) at `offset`; null when none. */
  match(ip: Uint8Array, offset = 0, length = ip.length): string | null {
    for (const list of this.lists) if (list.set.has(ip, offset, length)) return list.name;
    return null;
  }

  /** The list that blocks a client's request, counted as a refusal; null when the address is not blocked. */
  refuses(ip: Uint8Array, protocol: BlockProtocol): string | null {
    const list = this.match(ip);
    if (list !== null) this.observer?.refused(list, protocol);
    return list;
  }

  /**
   * Loads the lists of other settings (a configuration reload); rejects as open() does, leaving these
   * in force. The returned step puts the new lists and settings in force in one go.
   */
  async prepare(options: BlocklistOptions): Promise<() => void> {
    const fresh = await Blocklists.open(options);
    return () => {
      const started = this.started;
      this.close();
      this.lists.splice(0, this.lists.length, ...fresh.lists);
      this.options = options;
      this.observer?.listsChanged?.(this.names);
      if (started) this.start();
      for (const listener of this.listeners) listener();
    };
  }

  /** Called after a list changed (the WebSocket frontend closes the sockets it now blocks). */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Starts checking the files for changes (blocklist.check_interval). */
  start(): void {
    this.started = true;
    if (this.options.checkIntervalMs <= 0 || this.lists.length === 0 || this.timer) return;
    // A chain of checks of its own: one left over from before a reload stops at its next turn.
    const chain = ++this.chain;
    const tick = (): void => {
      void this.check().finally(() => {
        if (this.timer && chain === this.chain) this.timer = setTimeout(tick, this.options.checkIntervalMs).unref();
      });
    };
    this.timer = setTimeout(tick, this.options.checkIntervalMs).unref();
  }

  close(): void {
    this.started = false;
    this.chain++;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** One check of every file; loads those whose change has settled. Never rejects. */
  async check(): Promise<void> {
    let changed = false;
    for (const list of this.lists) {
      const now = await stat(list.path).then(signatureOf, () => 'missing');
      if (now === list.seen) {
        list.pending = null;
        continue;
      }
      if (now !== list.pending) {
        list.pending = now;
        continue;
      }
      list.pending = null;
      list.seen = now;
      if (await this.reload(list)) changed = true;
    }
    if (changed) for (const listener of this.listeners) listener();
  }

  private async reload(list: List): Promise<boolean> {
    const { logger, maxFileBytes, maxRanges } = this.options;
    const started = performance.now();
    try {
      const loaded = await loadListFile(list.path, maxFileBytes, maxRanges);
      list.set = loaded.set;
      list.seen = loaded.signature;
      logLoaded(logger, list.name, loaded, performance.now() - started);
      this.observer?.reloaded(list.name, true);
      return true;
    } catch (error) {
      logger.warn({ list: list.name, err: error }, 'blocklist not reloaded: the previous list stays in force until the file changes again');
      this.observer?.reloaded(list.name, false);
      return false;
    }
  }
}

function logLoaded(logger: Logger, name: string, loaded: LoadedList, ms: number): void {
  const { lines, ranges, garbage, firstGarbage } = loaded.stats;
  const merged = loaded.set.size4 + loaded.set.size6;
  logger.info({ list: name, lines, ranges, merged, ms: Math.round(ms) }, 'blocklist loaded');
  if (garbage > 0) {
    logger.warn(
      { list: name, garbage, first_line: firstGarbage!.line, first_text: firstGarbage!.text },
      'blocklist: unreadable lines skipped (the first is shown)',
    );
  }
}
