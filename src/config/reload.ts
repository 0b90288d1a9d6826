/**
 * Reloading the configuration at run time (SIGHUP, POST /config/reload). A reload reads the file and
 * the environment again and validates the whole result; an invalid one changes nothing. Each key that
 * changed is either applied by one of the registered reloadable parts (the tracker's policy, the
 * listeners' client-address rules, the blocklists, the log level, ...) or named as needing a restart
 * and left as it was: the configuration in force is the new one with those keys put back, validated
 * again as a whole, so that it is always one the schema accepts.
 *
 * Two steps, so that a part that cannot take the new configuration (a blocklist file that does not
 * load) refuses the whole reload before anything moved: every part first prepares what the new
 * configuration needs (may read files, may fail), then every part swaps it in (synchronous, cannot
 * fail). Between two turns of the event loop no request sees half of it.
 */
import { isDeepStrictEqual } from 'node:util';
import { ConfigError, getPath, loadConfigTree, putPath, validateTree, type Config, type LoadedConfig, type LoadOptions, type Tree } from './config.js';
import { CONFIG_KEYS } from './schema.js';

/** What swaps a prepared part in; it must not throw. */
export type Swap = () => void;

/** A part of the running tracker that can take a new configuration without a restart. */
export interface ReloadablePart {
  /** For the log and errors. */
  readonly name: string;
  /** The keys it applies: dotted paths ("announce_interval"), or a section's prefix ending in "." ("budget."). */
  readonly keys: readonly string[];
  /**
   * Builds what `next` needs, given which of all keys changed (only called when one of its own did).
   * Throwing refuses the whole reload: the error message is reported as the part's.
   */
  prepare(next: Config, changed: ReadonlySet<string>): Swap | Promise<Swap>;
}

export type ReloadOutcome = 'applied' | 'unchanged' | 'restart_needed' | 'invalid';
export const RELOAD_OUTCOMES: readonly ReloadOutcome[] = ['applied', 'unchanged', 'restart_needed', 'invalid'];

export interface ReloadReport {
  /**
   * invalid: nothing changed (see errors); restart_needed: some changed keys wait for a restart (the
   * others, if any, are applied); applied: every changed key is in force; unchanged: nothing changed.
   */
  outcome: ReloadOutcome;
  /** Keys now in force with a new value (dotted paths). */
  changed: string[];
  /** Keys whose new value waits for a restart (the old one stays in force). */
  restart: string[];
  /** How many keys have the same value as before. */
  unchanged: number;
  /** Why a reload was refused: the key (or part) and the reason. */
  errors?: Array<{ key: string; reason: string }>;
}

/** A key `key` of the configuration is owned by a part that lists it or its section. */
function owns(part: ReloadablePart, key: string): boolean {
  return part.keys.some((owned) => (owned.endsWith('.') ? key.startsWith(owned) : key === owned));
}

export class ConfigReloader {
  private readonly parts: ReloadablePart[] = [];
  private loaded: LoadedConfig;
  /** Reloads run one at a time, in the order they were asked for. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    /** Where the configuration comes from: read again at each reload. */
    private readonly source: () => LoadOptions,
    initial: LoadedConfig,
    private readonly observer?: (report: ReloadReport) => void,
  ) {
    this.loaded = initial;
  }

  /** The configuration in force. */
  get config(): Config {
    return this.loaded.config;
  }

  /** Adds a part; later reloads apply its keys. A key no part owns needs a restart. */
  register(part: ReloadablePart): void {
    this.parts.push(part);
  }

  /** Reads and validates the configuration again and applies what changed; never rejects. */
  reload(): Promise<ReloadReport> {
    const run = this.queue.then(() => this.reloadNow());
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async reloadNow(): Promise<ReloadReport> {
    const report = await this.attempt().catch((error: unknown) => invalid(error));
    this.observer?.(report);
    return report;
  }

  private async attempt(): Promise<ReloadReport> {
    const fresh = loadConfigTree(this.source());
    const before = this.loaded.config;
    const changed: string[] = [];
    const restart: string[] = [];
    let unchanged = 0;
    for (const key of CONFIG_KEYS) {
      if (isDeepStrictEqual(getPath(before, key.path), getPath(fresh.config, key.path))) unchanged++;
      else if (this.parts.some((part) => owns(part, key.path))) changed.push(key.path);
      else restart.push(key.path);
    }
    if (changed.length === 0 && restart.length === 0) return { outcome: 'unchanged', changed, restart, unchanged };
    // What goes in force: the new tree with the restart keys as they were, validated again as a whole.
    let next = fresh;
    if (restart.length > 0) {
      const tree: Tree = structuredClone(fresh.tree);
      for (const key of restart) putPath(tree, key, getPath(this.loaded.tree, key));
      try {
        next = validateTree(tree);
      } catch (error) {
        if (error instanceof ConfigError) {
          const reason = `${error.reason} (with ${restart.join(', ')} kept as they are until a restart)`;
          throw Object.assign(new ConfigError(error.key, reason), { issues: [{ key: error.key, reason }] });
        }
        throw error;
      }
    }
    const changedSet = new Set(changed);
    const swaps: Swap[] = [];
    for (const part of this.parts) {
      if (!changed.some((key) => owns(part, key))) continue;
      try {
        swaps.push(await part.prepare(next.config, changedSet));
      } catch (error) {
        throw new ConfigError(part.name, (error as Error).message);
      }
    }
    // The one step: no await from here on.
    this.loaded = next;
    for (const swap of swaps) swap();
    return { outcome: restart.length > 0 ? 'restart_needed' : 'applied', changed, restart, unchanged };
  }
}

function invalid(error: unknown): ReloadReport {
  const errors =
    error instanceof ConfigError ? (error.issues ?? [{ key: error.key, reason: error.reason }]) : [{ key: '--config', reason: (error as Error).message }];
  return { outcome: 'invalid', changed: [], restart: [], unchanged: 0, errors };
}
