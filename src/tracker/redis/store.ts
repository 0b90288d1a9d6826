/** The `redis` tracker driver's store: every announce is one Lua script call, one round trip. */
import { readFileSync } from 'node:fs';
import type { SwarmCounts } from '../../bittorrent/announce.js';
import type { DriverContext, Refusal, SwarmAnnounce, SwarmResult, TrackerStore } from '../driver.js';
import { RedisCatalogue } from './catalogue.js';
import type { RedisClient } from './connection.js';
import { indexedSwarmKeys, KEYS_PER_SWARM, KEYS_PER_SWARM_INDEXED, swarmKeys } from './keys.js';
import type { RedisParams } from './params.js';

const EVENT_CODES = { none: '0', completed: '1', started: '2', stopped: '3' } as const;

function lua(name: string): string {
  return readFileSync(new URL(`../../../../lua/${name}.lua`, import.meta.url), 'utf8');
}

type AnnounceReply = [number, number, number, Buffer, Buffer, Buffer?, number?, Buffer?, Buffer?, Buffer?, Buffer?, Buffer?];
const REFUSALS = new Set<string>(['denied', 'not_allowed', 'unregistered']);
const NO_USER = Buffer.alloc(0);
type ScrapeReply = [number, number, number];

interface ScriptedClient {
  trackerAnnounceBuffer(...args: Array<string | Buffer | number>): Promise<AnnounceReply>;
  trackerAnnounceIndexedBuffer(...args: Array<string | Buffer | number>): Promise<AnnounceReply>;
  trackerScrape(...args: Array<string | number>): Promise<ScrapeReply>;
}

/** Scrape reads the peer sets and the snatch hash only. */
const SCRAPE_KEYS = 5;

function userBytes(id: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeUInt32BE(id, 0);
  return out;
}

/** "uploaded:downloaded" as the script stores it. */
function parseTotals(text: Buffer | undefined): { uploaded: number; downloaded: number } | null {
  if (!text || text.length === 0) return null;
  const [up, down] = text.toString('latin1').split(':');
  const uploaded = Number(up);
  const downloaded = Number(down);
  return Number.isFinite(uploaded) && Number.isFinite(downloaded) ? { uploaded, downloaded } : null;
}

/** Errors of a broken connection, after which the same call may succeed on the next one. */
function isConnectionError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : '';
  return /Connection is closed|ECONNRESET|ECONNREFUSED|EPIPE|READONLY|LOADING|CLUSTERDOWN|TRYAGAIN/.test(message);
}

function withDeadline<T>(promise: Promise<T>, deadline: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('redis command timed out')), Math.max(0, deadline - Date.now()));
  });
  promise.catch(() => undefined); // a late rejection after the deadline is not unhandled
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

export class RedisStore implements TrackerStore {
  readonly catalogue: RedisCatalogue;
  private readonly scripted: ScriptedClient;

  constructor(
    private readonly client: RedisClient,
    private readonly params: RedisParams,
    private readonly ctx: DriverContext,
  ) {
    // A fixed number of keys per command: a variable count breaks auto-pipelining on Cluster.
    // One script, two commands: exact subnet mode passes the four index keys as well.
    client.defineCommand('trackerAnnounce', { numberOfKeys: KEYS_PER_SWARM, lua: lua('announce') });
    client.defineCommand('trackerAnnounceIndexed', { numberOfKeys: KEYS_PER_SWARM_INDEXED, lua: lua('announce') });
    client.defineCommand('trackerScrape', { numberOfKeys: SCRAPE_KEYS, lua: lua('scrape'), readOnly: true });
    this.scripted = client as unknown as ScriptedClient;
    // Only now: the catalogue sends commands at once, and an auto-pipeline created before the scripts
    // were defined would not know them.
    this.catalogue = new RedisCatalogue(client, params, ctx.logger);
  }

  async announce(a: SwarmAnnounce): Promise<SwarmResult> {
    const indexed = this.params.subnetIndex;
    const keys = indexed ? indexedSwarmKeys(this.params.prefix, a.infoHash) : swarmKeys(this.params.prefix, a.infoHash);
    const command = indexed ? this.scripted.trackerAnnounceIndexedBuffer : this.scripted.trackerAnnounceBuffer;
    const access = a.access;
    const userId = access?.userId ?? 0;
    const reply = await this.withRetries(() =>
      command.call(
        this.scripted,
        ...keys,
        a.v4 ?? '',
        a.v6 ?? '',
        a.seeder ? '1' : '0',
        EVENT_CODES[a.event],
        a.numwant,
        a.want4 ? '1' : '0',
        a.want6 ? '1' : '0',
        a.subnet4,
        a.subnet6,
        this.ctx.peerTtl,
        this.params.windowThreshold,
        Math.floor(Math.random() * 0x7fffffff),
        this.params.torrentTtl,
        access?.requireRegistered ? '1' : '0',
        access?.requireAllowed ? '1' : '0',
        userId > 0 ? userBytes(userId) : NO_USER,
        userId > 0 ? a.peerId : NO_USER,
        userId > 0 ? `${access!.uploaded ?? 0}:${access!.downloaded ?? 0}` : '',
        userId > 0 ? (access!.announceId ?? '') : '',
      ),
    );
    const [complete, incomplete, downloaded, peers4, peers6, refusal, snatched, previous, torrentId, up, down, freeleech] = reply;
    if (refusal && refusal.length > 0) {
      const reason = refusal.toString('latin1');
      if (!REFUSALS.has(reason)) throw new Error(`announce script: unexpected refusal ${JSON.stringify(reason)}`);
      return { complete: 0, incomplete: 0, downloaded: 0, peers4, peers6, refused: reason as Refusal };
    }
    const result: SwarmResult = { complete, incomplete, downloaded, peers4, peers6, snatched: snatched === 1 };
    if (userId > 0) {
      result.previous = parseTotals(previous);
      if (torrentId && torrentId.length > 0) {
        result.torrent = {
          id: Number(torrentId.toString('latin1')),
          upMultiplier: Number(up!.toString('latin1')),
          downMultiplier: Number(down!.toString('latin1')),
          freeleech: freeleech!.toString('latin1') === '1',
        };
      }
    }
    if (a.withPeerIds) {
      // Peer ids are not kept in Redis (20 bytes a peer for a rarely used answer): all zero means unknown.
      result.peerIds4 = Buffer.alloc((peers4.length / 6) * 20);
      result.peerIds6 = Buffer.alloc((peers6.length / 18) * 20);
    }
    return result;
  }

  async scrape(infoHashes: Buffer[]): Promise<SwarmCounts[]> {
    // One small read-only script per hash; auto-pipelining batches them per node.
    const replies = await Promise.all(
      infoHashes.map((infoHash) =>
        this.withRetries(() => this.scripted.trackerScrape(...swarmKeys(this.params.prefix, infoHash).slice(0, SCRAPE_KEYS), this.ctx.peerTtl)),
      ),
    );
    return replies.map(([complete, incomplete, downloaded]) => ({ complete, incomplete, downloaded }));
  }

  async ready(): Promise<boolean> {
    if (this.client.status !== 'ready') return false;
    try {
      return (await this.client.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.catalogue.close();
    const quit = this.client.quit().catch(() => undefined);
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, 1000).unref());
    await Promise.race([quit, timeout]);
    this.client.disconnect();
  }

  /**
   * A bounded retry, only after connection errors, and a hard deadline of command_timeout for the whole:
   * whatever ioredis does inside (offline queue, Cluster redirections during a failover), the client
   * hears back in time.
   */
  private async withRetries<T>(call: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.params.commandTimeout;
    for (let attempt = 0; ; attempt++) {
      try {
        return await withDeadline(call(), deadline);
      } catch (error) {
        if (attempt >= this.params.retries || !isConnectionError(error) || Date.now() + 50 > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    }
  }
}
