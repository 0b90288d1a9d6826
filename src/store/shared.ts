/**
 * What the replicas of a shared tracker driver agree on through the driver, besides swarms: the UDP
 * connection id keys (so that no operator has to hand every replica the same secret) and each replica's
 * hottest swarms (so that any replica can answer for all), and requests to reload the configuration. Optional for a driver: a store that lives in
 * one process has nothing to share, and boot() then keeps both to the process.
 */

/** The connection id keys as the store holds them: every replica issues with `current` and accepts all three. */
export interface SharedKeys {
  current: string;
  /** The key before the last rotation ('' before the first): ids issued with it are still young. */
  previous: string;
  /**
   * The key of the next rotation, known ahead: the replica that rotates first issues ids with it at once,
   * and every other replica accepts them before it has read the rotation.
   */
  next: string;
  /** Unix seconds (the store's clock) of the last rotation, or of the creation. */
  rotated: number;
  /** True when this call created the keys (the first replica ever to ask). */
  created: boolean;
}

/** One swarm of a replica's heavy-hitter summary: announces counted in its last window. */
export interface HotSwarmCount {
  /** Lowercase hex. */
  infoHash: string;
  /** Announces counted (an overestimate by at most `error`, as space-saving counts are). */
  announces: number;
  error: number;
}

/** One replica's summary as it published it. */
export interface PublishedHotSwarms {
  replica: string;
  /** Unix milliseconds when the window ended, and its length. */
  windowEnd: number;
  windowSeconds: number;
  swarms: HotSwarmCount[];
}

export interface SharedState {
  /**
   * The keys named `name`: created atomically by the first caller from `candidates()` (two fresh random
   * keys, current and next), read by every other, and rotated by whichever caller finds them
   * `rotateSeconds` old or older (0: never): next becomes current, current becomes previous.
   */
  connectionKeys(name: string, rotateSeconds: number, candidates: () => [string, string]): Promise<SharedKeys>;
  /** Publishes this replica's summary, kept for `ttlSeconds` (a replica that stops publishing drops out). */
  publishHotSwarms(summary: PublishedHotSwarms, ttlSeconds: number): Promise<void>;
  /** Every replica's summary still within its TTL (at most a bounded number of replicas). */
  hotSwarms(): Promise<PublishedHotSwarms[]>;
  /**
   * Asks every replica to reload its configuration (POST /config/reload?all=true); `origin` is the
   * asking replica's id. Answers how many subscribers received it (the asking replica among them).
   * Optional: without it, a reload for all reloads the asking process only.
   */
  publishReload?(origin: string): Promise<number>;
  /** Calls `listener` with the origin of every reload published from now on, until the store closes. */
  onReload?(listener: (origin: string) => void): void;
}
