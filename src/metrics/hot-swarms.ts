/**
 * The hottest swarms by announce rate: each replica counts its announces in a space-saving summary
 * (space-saving.ts) for one window (aligned to the wall clock), then keeps the window's result, starts a new one and, when the
 * tracker driver is shared, publishes the result through it, so that any replica can answer for all
 * (the counts of the replicas' summaries added up per swarm).
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { throttledErrorLog } from '../common/log.js';
import type { PublishedHotSwarms, SharedState } from '../store/shared.js';
import { SpaceSaving } from './space-saving.js';

/** A replica's published summary outlives this many of its windows (a stopped replica drops out after). */
const PUBLISHED_WINDOWS = 3;
/**
 * Announces a second the summary takes in full. Above it, the next window samples every k-th announce
 * (k from this window's rate) and scales its counts by k: a summary update costs a few hundred ns on a
 * miss, so this bounds its CPU to a fraction of a millisecond a second, and a busy replica's announce
 * pays one decrement.
 */
const SAMPLES_PER_SECOND = 2000;

export interface HotSwarm {
  /** Lowercase hex. */
  infoHash: string;
  /** Announces counted in the window, added up over the replicas (each an overestimate by at most `error`). */
  announces: number;
  announcesPerSecond: number;
  error: number;
}

export interface HotSwarmsView {
  windowSeconds: number;
  /** Summaries added up: the replicas that published one within the last windows, or 1 (this one). */
  replicas: number;
  /** True when the shared view could not be read and only this replica's summary is shown. */
  partial: boolean;
  swarms: HotSwarm[];
}

export interface HotSwarmsOptions {
  capacity: number;
  windowSeconds: number;
  shared?: SharedState;
  logger: Logger;
}

export class HotSwarms {
  /** This replica's name in the shared view: random per process, no configuration needed. */
  readonly replica = randomBytes(6).toString('hex');
  private readonly summary: SpaceSaving;
  private last: PublishedHotSwarms | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly logError: (error: unknown) => void;
  /** Announces seen in this window; every `stride`-th goes into the summary (`countdown` to the next). */
  private seen = 0;
  private stride = 1;
  private countdown = 1;

  constructor(private readonly options: HotSwarmsOptions) {
    this.summary = new SpaceSaving(options.capacity);
    this.logError = throttledErrorLog(options.logger);
  }

  /** The hot path: a count and a decrement, and a summary update for the sampled announces. */
  add(infoHash: Buffer): void {
    this.seen++;
    if (--this.countdown > 0) return;
    this.countdown = this.stride;
    this.summary.add(infoHash);
  }

  /**
   * Rolls at the multiples of the window on the wall clock, so that every replica's windows cover the
   * same seconds and their counts add up to the same period.
   */
  start(): void {
    const windowMs = this.options.windowSeconds * 1000;
    const next = (): void => {
      this.timer = setTimeout(
        () => {
          this.roll();
          next();
        },
        windowMs - (Date.now() % windowMs),
      );
      this.timer.unref();
    };
    next();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Ends the window: keeps its result, starts afresh, publishes. */
  roll(now = Date.now()): void {
    const { windowSeconds, shared } = this.options;
    this.last = {
      replica: this.replica,
      windowEnd: now,
      windowSeconds,
      swarms: this.summary.top().map((h) => ({ infoHash: h.infoHash.toString('hex'), announces: h.count * this.stride, error: h.error * this.stride })),
    };
    this.summary.reset();
    this.stride = Math.max(1, Math.ceil(this.seen / (SAMPLES_PER_SECOND * windowSeconds)));
    this.countdown = 1;
    this.seen = 0;
    shared?.publishHotSwarms(this.last, windowSeconds * PUBLISHED_WINDOWS).catch(this.logError);
  }

  /** This replica's last window, hottest first. */
  local(limit: number): HotSwarm[] {
    return merge(this.last ? [this.last] : [], limit);
  }

  /** Every replica's last window added up when the driver is shared (this replica's alone otherwise). */
  async view(limit: number): Promise<HotSwarmsView> {
    const windowSeconds = this.options.windowSeconds;
    const shared = this.options.shared;
    if (shared) {
      try {
        const summaries = await shared.hotSwarms();
        return { windowSeconds, replicas: summaries.length, partial: false, swarms: merge(summaries, limit) };
      } catch (error) {
        this.logError(error);
      }
    }
    return { windowSeconds, replicas: 1, partial: shared !== undefined, swarms: this.local(limit) };
  }
}

/** Counts added up per swarm over the summaries, hottest first; a rate per summary's own window. */
function merge(summaries: PublishedHotSwarms[], limit: number): HotSwarm[] {
  const bySwarm = new Map<string, HotSwarm>();
  for (const summary of summaries) {
    const seconds = summary.windowSeconds > 0 ? summary.windowSeconds : 1;
    for (const s of summary.swarms) {
      const entry = bySwarm.get(s.infoHash) ?? { infoHash: s.infoHash, announces: 0, announcesPerSecond: 0, error: 0 };
      entry.announces += s.announces;
      entry.announcesPerSecond += s.announces / seconds;
      entry.error += s.error;
      bySwarm.set(s.infoHash, entry);
    }
  }
  return [...bySwarm.values()]
    .sort((a, b) => b.announces - a.announces)
    .slice(0, limit)
    .map((s) => ({ ...s, announcesPerSecond: Math.round(s.announcesPerSecond * 1000) / 1000 }));
}

/** The view as JSON (snake_case, as /stats and the management API answer it). */
export function hotSwarmsJson(view: HotSwarmsView) {
  return {
    window_seconds: view.windowSeconds,
    replicas: view.replicas,
    partial: view.partial,
    swarms: view.swarms.map((s) => ({ info_hash: s.infoHash, announces: s.announces, announces_per_second: s.announcesPerSecond, error: s.error })),
  };
}
