/** The `redis` tracker driver's store: every announce is one Lua script call, one round trip. */
import { readFileSync } from 'node:fs';
import type { SwarmCounts } from '../../bittorrent/announce.js';
import type { DriverContext, Refusal, SwarmAnnounce, SwarmResult, TrackerStore } from '../driver.js';
import { RedisCatalogue } from './catalogue.js';
import type { RedisClient } from '../../redis/connection.js';
import { indexKeys, swarmKeys, totalsKeys } from './keys.js';
import type { RedisParams } from './params.js';

const EVENT_CODES = { none: 0, completed: 1, started: 2, stopped: 3 } as const;

function lua(name: string): string {
  return readFileSync(new URL(`../../../../lua/${name}.lua`, import.meta.url), 'utf8');
}

type AnnounceReply = [number, number, number, Buffer, Buffer, Buffer?, number?, Buffer?, Buffer?, Buffer?, Buffer?, Buffer?];
const REFUSALS = new Set<string>(['denied', 'not_allowed', 'unregistered']);
const NO_BYTES = Buffer.alloc(0);
type ScrapeReply = [number, number, number];

type AnnounceCommand = (...args: Array<string | Buffer>) => Promise<AnnounceReply>;
interface ScriptedClient {
  trackerScrape(...args: Array<string | number>): Promise<ScrapeReply>;
}

/**
 * One script, registered once per key count (a fixed count per command: a variable one breaks
 * auto-pipelining on Cluster): the swarm's keys, plus the subnet indexes in exact mode, plus the
 * totals in private mode.
 */
const ANNOUNCE_VARIANTS = [6, 8, 10, 12] as const;
const announceCommand = (keys: number): string => `trackerAnnounce${keys}`;

/** Bits of the header's flags byte; lua/announce.lua reads them. */
const FLAG = { seeder: 1, want4: 2, want6: 4, registered: 8, allowed: 16, exact: 32 } as const;

/**
 * The announce's numbers and switches in one binary argument (struct ">BBHBBIII"): fewer arguments
 * cost less on both ends, and numbers the script gets as numbers need no parsing.
 */
function announceHeader(a: SwarmAnnounce, exact: boolean, peerTtl: number, torrentTtl: number): Buffer {
  const access = a.access;
  const flags =
    (a.seeder ? FLAG.seeder : 0) |
    (a.want4 ? FLAG.want4 : 0) |
    (a.want6 ? FLAG.want6 : 0) |
    (access?.requireRegistered ? FLAG.registered : 0) |
    (access?.requireAllowed ? FLAG.allowed : 0) |
    (exact ? FLAG.exact : 0);
  const header = Buffer.allocUnsafe(18);
  header[0] = flags;
  header[1] = EVENT_CODES[a.event];
  header.writeUInt16BE(a.numwant, 2);
  header[4] = a.subnet4;
  header[5] = a.subnet6;
  header.writeUInt32BE(peerTtl, 6);
  header.writeUInt32BE(torrentTtl, 10);
  header.writeUInt32BE(Math.floor(Math.random() * 0x7fffffff), 14);
  return header;
}

/** Scrape reads the peer sets and the snatch hash only, the first five of swarmKeys. */
const SCRAPE_KEYS = 5;

function userBytes(id: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeUInt32BE(id, 0);
  return out;
}

/**
 * A private answer's entries carry the peer's user id after the compact address: the script leaves
 * dropping them to the tracker, whose work scales with replicas where Redis' does not.
 */
function withoutUserIds(packed: Buffer, size: number): Buffer {
  const entry = size + 4;
  const count = Math.floor(packed.length / entry);
  const out = Buffer.allocUnsafe(count * size);
  for (let i = 0; i < count; i++) packed.copy(out, i * size, i * entry, i * entry + size);
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
  /** The announce command of each key count. */
  private readonly announceCommands = new Map<number, AnnounceCommand>();

  constructor(
    private readonly client: RedisClient,
    private readonly params: RedisParams,
    private readonly ctx: DriverContext,
  ) {
    for (const keys of ANNOUNCE_VARIANTS) {
      client.defineCommand(announceCommand(keys), { numberOfKeys: keys, lua: lua('announce') });
      const command = (client as unknown as Record<string, AnnounceCommand>)[`${announceCommand(keys)}Buffer`]!;
      this.announceCommands.set(keys, command.bind(client));
    }
    client.defineCommand('trackerScrape', { numberOfKeys: SCRAPE_KEYS, lua: lua('scrape'), readOnly: true });
    this.scripted = client as unknown as ScriptedClient;
    // Only now: the catalogue sends commands at once, and an auto-pipeline created before the scripts
    // were defined would not know them.
    this.catalogue = new RedisCatalogue(client, params, ctx.logger);
  }

  async announce(a: SwarmAnnounce): Promise<SwarmResult> {
    const { prefix, subnetIndex } = this.params;
    const access = a.access;
    const userId = access?.userId ?? 0;
    const args: Array<string | Buffer> = swarmKeys(prefix, a.infoHash);
    if (subnetIndex) args.push(...indexKeys(prefix, a.infoHash));
    if (userId > 0) args.push(...totalsKeys(prefix, a.infoHash));
    const command = this.announceCommands.get(args.length)!;
    args.push(announceHeader(a, subnetIndex, this.ctx.peerTtl, this.params.torrentTtl), a.v4 ?? NO_BYTES, a.v6 ?? NO_BYTES);
    if (userId > 0) {
      args.push(userBytes(userId), a.peerId, `${access!.uploaded ?? 0}:${access!.downloaded ?? 0}`, access!.announceId ?? '');
    }
    const reply = await this.withRetries(() => command(...args));
    const [complete, incomplete, downloaded, packed4, packed6, refusal, snatched, previous, torrentId, up, down, freeleech] = reply;
    const peers4 = userId > 0 ? withoutUserIds(packed4, 6) : packed4;
    const peers6 = userId > 0 ? withoutUserIds(packed6, 18) : packed6;
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
