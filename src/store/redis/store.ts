/** The `redis` tracker driver's store: every announce is one Lua script call, one round trip. */
import type { SwarmCounts } from '../../bittorrent/announce.js';
import type { BudgetCount, DriverContext, Refusal, SwarmAnnounce, SwarmResult, TrackerStore } from '../driver.js';
import { RedisUserLedger } from './user-ledger.js';
import { RedisCatalogue } from './catalogue.js';
import type { RedisClient } from '../../redis/connection.js';
import { INDEX_KEYS, indexKeys, SWARM_KEY_SUFFIX, SWARM_KEYS, swarmKeys, swarmKeysUnder, TOTALS_KEYS, totalsKeys, type SwarmKeyName } from './keys.js';
import type { RedisParams } from './params.js';
import {
  ADDRESS4_SIZE,
  ADDRESS6_SIZE,
  ANNOUNCE_ARGV,
  ANNOUNCE_EVENTS,
  ANNOUNCE_FLAGS,
  packAnnounceHeader,
  PUBLIC_ANNOUNCE_ARGV,
  REPLY,
  REPLY_V2_TORRENT,
  USER_ID_SIZE,
} from './protocol.js';
import { script } from './scripts.js';
import { parsePrevious, torrentTerms, userBytes } from './private.js';
import { RedisWebTorrentSwarms } from './webtorrent.js';
import { OutOfMemory, isOutOfMemory, withAllowOom } from './out-of-memory.js';
import { RedisShared } from './shared.js';
import { timedOut } from '../../redis/timed-out.js';
import { Deadlines } from './deadlines.js';
import { createHash } from 'node:crypto';
import { throttledErrorLog } from '../../common/log.js';
import { LaneFallback, type RespValue } from '../../redis/resp-lane.js';
import { LaneRouter } from '../../redis/lane-router.js';
import { RedisConnectable } from './connectable.js';
import { AnnounceBatcher } from './announce-batch.js';
import { scanSwarms, type FullScrapeFile } from './full-scrape.js';

/** In ANNOUNCE_REPLY's order (protocol.ts): numbers, then strings, as far as the answer goes. */
type AnnounceReply = Array<number | Buffer | undefined>;
const REFUSALS = new Set<string>(['denied', 'not_allowed', 'unregistered', 'peer_limit']);
/**
 * Calls of one announce at most: a hybrid torrent's v2 hash not yet known as such takes a second (the
 * script answers "v2" and where the torrent is), a stale hint one more ("moved"), as after a change of
 * the registration.
 */
const MAX_CALLS = 3;
const NO_BYTES = Buffer.alloc(0);
/** Counts, and the torrent's hex info hash when the hash scraped is a hybrid torrent's v2 hash. */
type ScrapeReply = [number, number, number, Buffer | string];
/** The reply's refusal slot on answers that are no refusal (protocol.ts, ANNOUNCE_REPLY). */
const TOO_SOON = 'too_soon';
const NOT_STORED = 'not_stored';

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
/** The same script allowed to run while Redis refuses writes for want of memory (degraded mode, out-of-memory.ts). */
const degradedCommand = (keys: number): string => `trackerAnnounceOom${keys}`;

/**
 * The announce's numbers and switches in one binary argument (ANNOUNCE_HEADER, protocol.ts): fewer
 * arguments cost less on both ends, and numbers the script gets as numbers need no parsing.
 */
function announceHeader(a: SwarmAnnounce, exact: boolean, peerTtl: number, params: RedisParams, existingOnly: boolean): Buffer {
  const access = a.access;
  const flags =
    (existingOnly ? ANNOUNCE_FLAGS.existingOnly : 0) |
    (a.seeder ? ANNOUNCE_FLAGS.seeder : 0) |
    (a.want4 ? ANNOUNCE_FLAGS.want4 : 0) |
    (a.want6 ? ANNOUNCE_FLAGS.want6 : 0) |
    (access?.requireRegistered ? ANNOUNCE_FLAGS.requireRegistered : 0) |
    (access?.requireAllowed ? ANNOUNCE_FLAGS.requireAllowed : 0) |
    (exact ? ANNOUNCE_FLAGS.exactSubnets : 0) |
    (access?.ownPeers ? ANNOUNCE_FLAGS.ownPeers : 0);
  return packAnnounceHeader({
    flags,
    event: ANNOUNCE_EVENTS[a.event],
    numwant: a.numwant,
    subnet4Bits: a.subnet4,
    subnet6Bits: a.subnet6,
    peerTtl,
    snatchTtl: params.torrentTtl,
    seed: Math.floor(Math.random() * 0x7fffffff),
    minInterval: a.minInterval ?? 0,
    maxSwarmPeers: params.maxSwarmPeers,
  });
}

/** Scrape reads the peer sets, the snatch hash and the registration (for a v2 hash's "of"): swarmKeys. */
const SCRAPE_KEYS = 6;

/**
 * A private answer's entries carry the peer's user id after the compact address: the script leaves
 * dropping them to the tracker, whose work scales with replicas where Redis' does not.
 */
function withoutUserIds(packed: Buffer, size: number): Buffer {
  const entry = size + USER_ID_SIZE;
  const count = Math.floor(packed.length / entry);
  const out = Buffer.allocUnsafe(count * size);
  for (let i = 0; i < count; i++) packed.copy(out, i * size, i * entry, i * entry + size);
  return out;
}

/** Errors of a broken connection, after which the same call may succeed on the next one. */
function isConnectionError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : '';
  return /Connection is closed|ECONNRESET|ECONNREFUSED|EPIPE|READONLY|LOADING|CLUSTERDOWN|TRYAGAIN/.test(message);
}

// announceArgv writes a public announce's ARGV as a literal of three: the contract must still say so.
if (PUBLIC_ANNOUNCE_ARGV !== 3 || ANNOUNCE_ARGV.slice(0, 3).join() !== 'header,address4,address6') {
  throw new Error('protocol.ts: a public announce no longer passes header, address4, address6: update announceArgv');
}

/** No answer from a fast lane (none ready, or it declined the call): the call goes through ioredis. */
const LANE_DECLINED = Symbol('lane declined');

/** The script answers a table: anything else is a broken reply. */
function laneReply(value: RespValue): AnnounceReply {
  if (!Array.isArray(value)) throw new Error('announce script: the reply is no array');
  return value as AnnounceReply;
}

export class RedisStore implements TrackerStore {
  readonly catalogue: RedisCatalogue;
  readonly addresses: RedisUserLedger;
  readonly leeching: RedisUserLedger;
  readonly peers: RedisUserLedger;
  readonly connectable: RedisConnectable;
  readonly webtorrent: RedisWebTorrentSwarms;
  readonly shared: RedisShared;
  private readonly scripted: ScriptedClient;
  /** The announce command of each key count. */
  private readonly announceCommands = new Map<number, AnnounceCommand>();
  /** Its degraded twin, run while Redis is out of memory. */
  private readonly degradedCommands = new Map<number, AnnounceCommand>();
  private readonly outOfMemory: OutOfMemory;
  private readonly deadlines = new Deadlines();
  /**
   * The announce script's own connections (src/redis/resp-lane.ts): most announces go there, the rest
   * (degraded mode, no lane ready, an unusual reply) through ioredis as before.
   */
  private readonly lanes: LaneRouter;
  /**
   * Which path the announce script's calls took (events(), exported as tracker_driver_events_total):
   * answered on the fast lane; taken by the lane and handed back (an error reply such as NOSCRIPT,
   * MOVED or OOM, a lost connection: then through ioredis); declined by it (no lane ready, too many in
   * flight: through ioredis). Degraded mode's calls take ioredis and are not counted here.
   */
  private readonly laneEvents = { announce_fast_lane: 0, announce_fast_lane_fallback: 0, announce_fast_lane_declined: 0 };
  /** The announce script's SHA1, as ioredis' defineCommand computes it (EVALSHA on the lane). */
  private readonly announceSha: string;
  /** The lane's keys in parts: the prefix, and the suffixes of a public and of a private announce (keyNames' order). */
  private readonly keyHead: Buffer;
  private readonly publicTails: readonly Buffer[];
  private readonly privateTails: readonly Buffer[];
  /** Announces of one turn and one node in one call (announce-batch.ts); null when batch_max is 1. */
  private readonly batcher: AnnounceBatcher | null;

  constructor(
    private readonly client: RedisClient,
    private readonly params: RedisParams,
    private readonly ctx: DriverContext,
  ) {
    for (const keys of ANNOUNCE_VARIANTS) {
      client.defineCommand(announceCommand(keys), { numberOfKeys: keys, lua: script('announce') });
      const command = (client as unknown as Record<string, AnnounceCommand>)[`${announceCommand(keys)}Buffer`]!;
      this.announceCommands.set(keys, command.bind(client));
      client.defineCommand(degradedCommand(keys), { numberOfKeys: keys, lua: withAllowOom(script('announce')) });
      const degraded = (client as unknown as Record<string, AnnounceCommand>)[`${degradedCommand(keys)}Buffer`]!;
      this.degradedCommands.set(keys, degraded.bind(client));
    }
    this.outOfMemory = new OutOfMemory(ctx.logger);
    this.announceSha = createHash('sha1').update(script('announce')).digest('hex');
    this.keyHead = Buffer.from(params.prefix, 'utf8');
    const tails = (names: readonly SwarmKeyName[]) => names.map((name) => Buffer.from(SWARM_KEY_SUFFIX[name], 'latin1'));
    const publicNames = params.subnetIndex ? [...SWARM_KEYS, ...INDEX_KEYS] : SWARM_KEYS;
    this.publicTails = tails(publicNames);
    this.privateTails = tails([...publicNames, ...TOTALS_KEYS]);
    this.lanes = new LaneRouter(client, timedOut, throttledErrorLog(ctx.logger, 'redis fast lane connection error (reconnecting)', 5000));
    this.batcher = params.batchMax > 1 ? new AnnounceBatcher(client, params.batchMax, this.announceSha, ctx.peerTtl, ctx.logger) : null;
    client.defineCommand('trackerScrape', { numberOfKeys: SCRAPE_KEYS, lua: script('scrape'), readOnly: true });
    this.scripted = client as unknown as ScriptedClient;
    this.webtorrent = new RedisWebTorrentSwarms(client, params, ctx.webTorrentPeerTtl ?? ctx.peerTtl, ctx.logger, ctx.peerTtl, this.lanes);
    this.shared = new RedisShared(client, params.prefix, (run) => this.withRetries(run));
    // Only now: the catalogue sends commands at once, and an auto-pipeline created before the scripts
    // were defined would not know them.
    this.catalogue = new RedisCatalogue(client, params, ctx.logger);
    this.addresses = new RedisUserLedger(client, `${params.prefix}ua:`, ctx.logger);
    this.leeching = new RedisUserLedger(client, `${params.prefix}ul:`, ctx.logger);
    this.peers = new RedisUserLedger(client, `${params.prefix}up:`, ctx.logger);
    this.connectable = new RedisConnectable(client, `${params.prefix}conn:`);
  }

  async announce(a: SwarmAnnounce): Promise<SwarmResult> {
    const userId = a.access?.userId ?? 0;
    // Private mode: a hybrid torrent's v2 hash is served in its torrent's hash slot (hybrid.lua).
    let torrentHash = userId > 0 ? this.catalogue.v2TorrentOf(a.infoHash) : undefined;
    for (let call = 1; ; call++) {
      let degraded = this.outOfMemory.degraded();
      let reply: AnnounceReply;
      try {
        // The fast lane's call awaited right here, not through a .then() in a helper: one promise and
        // one closure less per announce (the UDP bench's profile). The lane declining or
        // failing over (NOSCRIPT, MOVED, OOM, READONLY, a lost connection: LaneFallback) sends the same
        // call through ioredis within the same deadline, where it behaves as it always did (its OOM
        // error turns the store degraded below); a timeout or a broken reply is final.
        const deadline = Date.now() + this.params.commandTimeout;
        const argv = this.announceArgv(a, torrentHash, degraded);
        const sent = degraded ? null : this.viaLane(a, torrentHash, argv, deadline);
        let answer: RespValue | typeof LANE_DECLINED = LANE_DECLINED;
        if (sent) {
          try {
            answer = await sent;
            this.laneEvents.announce_fast_lane++;
          } catch (error) {
            if (!(error instanceof LaneFallback)) throw error;
            this.laneEvents.announce_fast_lane_fallback++;
          }
        } else if (!degraded) this.laneEvents.announce_fast_lane_declined++;
        reply = answer !== LANE_DECLINED ? laneReply(answer) : await this.viaIoredis(a, torrentHash, argv, degraded, deadline);
      } catch (error) {
        if (degraded || !isOutOfMemory(error)) throw error;
        // Redis refused the write for want of memory: answer this announce, and the next ones for a
        // while, in degraded mode, where no new peer is stored.
        this.outOfMemory.refused();
        degraded = true;
        reply = await this.viaIoredis(a, torrentHash, this.announceArgv(a, torrentHash, true), true, Date.now() + this.params.commandTimeout);
      }
      const refusal = (reply[REPLY.refusal] as Buffer | undefined)?.toString('latin1');
      if (call >= MAX_CALLS || (refusal !== 'v2' && refusal !== 'moved')) return this.result(a, reply, degraded);
      if (refusal === 'v2') {
        const torrentHex = (reply[REPLY_V2_TORRENT] as Buffer | undefined)?.toString('latin1') ?? '';
        this.catalogue.rememberV2(a.infoHash, torrentHex);
        torrentHash = this.catalogue.v2TorrentOf(a.infoHash);
        if (!torrentHash) throw new Error(`announce script: malformed torrent of a v2 hash ${JSON.stringify(torrentHex)}`);
      } else {
        this.catalogue.forgetV2(a.infoHash);
        torrentHash = undefined;
      }
    }
  }

  /**
   * The call on a fast lane, or null (no lane ready: take ioredis). Not in degraded mode: the degraded
   * script (another SHA, rarely run) always takes ioredis. Keys as their parts (TaggedKeys) but for a
   * hybrid torrent's v2 swarm, whose keys carry two hashes.
   */
  private viaLane(a: SwarmAnnounce, torrentHash: Buffer | undefined, argv: Array<string | Buffer>, deadline: number): Promise<RespValue> | null {
    const keys = torrentHash ? this.keyNames(a, torrentHash) : { head: this.keyHead, tag: a.infoHash, tails: this.keyTails(a) };
    const lane = this.lanes.pick(keys);
    if (lane === null) return null;
    return this.batcher ? this.batcher.submit(lane, keys, argv, deadline) : lane.evalsha(this.announceSha, keys, argv, deadline);
  }

  /** The script's keys, in KEYS order (keys.ts): the swarm's, the indexes' in exact mode, the totals' in private mode. */
  private keyNames(a: SwarmAnnounce, torrentHash: Buffer | undefined): string[] {
    const { prefix, subnetIndex } = this.params;
    const userId = a.access?.userId ?? 0;
    const keys = torrentHash ? swarmKeysUnder(prefix, torrentHash, a.infoHash, subnetIndex) : swarmKeys(prefix, a.infoHash);
    if (subnetIndex && !torrentHash) keys.push(...indexKeys(prefix, a.infoHash));
    if (userId > 0) keys.push(...totalsKeys(prefix, torrentHash ?? a.infoHash));
    return keys;
  }

  /** keyNames' suffixes for an announce of the hash's own keys, as the lane writes them after the tag. */
  private keyTails(a: SwarmAnnounce): readonly Buffer[] {
    return (a.access?.userId ?? 0) > 0 ? this.privateTails : this.publicTails;
  }

  /** The script's ARGV (ANNOUNCE_ARGV): a public announce passes the first three. */
  private announceArgv(a: SwarmAnnounce, torrentHash: Buffer | undefined, degraded: boolean): Array<string | Buffer> {
    const access = a.access;
    const userId = access?.userId ?? 0;
    const header = announceHeader(a, this.params.subnetIndex, this.ctx.peerTtl, this.params, degraded);
    if (userId <= 0) return [header, a.v4 ?? NO_BYTES, a.v6 ?? NO_BYTES];
    const argv: Record<(typeof ANNOUNCE_ARGV)[number], string | Buffer> = {
      header,
      address4: a.v4 ?? NO_BYTES,
      address6: a.v6 ?? NO_BYTES,
      userId: userBytes(userId),
      peerId: a.peerId,
      totals: `${access!.uploaded ?? 0}:${access!.downloaded ?? 0}`,
      recordId: access?.announceId ?? '',
      servedAs: torrentHash ? a.infoHash.toString('hex') : '',
      peerLimit: String(access?.peerLimit ?? 0),
    };
    return ANNOUNCE_ARGV.map((name) => argv[name]);
  }

  private viaIoredis(
    a: SwarmAnnounce,
    torrentHash: Buffer | undefined,
    argv: Array<string | Buffer>,
    degraded: boolean,
    deadline: number,
  ): Promise<AnnounceReply> {
    const args: Array<string | Buffer> = this.keyNames(a, torrentHash);
    const command = (degraded ? this.degradedCommands : this.announceCommands).get(args.length)!;
    args.push(...argv);
    return this.withRetries(() => command(...args), deadline);
  }

  private result(a: SwarmAnnounce, reply: AnnounceReply, degraded: boolean): SwarmResult {
    const userId = a.access?.userId ?? 0;
    const complete = reply[REPLY.complete] as number;
    const incomplete = reply[REPLY.incomplete] as number;
    const downloaded = reply[REPLY.downloaded] as number;
    const packed4 = reply[REPLY.peers4] as Buffer;
    const packed6 = reply[REPLY.peers6] as Buffer;
    const refusal = reply[REPLY.refusal] as Buffer | undefined;
    const peers4 = userId > 0 ? withoutUserIds(packed4, ADDRESS4_SIZE) : packed4;
    const peers6 = userId > 0 ? withoutUserIds(packed6, ADDRESS6_SIZE) : packed6;
    let notStored = false;
    if (refusal && refusal.length > 0) {
      const reason = refusal.toString('latin1');
      if (reason === TOO_SOON) return { complete, incomplete, downloaded, peers4, peers6, tooSoon: true };
      if (reason === NOT_STORED) notStored = true;
      else if (!REFUSALS.has(reason)) throw new Error(`announce script: unexpected refusal ${JSON.stringify(reason)}`);
      else return { complete: 0, incomplete: 0, downloaded: 0, peers4, peers6, refused: reason as Refusal };
    }
    const result: SwarmResult = { complete, incomplete, downloaded, peers4, peers6, snatched: reply[REPLY.snatched] === 1 };
    if (notStored) {
      result.notStored = degraded ? 'out_of_memory' : 'swarm_limit';
      this.outOfMemory.turnedAway(result.notStored);
    }
    if (userId > 0) {
      const { previous, session } = parsePrevious(reply[REPLY.previousTotals] as Buffer | undefined);
      result.previous = previous;
      if (session) result.session = session;
      result.torrent = torrentTerms(
        reply[REPLY.torrentId] as Buffer | undefined,
        reply[REPLY.upMultiplier] as Buffer | undefined,
        reply[REPLY.downMultiplier] as Buffer | undefined,
        reply[REPLY.freeleech] as Buffer | undefined,
      );
    }
    if (a.withPeerIds) {
      // Peer ids are not kept in Redis (20 bytes a peer for a rarely used answer): all zero means unknown.
      result.peerIds4 = Buffer.alloc((peers4.length / ADDRESS4_SIZE) * 20);
      result.peerIds6 = Buffer.alloc((peers6.length / ADDRESS6_SIZE) * 20);
    }
    return result;
  }

  events(): Record<string, number> {
    return this.batcher ? { ...this.laneEvents, ...this.batcher.counts } : { ...this.laneEvents };
  }

  async scrape(infoHashes: Buffer[]): Promise<SwarmCounts[]> {
    // One small read-only script per hash; auto-pipelining batches them per node.
    return Promise.all(infoHashes.map((infoHash) => this.scrapeOne(infoHash)));
  }

  /** Every live swarm by a paced SCAN (full-scrape.ts); each counted as scrape() counts it. */
  scrapeAll(limit: number): Promise<FullScrapeFile[]> {
    const { prefix, fullScrapeRate } = this.params;
    return scanSwarms({ client: this.client, prefix, limit, keysPerSecond: fullScrapeRate, scrape: (hashes) => this.scrape(hashes) });
  }

  /** A hybrid torrent's v2 hash is counted where its swarm lives, in its torrent's slot. */
  private async scrapeOne(infoHash: Buffer): Promise<SwarmCounts> {
    const { prefix } = this.params;
    let torrentHash = this.catalogue.v2TorrentOf(infoHash);
    for (let call = 1; ; call++) {
      const keys = torrentHash ? swarmKeysUnder(prefix, torrentHash, infoHash, false) : swarmKeys(prefix, infoHash);
      const [complete, incomplete, downloaded, of] = await this.withRetries(() => this.scripted.trackerScrape(...keys.slice(0, SCRAPE_KEYS), this.ctx.peerTtl));
      const torrentHex = of ? of.toString() : '';
      if (torrentHex === '' || torrentHash || call >= 2) return { complete, incomplete, downloaded };
      this.catalogue.rememberV2(infoHash, torrentHex);
      torrentHash = this.catalogue.v2TorrentOf(infoHash);
      if (!torrentHash) return { complete, incomplete, downloaded };
    }
  }

  /**
   * Request budgets' shared counters: INCRBY, and EXPIRE NX (a TTL from the first addition on), per
   * key, without waiting in between: auto-pipelining sends a sync's commands together, and Cluster
   * spreads the keys over its nodes. (A script doing both cost Redis about 4 times as much per key.)
   * While Redis is out of memory INCRBY is refused: the sync fails and each replica counts alone.
   */
  async addBudgetCounts(counts: BudgetCount[], ttlSeconds: number): Promise<number[]> {
    const prefix = this.params.prefix;
    const client = this.client;
    return Promise.all(
      counts.map(({ key, delta }) => {
        const name = `${prefix}b:${key}`;
        const total = client.incrby(name, delta);
        void client.expire(name, ttlSeconds, 'NX').catch(() => undefined);
        return total;
      }),
    );
  }

  async ready(): Promise<boolean> {
    if (this.client.status !== 'ready' || !this.webtorrent.isListening()) return false;
    try {
      return (await this.client.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    this.batcher?.close();
    this.lanes.close();
    await this.catalogue.close();
    this.addresses.close();
    this.leeching.close();
    this.peers.close();
    await this.webtorrent.close();
    this.shared.close();
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
  private async withRetries<T>(call: () => Promise<T>, deadline = Date.now() + this.params.commandTimeout): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.deadlines.race(call(), deadline, timedOut);
      } catch (error) {
        if (attempt >= this.params.retries || !isConnectionError(error) || Date.now() + 50 > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    }
  }
}
