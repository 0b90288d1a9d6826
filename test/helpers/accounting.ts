/** Accounting records for backend and consumer tests, and the backend metrics read back as numbers. */
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AnnounceEvent } from '../../src/bittorrent/announce.js';
import type { AccountingRecord, Backend } from '../../src/backend/driver.js';
import { BackendMetricsProbe } from '../../src/testing/backend.js';
import { spawnNode, type ChildTracker } from './tracker.js';

const CONSUMER_CLI = fileURLToPath(new URL('../../src/consumer/cli.js', import.meta.url));
const EVENTS: AnnounceEvent[] = ['none', 'started', 'completed', 'stopped'];

function bytes20(text: string): Buffer {
  return createHash('sha1').update(text).digest();
}

/**
 * The n-th record of a run: deterministic, so that a test can compute the totals it expects. Users,
 * torrents and amounts vary with n; every seventh record is a snatch.
 */
export function makeRecord(n: number, run = 'run', overrides: Partial<AccountingRecord> = {}): AccountingRecord {
  const userId = 1 + (n % 7);
  const torrentId = 100 + (n % 5);
  const rawUploaded = (n * 7919) % 100_000;
  const rawDownloaded = (n * 104_729) % 50_000;
  return {
    id: `${run}-${n.toString(36)}`,
    userId,
    torrentId,
    infoHash: bytes20(`torrent ${torrentId}`),
    peerId: bytes20(`peer ${userId}`),
    event: EVENTS[n % EVENTS.length]!,
    rawUploaded,
    rawDownloaded,
    uploaded: rawUploaded * 2,
    downloaded: n % 3 === 0 ? 0 : rawDownloaded,
    left: (n * 31) % 1000,
    snatched: n % 7 === 0,
    time: 1_700_000_000_000 + n * 1000,
    ...overrides,
  };
}

/** Backend metrics on their own registry, readable as plain numbers: shoal/testing's probe, for redis-stream. */
export class MetricsProbe extends BackendMetricsProbe {
  constructor() {
    super('redis-stream');
  }
}

export interface Totals {
  users: Array<{ id: number; uploaded: number; downloaded: number }>;
  torrents: Array<{ id: number; snatches: number }>;
  pairs: Array<{
    user: number;
    torrent: number;
    uploaded: number;
    downloaded: number;
    rawUploaded: number;
    rawDownloaded: number;
    snatched: boolean;
    announces: number;
    lastEvent: string;
    lastLeft: number;
    lastAnnounce: number;
  }>;
}

/**
 * What the database must hold after applying these records once each: the test's own arithmetic,
 * independent of the consumer's. Rows that would only get zeros are not written by the consumer.
 */
export function expectedTotals(records: AccountingRecord[]): Totals {
  const unique = [...new Map(records.map((r) => [r.id, r])).values()];
  const users = new Map<number, Totals['users'][number]>();
  const torrents = new Map<number, Totals['torrents'][number]>();
  const pairs = new Map<string, Totals['pairs'][number]>();
  for (const r of unique) {
    const user = users.get(r.userId) ?? { id: r.userId, uploaded: 0, downloaded: 0 };
    user.uploaded += r.uploaded;
    user.downloaded += r.downloaded;
    users.set(r.userId, user);
    const torrent = torrents.get(r.torrentId) ?? { id: r.torrentId, snatches: 0 };
    torrent.snatches += r.snatched ? 1 : 0;
    torrents.set(r.torrentId, torrent);
    const key = `${r.userId}/${r.torrentId}`;
    const pair = pairs.get(key) ?? {
      user: r.userId,
      torrent: r.torrentId,
      uploaded: 0,
      downloaded: 0,
      rawUploaded: 0,
      rawDownloaded: 0,
      snatched: false,
      announces: 0,
      lastEvent: '',
      lastLeft: 0,
      lastAnnounce: -1,
    };
    pair.uploaded += r.uploaded;
    pair.downloaded += r.downloaded;
    pair.rawUploaded += r.rawUploaded;
    pair.rawDownloaded += r.rawDownloaded;
    pair.snatched ||= r.snatched;
    pair.announces++;
    if (r.time > pair.lastAnnounce) Object.assign(pair, { lastEvent: r.event, lastLeft: r.left, lastAnnounce: r.time });
    pairs.set(key, pair);
  }
  const byId = <T extends { id: number }>(a: T, b: T): number => a.id - b.id;
  return {
    users: [...users.values()].filter((u) => u.uploaded > 0 || u.downloaded > 0).sort(byId),
    torrents: [...torrents.values()].filter((t) => t.snatches > 0).sort(byId),
    pairs: [...pairs.values()].sort((a, b) => a.user - b.user || a.torrent - b.torrent),
  };
}

/** What the consumer's tables hold, in the shape of expectedTotals(). */
export async function databaseTotals(pool: { query: (sql: string) => Promise<{ rows: Array<Record<string, unknown>> }> }): Promise<Totals> {
  const n = (v: unknown): number => Number(v);
  const users = (await pool.query('SELECT id, uploaded, downloaded FROM users ORDER BY id')).rows;
  const torrents = (await pool.query('SELECT id, snatches FROM torrents ORDER BY id')).rows;
  const pairs = (
    await pool.query(
      'SELECT user_id, torrent_id, uploaded, downloaded, raw_uploaded, raw_downloaded, snatched, announces, last_event, last_left, round(extract(epoch FROM last_announce) * 1000) AS last_ms FROM user_torrents ORDER BY user_id, torrent_id',
    )
  ).rows;
  return {
    users: users.map((r) => ({ id: n(r.id), uploaded: n(r.uploaded), downloaded: n(r.downloaded) })),
    torrents: torrents.map((r) => ({ id: n(r.id), snatches: n(r.snatches) })),
    pairs: pairs.map((r) => ({
      user: n(r.user_id),
      torrent: n(r.torrent_id),
      uploaded: n(r.uploaded),
      downloaded: n(r.downloaded),
      rawUploaded: n(r.raw_uploaded),
      rawDownloaded: n(r.raw_downloaded),
      snatched: r.snatched === true,
      announces: n(r.announces),
      lastEvent: String(r.last_event),
      lastLeft: n(r.last_left),
      lastAnnounce: n(r.last_ms),
    })),
  };
}

/** A backend that keeps what it is given, so a test can read the records back. */
export class KeepingBackend implements Backend {
  readonly records: AccountingRecord[] = [];
  record(entry: AccountingRecord): void {
    this.records.push(entry);
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

/**
 * The reference consumer (the real CLI) reading `stream` on `redisUrl` into the database at `postgresUrl`:
 * group `group`, batches of 64, idle entries claimed after 5 s; `consumer` adds to or overrides its
 * `consumer` settings, `settings` the top-level ones.
 */
export function startConsumer(
  redisUrl: string,
  stream: string,
  postgresUrl: string,
  group: string,
  more: { consumer?: Record<string, unknown>; settings?: Record<string, unknown> } = {},
): ChildTracker {
  const consumer = more.consumer ?? {};
  const configFile = join(mkdtempSync(join(tmpdir(), `shoal-${group}-`)), 'consumer.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      log: { level: 'info' },
      ...more.settings,
      backend: { driver: 'redis-stream', params: { url: redisUrl, stream } },
      consumer: { postgres_url: postgresUrl, group, name: `${group}-consumer`, batch_size: 64, claim_idle: 5, ...consumer },
    }),
  );
  return spawnNode([CONSUMER_CLI, '--config', configFile]);
}
