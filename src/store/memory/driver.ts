import { z } from 'zod';
import { integerParam, parseParams, textParam } from '../../config/params.js';
import type { TrackerDriver } from '../driver.js';
import { loadSnapshot, SnapshotWriter, type SnapshotFileOptions } from './snapshot-file.js';
import { MemoryStore } from './store.js';

export const MemoryParamsSchema = z.strictObject({
  reap_interval: integerParam(10, 60_000, 'must be an integer number of milliseconds between 10 and 60000')
    .default(250)
    .describe('milliseconds between background expiry passes (default 250)'),
  torrent_ttl: integerParam(0, 10 * 365 * 86400, 'must be a whole number of seconds (0 keeps snatch counts forever)')
    .default(30 * 86400)
    .describe("seconds a torrent's snatch count outlives its last announce; 0 keeps it forever (default 30 days, as the redis driver's)"),
  max_peers: integerParam(0, 1_000_000_000, 'must be an integer from 0 (no limit) to 1000000000')
    .default(10_000_000)
    .describe(
      'admission control: most peers held in this process; beyond it new peers are answered but not stored (default 10000000, about 0.6 GB; 0: no limit)',
    ),
  snapshot_file: textParam()
    .default('')
    .describe(
      'file the peers, snatch counts and private totals are written to on SIGTERM (atomically: temporary file, fsync, rename) and loaded from at start, with their remaining time; "" (default): none',
    ),
  snapshot_interval: integerParam(0, 86400, 'must be a whole number of seconds from 0 to 86400')
    .default(0)
    .describe('with snapshot_file: seconds between snapshots written while running too; 0 (default): only on SIGTERM'),
  snapshot_max_bytes: integerParam(1024, 2 ** 31 - 1, 'must be an integer number of bytes from 1024 to 2147483647')
    .default(2 ** 30)
    .describe(
      'largest snapshot file loaded or written (default 1 GiB: about 25 million public peers at 40 bytes each, 6 million private ones with their totals)',
    ),
});

/** At most one log line per this many ms while new peers are turned away. */
const FULL_LOG_INTERVAL_MS = 60_000;

/**
 * The embedded default: swarms live in this process. Params: `reap_interval` (milliseconds between
 * background expiry passes, default 250) and `torrent_ttl` (seconds a snatch count outlives its
 * torrent's last announce, default 30 days, 0 forever; as the redis driver's) and `max_peers` (admission
 * control: most peers in the process, default 10 million, 0 no limit); `snapshot_file`,
 * `snapshot_interval` and `snapshot_max_bytes` (snapshot-file.ts).
 */
export const memoryDriver: TrackerDriver = {
  async open(raw, ctx) {
    const params = parseParams(MemoryParamsSchema, raw, 'tracker.params', 'the memory driver');
    let lastLogged = -Infinity;
    const onFull = (): void => {
      const now = Date.now();
      if (now - lastLogged < FULL_LOG_INTERVAL_MS) return;
      lastLogged = now;
      ctx.logger.warn({ max_peers: params.max_peers }, 'peer limit reached: new peers are answered but not stored (tracker.params.max_peers)');
    };
    const peerTtlMs = ctx.peerTtl * 1000;
    const snapshot: SnapshotFileOptions | null = params.snapshot_file
      ? {
          path: params.snapshot_file,
          intervalMs: params.snapshot_interval * 1000,
          maxBytes: params.snapshot_max_bytes,
          peerTtlMs,
          torrentTtlMs: params.torrent_ttl * 1000,
          maxPeers: params.max_peers,
          logger: ctx.logger,
        }
      : null;
    let writer: SnapshotWriter | null = null;
    const store = new MemoryStore({
      peerTtlMs,
      reapIntervalMs: params.reap_interval,
      torrentTtlMs: params.torrent_ttl * 1000,
      maxPeers: params.max_peers,
      onFull,
      webTorrentPeerTtlMs: (ctx.webTorrentPeerTtl ?? ctx.peerTtl) * 1000,
      onClose: async () => writer?.close(),
    });
    if (snapshot) {
      await loadSnapshot(store, snapshot);
      writer = new SnapshotWriter(store, snapshot);
      writer.start();
    }
    return store;
  },
};
