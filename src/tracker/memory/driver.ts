import { z } from 'zod';
import { integerParam, parseParams } from '../../config/params.js';
import type { TrackerDriver } from '../driver.js';
import { MemoryStore } from './store.js';

export const MemoryParamsSchema = z.strictObject({
  reap_interval: integerParam(10, 60_000, 'must be an integer number of milliseconds between 10 and 60000')
    .default(250)
    .describe('milliseconds between background expiry passes (default 250)'),
  torrent_ttl: integerParam(0, 10 * 365 * 86400, 'must be a whole number of seconds (0 keeps snatch counts forever)')
    .default(30 * 86400)
    .describe("seconds a torrent's snatch count outlives its last announce; 0 keeps it forever (default 30 days, as the redis driver's)"),
});

/**
 * The embedded default: swarms live in this process. Params: `reap_interval` (milliseconds between
 * background expiry passes, default 250) and `torrent_ttl` (seconds a snatch count outlives its
 * torrent's last announce, default 30 days, 0 forever; as the redis driver's).
 */
export const memoryDriver: TrackerDriver = {
  async open(raw, ctx) {
    const params = parseParams(MemoryParamsSchema, raw, 'tracker.params', 'the memory driver');
    return new MemoryStore({
      peerTtlMs: ctx.peerTtl * 1000,
      reapIntervalMs: params.reap_interval,
      torrentTtlMs: params.torrent_ttl * 1000,
      webrtcPeerTtlMs: (ctx.webrtcPeerTtl ?? ctx.peerTtl) * 1000,
    });
  },
};
