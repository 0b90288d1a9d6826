/**
 * The redis driver's WebRTC swarms and signal delivery (src/store/webtorrent-driver.ts).
 *
 * Swarms: lua/webtorrent-announce.lua keeps each swarm's browser peers in two sorted sets of peer_ids and
 * the route of each (peer_id -> replica) in a hash, all under the swarm's hash tag: an announce, its
 * expiry, its pick and the picked peers' routes are one script call, one round trip.
 *
 * Delivery: Redis 7 sharded pub/sub. Each replica subscribes (SSUBSCRIBE) to its own channel
 * `<prefix>rtc:{<replica>}`; a signal for a socket on another replica is one SPUBLISH to that channel,
 * which Redis Cluster keeps on the shard owning the channel's slot (plain PUBLISH is broadcast to every
 * node of a cluster, so its cost grows with the cluster). SPUBLISH answers how many subscribers got the
 * message: 0 means the replica is gone, and the caller counts the signal as unreachable. Why not a
 * stream per replica: delivery would be at-least-once and durable, but an offer is worth nothing after
 * its ~2 minutes and a browser retries a failed connection by itself, while a stream costs an XADD, a
 * blocking XREAD per replica, trimming, and a key a dead replica leaves behind. At most once is right.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { SwarmCounts } from '../../bittorrent/announce.js';
import type { RedisClient } from '../../redis/connection.js';
import { LaneFallback } from '../../redis/resp-lane.js';
import type { LaneRouter } from '../../redis/lane-router.js';
import type { Refusal } from '../driver.js';
import type { BinaryId, WebTorrentAnnounce, WebTorrentPeer, WebTorrentResult, WebTorrentSignal, WebTorrentSwarms } from '../webtorrent-driver.js';
import type { RedisParams } from './params.js';
import { timedOut } from '../../redis/timed-out.js';
import { Deadlines } from './deadlines.js';
import { script } from './scripts.js';
import { TOTALS_KEYS, totalsKeys, WEBTORRENT_KEYS, webTorrentKeys } from './keys.js';
import { parsePrevious, torrentTerms, userBytes } from './private.js';
import { ANNOUNCE_EVENTS, ANNOUNCE_FLAGS } from './protocol.js';

const REFUSALS = new Set<string>(['denied', 'not_allowed', 'unregistered', 'peer_limit']);
/** Where the picked peers start in a reply: after the counts and refusal, and in private mode the accounting fields. */
const PUBLIC_PEERS_AT = 4;
const PRIVATE_PEERS_AT = 10;
const KINDS = ['offer', 'answer'] as const;
const ID = 20;

type AnnounceReply = Array<number | Buffer>;
interface WebTorrentCommands {
  trackerWebTorrentAnnounceBuffer(...args: Array<string | Buffer | number>): Promise<AnnounceReply>;
  /** The same script with the totals keys of private mode (a fixed key count per command: Cluster auto-pipelining). */
  trackerWebTorrentAnnouncePrivateBuffer(...args: Array<string | Buffer | number>): Promise<AnnounceReply>;
  trackerWebTorrentScrape(...args: Array<string | number>): Promise<[number, number, number]>;
}

/** Scrape reads the peer sets and the routes hash (its snatches): the first three keys. */
const SCRAPE_KEYS = 3;

/**
 * A signal on the wire: kind (1 byte), info_hash, from, to, offer_id (20 bytes each), the sender's
 * replica (a length byte, then its name), then the SDP's JSON string token (UTF-8).
 */
export function encodeSignal(signal: WebTorrentSignal): Buffer {
  const replica = Buffer.from(signal.fromReplica, 'latin1');
  const out = Buffer.allocUnsafe(1 + 4 * ID + 1 + replica.length + signal.sdp.length);
  out[0] = KINDS.indexOf(signal.kind);
  out.write(signal.infoHash, 1, ID, 'latin1');
  out.write(signal.from, 1 + ID, ID, 'latin1');
  out.write(signal.to, 1 + 2 * ID, ID, 'latin1');
  out.write(signal.offerId, 1 + 3 * ID, ID, 'latin1');
  out[1 + 4 * ID] = replica.length;
  replica.copy(out, 2 + 4 * ID);
  out.set(signal.sdp, 2 + 4 * ID + replica.length);
  return out;
}

/** The SDP stays a view of `bytes`: ioredis hands each message in buffers of its own, never reused. */
export function decodeSignal(bytes: Buffer): WebTorrentSignal | null {
  if (bytes.length < 2 + 4 * ID || bytes[0]! > 1) return null;
  const replicaEnd = 2 + 4 * ID + bytes[1 + 4 * ID]!;
  if (replicaEnd > bytes.length) return null;
  return {
    kind: KINDS[bytes[0]!]!,
    infoHash: bytes.toString('latin1', 1, 1 + ID),
    from: bytes.toString('latin1', 1 + ID, 1 + 2 * ID),
    to: bytes.toString('latin1', 1 + 2 * ID, 1 + 3 * ID),
    offerId: bytes.toString('latin1', 1 + 3 * ID, 1 + 4 * ID),
    fromReplica: bytes.toString('latin1', 2 + 4 * ID, replicaEnd),
    sdp: bytes.subarray(replicaEnd),
  };
}

export class RedisWebTorrentSwarms implements WebTorrentSwarms {
  /** Random per process: a restarted replica is a new one, and the old name's routes simply expire. */
  readonly replica = randomBytes(8).toString('hex');
  private readonly commands: WebTorrentCommands;
  private subscriber: RedisClient | null = null;
  /** A handler was set: this replica must listen before it is ready. */
  private wanted = false;
  private listening = false;
  private readonly peerTtl: number;
  /** Every ioredis call's deadline (commandTimeout), one timer for all of them (as the store's). */
  private readonly deadlines = new Deadlines();
  /** The announce script's SHA1, as ioredis' defineCommand computes it (EVALSHA on the fast lane). */
  private readonly announceSha: string;

  constructor(
    private readonly client: RedisClient,
    private readonly params: RedisParams,
    peerTtl: number,
    private readonly logger: Logger,
    /** The compact peers' TTL: private totals are shared with them and live as long (webtorrent-driver.ts). */
    private readonly totalsTtl: number = peerTtl,
    /** The store's fast lanes, for the signals' SPUBLISH; null: every call through ioredis. */
    private readonly lanes: LaneRouter | null = null,
  ) {
    this.peerTtl = peerTtl;
    const announce = script('webtorrent-announce');
    this.announceSha = createHash('sha1').update(announce).digest('hex');
    client.defineCommand('trackerWebTorrentAnnounce', { numberOfKeys: WEBTORRENT_KEYS.length, lua: announce });
    client.defineCommand('trackerWebTorrentAnnouncePrivate', { numberOfKeys: WEBTORRENT_KEYS.length + TOTALS_KEYS.length, lua: announce });
    client.defineCommand('trackerWebTorrentScrape', { numberOfKeys: SCRAPE_KEYS, lua: script('webtorrent-scrape'), readOnly: true });
    this.commands = client as unknown as WebTorrentCommands;
  }

  /** `call`'s outcome, or the timeout's error once command_timeout has passed. */
  private bound<T>(call: Promise<T>): Promise<T> {
    return this.deadlines.race(call, Date.now() + this.params.commandTimeout, timedOut);
  }

  /** This replica's channel: its name is the hash tag, so on a Cluster it lives on one shard. */
  channelOf(replica: string): string {
    return `${this.params.prefix}rtc:{${replica}}`;
  }

  /**
   * One script call. Through the fast lane when it is ready, as the compact announce is (a WebTorrent
   * announce per five relayed offers in the bench: ioredis' command, promise chain and parser were a
   * third of the ioredis share of a replica's CPU); anything the lane hands back (NOSCRIPT, MOVED, OOM,
   * a lost connection) goes through ioredis, which loads the script and behaves as it always did. A
   * repeated call is harmless: the announce is idempotent, and a private one carries its record id.
   */
  async announce(a: WebTorrentAnnounce): Promise<WebTorrentResult> {
    const access = a.access;
    const userId = access?.userId ?? 0;
    // The compact announce's flag bits and event codes (protocol.ts): the script reads them by name.
    const flags =
      (a.seeder ? ANNOUNCE_FLAGS.seeder : 0) |
      (access?.requireRegistered ? ANNOUNCE_FLAGS.requireRegistered : 0) |
      (access?.requireAllowed ? ANNOUNCE_FLAGS.requireAllowed : 0);
    const infoHash = Buffer.from(a.infoHash, 'latin1');
    const keys = webTorrentKeys(this.params.prefix, infoHash);
    if (userId > 0) keys.push(...totalsKeys(this.params.prefix, infoHash));
    const argv: Array<string | Buffer> = [
      Buffer.from(a.peerId, 'latin1'),
      this.replica,
      String(flags),
      String(ANNOUNCE_EVENTS[a.event]),
      String(a.numwant),
      String(this.peerTtl),
    ];
    if (userId > 0)
      argv.push(
        userBytes(userId),
        `${access!.uploaded ?? 0}:${access!.downloaded ?? 0}`,
        access!.announceId ?? '',
        String(access!.peerLimit ?? 0),
        String(this.totalsTtl),
      );
    let reply: AnnounceReply | null = null;
    const viaLane = this.lanes?.pick(keys)?.evalsha(this.announceSha, keys, argv, Date.now() + this.params.commandTimeout);
    if (viaLane) {
      try {
        const value = await viaLane;
        if (!Array.isArray(value)) throw new Error('webtorrent announce script: the reply is no array');
        reply = value as AnnounceReply;
      } catch (error) {
        if (!(error instanceof LaneFallback)) throw error;
      }
    }
    reply ??= await this.bound(
      userId > 0 ? this.commands.trackerWebTorrentAnnouncePrivateBuffer(...keys, ...argv) : this.commands.trackerWebTorrentAnnounceBuffer(...keys, ...argv),
    );
    const refusal = (reply[3] as Buffer).toString('latin1');
    if (refusal !== '') {
      if (!REFUSALS.has(refusal)) throw new Error(`webtorrent announce script: unexpected refusal ${JSON.stringify(refusal)}`);
      return { complete: 0, incomplete: 0, downloaded: 0, peers: [], refused: refusal as Refusal };
    }
    const peers: WebTorrentPeer[] = [];
    for (let i = userId > 0 ? PRIVATE_PEERS_AT : PUBLIC_PEERS_AT; i + 1 < reply.length; i += 2)
      peers.push({ peerId: (reply[i] as Buffer).toString('latin1'), replica: (reply[i + 1] as Buffer).toString('latin1') });
    const result: WebTorrentResult = { complete: reply[0] as number, incomplete: reply[1] as number, downloaded: reply[2] as number, peers };
    if (userId > 0) {
      result.snatched = reply[4] === 1;
      const { previous, session } = parsePrevious(reply[5] as Buffer);
      result.previous = previous;
      if (session) result.session = session;
      result.torrent = torrentTerms(reply[6] as Buffer, reply[7] as Buffer, reply[8] as Buffer, reply[9] as Buffer);
    }
    return result;
  }

  async scrape(infoHashes: BinaryId[]): Promise<SwarmCounts[]> {
    const replies = await Promise.all(
      infoHashes.map((infoHash) =>
        this.bound(
          this.commands.trackerWebTorrentScrape(...webTorrentKeys(this.params.prefix, Buffer.from(infoHash, 'latin1')).slice(0, SCRAPE_KEYS), this.peerTtl),
        ),
      ),
    );
    return replies.map(([complete, incomplete, downloaded]) => ({ complete, incomplete, downloaded }));
  }

  /**
   * One SPUBLISH: one round trip to the shard of the target replica's channel. Through the fast lane
   * when it is ready (a signal per relayed offer and per answer; ioredis' Command, promise chain and
   * parser cost more (measured: docs/performance.md, "Hand-written hot paths")); what the lane says did not run (an error reply, such as
   * MOVED) goes through ioredis. A signal written on a lane connection then lost is not sent again: it
   * may have been delivered, and delivery is at most once.
   */
  async send(replica: string, signal: WebTorrentSignal): Promise<boolean> {
    const channel = this.channelOf(replica);
    const message = encodeSignal(signal);
    const viaLane = this.lanes?.pick([channel])?.command(['SPUBLISH', channel, message], Date.now() + this.params.commandTimeout);
    if (viaLane) {
      try {
        return Number(await viaLane) > 0;
      } catch (error) {
        if (!(error instanceof LaneFallback) || error.reason === 'closed') throw error;
      }
    }
    const receivers = await this.bound(this.client.spublish(channel, message));
    return Number(receivers) > 0;
  }

  async onSignal(handler: (signal: WebTorrentSignal) => void): Promise<void> {
    if (this.subscriber) throw new Error('onSignal: this store already has a handler');
    this.wanted = true;
    // A connection of its own: a subscribed connection takes no other commands. On a Cluster, ioredis
    // keeps a subscriber per shard for SSUBSCRIBE (shardedSubscribers) and resubscribes after failovers.
    const subscriber: RedisClient = this.params.cluster
      ? (this.client as Cluster).duplicate([], { shardedSubscribers: true })
      : (this.client as Redis).duplicate({ enableAutoPipelining: false });
    this.subscriber = subscriber;
    subscriber.on('error', (error: unknown) => this.logger.debug({ err: error }, 'webtorrent subscriber connection error (reconnecting)'));
    subscriber.on('smessageBuffer', (_channel: Buffer, message: Buffer) => {
      const signal = decodeSignal(message);
      if (signal) handler(signal);
    });
    // Redis may be down at start: try until the subscription holds (ioredis then renews it after
    // every reconnect by itself), or until the store closes. Not ready (/readyz) until then.
    const channel = this.channelOf(this.replica);
    for (let attempt = 0; this.subscriber === subscriber; attempt++) {
      try {
        await subscriber.ssubscribe(channel);
        this.listening = true;
        return;
      } catch (error) {
        if (attempt === 0) this.logger.warn({ err: error }, "webtorrent: cannot subscribe to this replica's signal channel yet; retrying");
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  }

  /** False while a handler is set but its subscription is not in place yet (the store is not ready). */
  isListening(): boolean {
    return this.subscriber === null ? !this.wanted : this.listening && this.subscriber.status === 'ready';
  }

  async close(): Promise<void> {
    const subscriber = this.subscriber;
    this.subscriber = null;
    this.wanted = false;
    if (!subscriber) return;
    const quit = subscriber.quit().catch(() => undefined);
    await Promise.race([quit, new Promise<void>((resolve) => setTimeout(resolve, 1000).unref())]);
    subscriber.disconnect();
  }
}
