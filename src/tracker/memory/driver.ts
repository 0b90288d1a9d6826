import type { TrackerDriver } from '../driver.js';
import { MemoryStore } from './store.js';

const isIntegerIn = (value: unknown, min: number, max: number): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;

/**
 * The embedded default: swarms live in this process. Params: `reap_interval` (milliseconds between
 * background expiry passes, default 250) and `torrent_ttl` (seconds a snatch count outlives its
 * torrent's last announce, default 30 days, 0 forever; as the redis driver's).
 */
export const memoryDriver: TrackerDriver = {
  async open(params, ctx) {
    let reapIntervalMs = 250;
    let torrentTtl = 30 * 86400;
    for (const [key, value] of Object.entries(params)) {
      if (key === 'reap_interval') {
        if (!isIntegerIn(value, 10, 60_000)) throw new Error('tracker.params.reap_interval: must be an integer number of milliseconds between 10 and 60000');
        reapIntervalMs = value;
      } else if (key === 'torrent_ttl') {
        if (!isIntegerIn(value, 0, 10 * 365 * 86400)) throw new Error('tracker.params.torrent_ttl: must be a whole number of seconds (0 keeps snatch counts forever)');
        torrentTtl = value;
      } else {
        throw new Error(`tracker.params.${key}: unknown parameter of the memory driver (it takes reap_interval, torrent_ttl)`);
      }
    }
    return new MemoryStore({ peerTtlMs: ctx.peerTtl * 1000, reapIntervalMs, torrentTtlMs: torrentTtl * 1000 });
  },
};
