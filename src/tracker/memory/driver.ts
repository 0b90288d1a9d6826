import type { TrackerDriver } from '../driver.js';
import { MemoryStore } from './store.js';

/**
 * The embedded default: swarms live in this process. Params: `reap_interval` (milliseconds between
 * background expiry passes, default 250).
 */
export const memoryDriver: TrackerDriver = {
  async open(params, ctx) {
    let reapIntervalMs = 250;
    for (const [key, value] of Object.entries(params)) {
      if (key === 'reap_interval' && Number.isInteger(value) && (value as number) >= 10 && (value as number) <= 60_000) {
        reapIntervalMs = value as number;
      } else if (key === 'reap_interval') {
        throw new Error('tracker.params.reap_interval: must be an integer number of milliseconds between 10 and 60000');
      } else {
        throw new Error(`tracker.params.${key}: unknown parameter of the memory driver (it takes reap_interval)`);
      }
    }
    return new MemoryStore({ peerTtlMs: ctx.peerTtl * 1000, reapIntervalMs });
  },
};
