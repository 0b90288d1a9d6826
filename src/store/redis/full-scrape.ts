/**
 * The redis driver's full scrape: every live swarm found by SCAN over the peer-set keys (on a Cluster,
 * every master in turn), counted by the same script as a scrape of its hash, so that both answers agree.
 * Paced: at most `keysPerSecond` keys examined per second, so that a big keyspace costs Redis a bounded
 * share of its time however often it is asked (the tracker also keeps a snapshot for full_scrape_interval).
 */
import { Cluster, type Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SwarmCounts } from '../../bittorrent/announce.js';
import type { RedisClient } from '../../redis/connection.js';

/** Keys one SCAN call examines (a hint to Redis): small enough that one call is a short slice of its time. */
export const SCAN_COUNT = 1000;

/**
 * Hashes counted per round of scrape scripts: a SCAN call's finds are counted in rounds of this many, one
 * after the other, so that a build never queues more than this on Redis at once (the requests' scripts
 * wait behind it) nor gets near the command timeout.
 */
const SCRAPE_ROUND = 100;

export type FullScrapeFile = { infoHash: Buffer; counts: SwarmCounts };

/** A glob (SCAN MATCH) matching `text` literally. */
function globLiteral(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

function regexLiteral(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export interface SwarmScan {
  client: RedisClient;
  prefix: string;
  /** Most swarms listed. */
  limit: number;
  /** Most keys examined per second. */
  keysPerSecond: number;
  /** The counts of these hashes, as a scrape answers them. */
  scrape(infoHashes: Buffer[]): Promise<SwarmCounts[]>;
}

/**
 * The peer sets' keys: `<prefix>{<hex>}:<s|l><4|6>` of a torrent's own swarm, and
 * `<prefix>{<torrent hex>}:<v2 hex>:<s|l><4|6>` of a hybrid torrent's v2 swarm (keys.ts). Not the
 * subnet indexes (`xs4`...) nor the packed copies (`s4c`...): the MATCH wants ":" right before the set's name.
 */
export async function scanSwarms(scan: SwarmScan): Promise<FullScrapeFile[]> {
  const { client, prefix, limit } = scan;
  const pattern = `${globLiteral(prefix)}{*:[sl][46]`;
  const key = new RegExp(`^${regexLiteral(prefix)}\\{([0-9a-f]{40})\\}:(?:([0-9a-f]{40}):)?[sl][46]$`);
  // Every master holds its own slots' keys; a standalone or Sentinel-found server holds them all.
  const nodes: Redis[] = client instanceof Cluster ? client.nodes('master') : [client];
  const seen = new Set<string>();
  const files: FullScrapeFile[] = [];
  const pause = (SCAN_COUNT / scan.keysPerSecond) * 1000;
  for (const node of nodes) {
    let cursor = '0';
    do {
      const started = performance.now();
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
      cursor = next;
      const batch: Buffer[] = [];
      for (const name of keys) {
        const match = key.exec(name);
        const hex = match ? (match[2] ?? match[1]!) : undefined;
        if (hex === undefined || seen.has(hex)) continue;
        seen.add(hex);
        batch.push(Buffer.from(hex, 'hex'));
      }
      const counts: SwarmCounts[] = [];
      for (let i = 0; i < batch.length; i += SCRAPE_ROUND) counts.push(...(await scan.scrape(batch.slice(i, i + SCRAPE_ROUND))));
      for (let i = 0; i < batch.length && files.length < limit; i++) {
        const c = counts[i]!;
        // A set left holding only expired peers is no live swarm (its hash scrapes as none).
        if (c.complete + c.incomplete > 0) files.push({ infoHash: batch[i]!, counts: c });
      }
      if (files.length >= limit) return files;
      const spent = performance.now() - started;
      if (spent < pause) await sleep(pause - spent);
    } while (cursor !== '0');
  }
  return files;
}
