/**
 * The full scrape's snapshot, per replica and for every driver: built by the store's scrapeAll at most
 * once per interval, and served as it is meanwhile (the same array, so that a frontend can keep its
 * encoded and compressed answer beside it). Once the snapshot is older than the interval, the next
 * request starts one build in the background and still gets the old snapshot: a build over a big
 * store takes a while (the redis driver paces its SCAN), and no client should wait for it. Only the
 * first request, with nothing to serve yet, waits.
 */
import type { SwarmCounts } from '../bittorrent/announce.js';
import type { TrackerStore } from '../store/driver.js';

export type FullScrapeFiles = ReadonlyArray<{ infoHash: Buffer; counts: SwarmCounts }>;

export interface FullScrapePolicy {
  /** Seconds a snapshot is served before the next is built (full_scrape_interval). */
  intervalSeconds: number;
  /** Most swarms listed (full_scrape_max_swarms). */
  maxSwarms: number;
}

/** The configuration's defaults, for a policy made by hand without them. */
const DEFAULTS: FullScrapePolicy = { intervalSeconds: 60, maxSwarms: 10_000 };

/** The snapshot of a store's full scrape (allow_full_scrape), or null when the store offers none. */
export function fullScrapeOf(store: TrackerStore, policy: FullScrapePolicy = DEFAULTS): FullScrapeSnapshot | null {
  return store.scrapeAll ? new FullScrapeSnapshot((limit) => store.scrapeAll!(limit), policy) : null;
}

export class FullScrapeSnapshot {
  private files: FullScrapeFiles | null = null;
  private builtAt = 0;
  private building: Promise<FullScrapeFiles> | null = null;
  /** Builds finished, for tests and metrics. */
  builds = 0;

  constructor(
    private readonly build: (limit: number) => Promise<FullScrapeFiles>,
    private readonly policy: FullScrapePolicy,
    private readonly now: () => number = Date.now,
  ) {}

  /** The current snapshot; starts the next build when it is older than the interval. */
  async get(): Promise<FullScrapeFiles> {
    const files = this.files;
    if (files && this.now() - this.builtAt < this.policy.intervalSeconds * 1000) return files;
    const next = this.refresh();
    if (files) {
      // A failed background build leaves the old snapshot served, and the next request tries again.
      next.catch(() => undefined);
      return files;
    }
    return next;
  }

  /** One build at a time, however many requests find the snapshot stale. */
  private refresh(): Promise<FullScrapeFiles> {
    this.building ??= this.build(this.policy.maxSwarms)
      .then((files) => {
        this.files = Object.freeze(files.slice(0, this.policy.maxSwarms));
        this.builtAt = this.now();
        this.builds++;
        return this.files;
      })
      .finally(() => {
        this.building = null;
      });
    return this.building;
  }
}
