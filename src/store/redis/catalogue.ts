/**
 * The redis driver's catalogue. Torrent registrations and allow/deny membership live in each swarm's
 * own hash slot (the announce script reads them: no extra round trip). Users, approved clients and the
 * freeleech switch are cached in process; every change is published on a channel, and each replica
 * drops what it cached within a round trip of the change. Pub/sub delivers at most once, so every
 * change also bumps a counter and each message carries its number: a replica that finds, a second
 * later, a change whose message never came (a reconnect, a Cluster subscriber moving to another node)
 * drops everything it cached.
 */
import type { Logger } from 'pino';
import {
  type Catalogue,
  CatalogueConflict,
  type ClientEntry,
  type DeletionReason,
  type FreeleechToken,
  type HashList,
  type SyncKind,
  CatalogueLimit,
  ClientRules,
  MAX_TOKENS_PER_USER,
  type TorrentEntry,
  type User,
} from '../catalogue.js';
import type { RedisClient } from '../../redis/connection.js';
import { RedisBulk } from './bulk.js';
import { catalogueKeys, torrentKey } from './keys.js';
import { tokensFrom, userFields, userFrom } from './user-fields.js';
import type { RedisParams } from './params.js';

/** A cached user is trusted this long even without any message (a safety net, not the mechanism). */
const USER_TTL_MS = 60_000;
/** Unknown passkeys are remembered briefly, so that a client hammering with a bad one costs no Redis. */
const UNKNOWN_TTL_MS = 5_000;
const SHARED_REFRESH_MS = 30_000;
/** How often the change counter is read; a missed message is noticed within two of these. */
const VERSION_CHECK_MS = 1000;
/** Most v2 hashes of hybrid torrents remembered (each: two short strings). */
const V2_CACHE_SIZE = 100_000;

interface Cached {
  user: User | null;
  expires: number;
}

/** The entries of the approved and the denied hash (prefix -> name); an approved one is stored without its action. */
function clientEntries(allowed: Record<string, string>, denied: Record<string, string>): ClientEntry[] {
  const entries: ClientEntry[] = Object.entries(denied).map(([prefix, name]) => ({ prefix, name, action: 'deny' }));
  for (const [prefix, name] of Object.entries(allowed)) if (!(prefix in denied)) entries.push({ prefix, name });
  return entries;
}

export class RedisCatalogue implements Catalogue {
  private readonly keys: ReturnType<typeof catalogueKeys>;
  private readonly bulk: RedisBulk;
  /** Map order is recency: a hit moves the entry to the end, eviction takes the first. */
  private readonly users = new Map<string, Cached>();
  private readonly loading = new Map<string, Promise<User | null>>();
  /**
   * Hybrid torrents: hex v2 hash -> the torrent's info hash, as the announce script answered it (the
   * refusal "v2"). Only a hint: the script checks it on every use (hybrid.lua). Dropped on a change of
   * the hash (a list entry, a registration), so that a deny of a v2 hash takes effect within a second.
   */
  private readonly v2Torrents = new Map<string, Buffer>();
  /** Bumped by every invalidation: a lookup that started before one must not cache its answer. */
  private generation = 0;
  private clientRules: ClientRules | null = null;
  private freeleech = false;
  private readonly subscriber: RedisClient;
  private readonly refreshTimer: NodeJS.Timeout;
  private readonly versionTimer: NodeJS.Timeout;
  /** Every change up to this number has been heard (null until the counter is first read). */
  private heardUpTo: number | null = null;
  /** Changes heard out of order, above heardUpTo. */
  private readonly heardAbove = new Set<number>();
  /** The counter at the last check, if it was ahead of what had been heard then. */
  private ahead: number | null = null;

  constructor(
    private readonly client: RedisClient,
    private readonly params: RedisParams,
    private readonly logger: Logger,
  ) {
    this.keys = catalogueKeys(params.prefix);
    this.bulk = new RedisBulk(client, params.prefix, (message) => this.publish(message));
    this.subscriber = (client.duplicate as () => RedisClient).call(client);
    client.on('ready', () => void this.reloadShared());
    this.subscriber.on('error', () => undefined); // the main connection logs Redis errors
    this.subscriber.on('message', (_channel: string, message: string) => this.onMessage(message));
    this.subscriber.on('ready', () => this.dropAll());
    this.subscriber.subscribe(this.keys.channel).catch(() => undefined); // resubscribed on every reconnect
    this.refreshTimer = setInterval(() => void this.reloadShared(), SHARED_REFRESH_MS);
    this.refreshTimer.unref();
    this.versionTimer = setInterval(() => void this.checkVersion(), VERSION_CHECK_MS);
    this.versionTimer.unref();
    // The baseline now, while nothing is cached: a change missed later is then told from one made before.
    void this.checkVersion();
  }

  async userByPasskey(passkey: string): Promise<User | null> {
    const cached = this.users.get(passkey);
    if (cached && cached.expires > Date.now()) {
      this.users.delete(passkey);
      this.users.set(passkey, cached);
      return cached.user;
    }
    let pending = this.loading.get(passkey);
    if (!pending) {
      pending = this.fetchUser(passkey).finally(() => this.loading.delete(passkey));
      this.loading.set(passkey, pending);
    }
    return pending;
  }

  clientRule(peerId: Buffer): ClientEntry | null {
    // Not a refusal: the list is unknown until Redis answers once, and the client should retry.
    if (!this.clientRules) throw new Error('approved clients not loaded yet: Redis has not answered');
    return this.clientRules.match(peerId);
  }

  deniesClients(): boolean {
    return this.clientRules?.denies ?? false;
  }

  globalFreeleech(): boolean {
    return this.freeleech;
  }

  async getUser(id: number): Promise<User | null> {
    const passkey = await this.client.get(this.keys.userId(id));
    if (!passkey) return null;
    return userFrom(await this.client.hgetall(this.keys.user(passkey)), passkey);
  }

  async listTokens(userId: number): Promise<FreeleechToken[] | null> {
    if (!(await this.client.get(this.keys.userId(userId)))) return null;
    return [...tokensFrom(await this.client.hgetall(this.keys.tokens(userId))).values()].sort((a, b) => a.torrentId - b.torrentId);
  }

  async putToken(userId: number, token: FreeleechToken): Promise<void> {
    const key = this.keys.tokens(userId);
    // Checked, then written: two puts at once may pass the bound by one each (the bound keeps the
    // cached user small; it is not a quota).
    const [held, count] = await Promise.all([this.client.hexists(key, String(token.torrentId)), this.client.hlen(key)]);
    if (!held && count >= MAX_TOKENS_PER_USER) throw new CatalogueLimit(`user ${userId} holds ${MAX_TOKENS_PER_USER} tokens already, the most allowed`);
    await this.client.hset(key, String(token.torrentId), `${token.until} ${token.infoHash.toString('hex')}`);
    await this.publishUser(userId);
  }

  async deleteToken(userId: number, torrentId: number): Promise<boolean> {
    const removed = (await this.client.hdel(this.keys.tokens(userId), String(torrentId))) > 0;
    if (removed) await this.publishUser(userId);
    return removed;
  }

  /** Tells every replica to drop the user's cached entry (with its tokens). */
  private async publishUser(userId: number): Promise<void> {
    const passkey = await this.client.get(this.keys.userId(userId));
    if (passkey) await this.publish(`u:${passkey}`);
  }

  async putUser(user: User): Promise<void> {
    const holder = await this.client.hget(this.keys.user(user.passkey), 'id');
    if (holder && Number(holder) !== user.id) throw new CatalogueConflict(`passkey already belongs to user ${holder}`);
    const old = await this.client.get(this.keys.userId(user.id));
    // Replaced whole, in one step: a field left out of this PUT must not survive from the last one.
    const key = this.keys.user(user.passkey);
    await this.client.multi().del(key).hset(key, userFields(user)).exec();
    await this.client.set(this.keys.userId(user.id), user.passkey);
    await this.client.zadd(this.keys.users, user.id, String(user.id));
    if (old && old !== user.passkey) {
      await this.client.del(this.keys.user(old));
      await this.publish(`u:${old}`);
    }
    await this.publish(`u:${user.passkey}`);
  }

  async deleteUser(id: number): Promise<boolean> {
    const passkey = await this.client.get(this.keys.userId(id));
    if (!passkey) return false;
    await this.client.del(this.keys.user(passkey));
    await this.client.del(this.keys.tokens(id));
    await this.client.del(this.keys.userId(id));
    await this.client.zrem(this.keys.users, String(id));
    await this.publish(`u:${passkey}`);
    return true;
  }

  async getTorrent(infoHash: Buffer, follow = true): Promise<TorrentEntry | null> {
    const [id, up, down, fl, v2, of] = await this.client.hmget(torrentKey(this.params.prefix, infoHash), 'id', 'up', 'down', 'fl', 'v2', 'of');
    if (!id) return of && follow ? this.getTorrent(Buffer.from(of, 'hex'), false) : null;
    const torrent: TorrentEntry = {
      infoHash: Buffer.from(infoHash),
      id: Number(id),
      upMultiplier: Number(up ?? '1'),
      downMultiplier: Number(down ?? '1'),
      freeleech: fl === '1',
    };
    if (v2) torrent.infoHashV2 = Buffer.from(v2, 'hex');
    return torrent;
  }

  /**
   * A hybrid torrent is registered under its info hash (field v2: the v2 hash) and its v2 hash's own
   * registration says whose it is (field of). Several commands, not one transaction: the keys live in
   * two hash slots. The announce script trusts only the torrent's side (hybrid.lua), so a write cut
   * half way leaves at worst a v2 hash that is refused until the PUT is made again.
   */
  async putTorrent(t: TorrentEntry): Promise<void> {
    const key = torrentKey(this.params.prefix, t.infoHash);
    const hex = t.infoHash.toString('hex');
    const v2 = t.infoHashV2 && !t.infoHashV2.equals(t.infoHash) ? t.infoHashV2.toString('hex') : undefined;
    const [ofOther, oldV2] = await this.client.hmget(key, 'of', 'v2');
    if (ofOther) throw new CatalogueConflict(`${hex} is the v2 info hash of torrent ${ofOther}`);
    if (v2) {
      const [id, of] = await this.client.hmget(torrentKey(this.params.prefix, t.infoHashV2!), 'id', 'of');
      if (id || (of && of !== hex)) throw new CatalogueConflict(`info_hash_v2 ${v2} is registered to another torrent`);
    }
    if (oldV2 && oldV2 !== v2) await this.unlinkV2(oldV2);
    // Registered again: a deletion's reason is forgotten.
    await this.client.del(this.keys.deletion(hex));
    if (v2) await this.client.del(this.keys.deletion(v2));
    await this.client.hset(key, { id: t.id, up: t.upMultiplier, down: t.downMultiplier, fl: t.freeleech ? '1' : '0' });
    await this.client.zadd(this.keys.torrents, 0, hex);
    if (v2) {
      await this.client.hset(torrentKey(this.params.prefix, t.infoHashV2!), 'of', hex);
      await this.client.hset(key, 'v2', v2);
      await this.publish(`t:${v2}`);
    } else {
      await this.client.hdel(key, 'v2');
    }
  }

  async deleteTorrent(infoHash: Buffer, reason?: DeletionReason): Promise<boolean> {
    const key = torrentKey(this.params.prefix, infoHash);
    const v2 = await this.client.hget(key, 'v2');
    const removed = (await this.client.hdel(key, 'id', 'up', 'down', 'fl', 'v2')) > 0;
    if (v2) await this.unlinkV2(v2);
    if (removed) await this.client.zrem(this.keys.torrents, infoHash.toString('hex'));
    if (removed && reason) {
      for (const hex of v2 ? [infoHash.toString('hex'), v2] : [infoHash.toString('hex')]) {
        await this.client.set(this.keys.deletion(hex), reason.text, 'EX', reason.ttlSeconds);
      }
    }
    return removed;
  }

  putUsers(users: readonly User[], sync?: string): Promise<void> {
    return this.bulk.putUsers(users, sync);
  }

  listUsers(after: number, limit: number): Promise<User[]> {
    return this.bulk.listUsers(after, limit);
  }

  putTorrents(torrents: readonly TorrentEntry[], sync?: string): Promise<void> {
    return this.bulk.putTorrents(torrents, sync);
  }

  listTorrents(after: Buffer | null, limit: number): Promise<TorrentEntry[]> {
    return this.bulk.listTorrents(after, limit);
  }

  beginSync(kind: SyncKind): Promise<string> {
    return this.bulk.beginSync(kind);
  }

  hasSync(kind: SyncKind, id: string): Promise<boolean> {
    return this.bulk.hasSync(kind, id);
  }

  finishSync(kind: SyncKind, id: string, replace: boolean): Promise<{ kept: number; removed: number }> {
    const remove = kind === 'users' ? (member: string) => this.deleteUser(Number(member)) : (member: string) => this.deleteTorrent(Buffer.from(member, 'hex'));
    return this.bulk.finishSync(kind, id, replace, remove);
  }

  deletionReason(infoHash: Buffer): Promise<string | null> {
    return this.client.get(this.keys.deletion(infoHash.toString('hex')));
  }

  torrentHashOf(infoHash: Buffer): Buffer | undefined {
    return this.v2TorrentOf(infoHash);
  }

  /** The torrent whose v2 hash this is, as last answered by the announce script (a hint). */
  v2TorrentOf(infoHash: Buffer): Buffer | undefined {
    return this.v2Torrents.size === 0 ? undefined : this.v2Torrents.get(infoHash.toString('hex'));
  }

  rememberV2(infoHash: Buffer, torrentHex: string): void {
    if (!/^[0-9a-f]{40}$/.test(torrentHex)) return;
    if (this.v2Torrents.size >= V2_CACHE_SIZE) this.v2Torrents.delete(this.v2Torrents.keys().next().value!);
    this.v2Torrents.set(infoHash.toString('hex'), Buffer.from(torrentHex, 'hex'));
  }

  forgetV2(infoHash: Buffer): void {
    this.v2Torrents.delete(infoHash.toString('hex'));
  }

  private async unlinkV2(v2Hex: string): Promise<void> {
    await this.client.hdel(torrentKey(this.params.prefix, Buffer.from(v2Hex, 'hex')), 'of');
    await this.publish(`t:${v2Hex}`);
  }

  /** Approved prefixes in one hash (prefix -> name, as before deny entries existed), denied ones in another. */
  async listClients(): Promise<ClientEntry[]> {
    const [allowed, denied] = await Promise.all([this.client.hgetall(this.keys.clients), this.client.hgetall(this.keys.deniedClients)]);
    return clientEntries(allowed, denied).sort((a, b) => (a.prefix < b.prefix ? -1 : 1));
  }

  async putClient(client: ClientEntry): Promise<void> {
    const [into, from] = client.action === 'deny' ? [this.keys.deniedClients, this.keys.clients] : [this.keys.clients, this.keys.deniedClients];
    // Two keys (on a Cluster perhaps two slots): a put cut in between leaves the prefix in both, and then deny wins.
    await this.client.hset(into, client.prefix, client.name);
    await this.client.hdel(from, client.prefix);
    await this.publish('clients');
  }

  async deleteClient(prefix: string): Promise<boolean> {
    const removed = (await this.client.hdel(this.keys.clients, prefix)) + (await this.client.hdel(this.keys.deniedClients, prefix)) > 0;
    await this.publish('clients');
    return removed;
  }

  async listHashes(list: HashList): Promise<Buffer[]> {
    return (await this.client.smembers(this.keys.list(list))).sort().map((hex) => Buffer.from(hex, 'hex'));
  }

  async addHash(list: HashList, infoHash: Buffer): Promise<void> {
    // The torrent hash is what announces obey; the set only lets the API list the entries.
    await this.client.hset(torrentKey(this.params.prefix, infoHash), list, '1');
    await this.client.sadd(this.keys.list(list), infoHash.toString('hex'));
    await this.publish(`t:${infoHash.toString('hex')}`);
  }

  async removeHash(list: HashList, infoHash: Buffer): Promise<boolean> {
    const removed = (await this.client.hdel(torrentKey(this.params.prefix, infoHash), list)) > 0;
    await this.client.srem(this.keys.list(list), infoHash.toString('hex'));
    await this.publish(`t:${infoHash.toString('hex')}`);
    return removed;
  }

  async setGlobalFreeleech(on: boolean): Promise<void> {
    await this.client.hset(this.keys.global, 'fl', on ? '1' : '0');
    // This replica knows at once; the others when the message comes (a GET right after the PUT must not
    // answer the old value while the message is on its way back to us).
    this.freeleech = on;
    await this.publish('global');
  }

  async close(): Promise<void> {
    clearInterval(this.refreshTimer);
    clearInterval(this.versionTimer);
    this.subscriber.disconnect();
  }

  private async fetchUser(passkey: string): Promise<User | null> {
    const generation = this.generation;
    const user = userFrom(await this.client.hgetall(this.keys.user(passkey)), passkey);
    // A second read, on a miss only: the tokens are keyed by the user id, which the first one tells.
    if (user) {
      const tokens = tokensFrom(await this.client.hgetall(this.keys.tokens(user.id)));
      if (tokens.size > 0) user.tokens = tokens;
    }
    if (generation === this.generation) {
      if (this.users.size >= this.params.userCacheSize) this.users.delete(this.users.keys().next().value!);
      this.users.set(passkey, { user, expires: Date.now() + (user ? USER_TTL_MS : UNKNOWN_TTL_MS) });
    }
    return user;
  }

  /** "VERSION WHAT": WHAT is "u:PASSKEY" (a user), "t:HEX" (an info hash), "users" or "torrents" (a bulk write), "clients" or "global". */
  private onMessage(message: string): void {
    const space = message.indexOf(' ');
    const version = Number(message.slice(0, space));
    const what = message.slice(space + 1);
    if (what.startsWith('u:')) {
      this.generation++;
      this.users.delete(what.slice(2));
    } else if (what.startsWith('t:')) {
      this.v2Torrents.delete(what.slice(2));
    } else if (what === 'users') {
      // A bulk write or a sync: every cached user may be stale.
      this.generation++;
      this.users.clear();
    } else if (what === 'torrents') {
      this.v2Torrents.clear();
    } else {
      void this.reloadShared();
    }
    if (this.heardUpTo === null || !Number.isSafeInteger(version) || version <= this.heardUpTo) return;
    this.heardAbove.add(version);
    while (this.heardAbove.delete(this.heardUpTo + 1)) this.heardUpTo++;
    if (this.heardAbove.size > 10_000) this.dropAll(); // something is badly off: start afresh
  }

  /**
   * A change counted a whole check ago whose message has still not come was missed: drop every cached
   * entry. (Messages come within milliseconds; the second's grace keeps in-flight ones from counting.)
   */
  private async checkVersion(): Promise<void> {
    let counter: number;
    try {
      counter = Number((await this.client.get(this.keys.version)) ?? 0);
    } catch {
      return; // Redis away: announces fail anyway, and a reconnect drops the caches
    }
    if (this.heardUpTo === null) {
      this.heardUpTo = counter;
      return;
    }
    if (this.ahead !== null && this.heardUpTo < this.ahead) {
      this.logger.warn({ heard: this.heardUpTo, changes: counter }, 'catalogue change messages were missed; dropping cached users and clients');
      this.dropAll();
      this.heardUpTo = counter;
    }
    this.ahead = counter > this.heardUpTo ? counter : null;
  }

  private dropAll(): void {
    this.generation++;
    this.users.clear();
    this.v2Torrents.clear();
    this.heardAbove.clear();
    this.ahead = null;
    void this.reloadShared();
  }

  private async reloadShared(): Promise<void> {
    try {
      const [allowed, denied, freeleech] = await Promise.all([
        this.client.hgetall(this.keys.clients),
        this.client.hgetall(this.keys.deniedClients),
        this.client.hget(this.keys.global, 'fl'),
      ]);
      this.clientRules = new ClientRules(clientEntries(allowed, denied));
      this.freeleech = freeleech === '1';
    } catch (error) {
      this.logger.debug({ err: error }, 'catalogue refresh failed; keeping what was loaded');
    }
  }

  private async publish(message: string): Promise<void> {
    const version = await this.client.incr(this.keys.version);
    await this.client.publish(this.keys.channel, `${version} ${message}`);
  }
}
