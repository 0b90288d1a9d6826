/** The memory driver's catalogue: plain maps in this process (one process sees every change at once). */
import {
  type Catalogue,
  CatalogueConflict,
  type ClientEntry,
  type DeletionReason,
  type FreeleechToken,
  type HashList,
  CatalogueLimit,
  ClientRules,
  MAX_TOKENS_PER_USER,
  type SyncKind,
  type TorrentEntry,
  type User,
} from '../catalogue.js';
import type { Refusal, SwarmAccess, TorrentTerms } from '../driver.js';
import { LocalSyncs } from './syncs.js';

/** Deletion reasons kept at most (the oldest go first): bounded memory whatever the API is asked. */
const MAX_DELETIONS = 100_000;

export class MemoryCatalogue implements Catalogue {
  private readonly users = new Map<number, User>();
  private readonly byPasskey = new Map<string, User>();
  /** Keyed by the info hash as latin1, as the store's torrents are. */
  private readonly torrents = new Map<string, TorrentEntry>();
  /** A hybrid torrent's v2 hash -> its info hash (both latin1). */
  private readonly v2Hashes = new Map<string, string>();
  private readonly lists = { allow: new Set<string>(), deny: new Set<string>() };
  private readonly clients = new Map<string, ClientEntry>();
  private clientRules = new ClientRules([]);
  private freeleech = false;
  /** Deleted torrents' reasons by hash (latin1), oldest deletion first; at most MAX_DELETIONS. */
  private readonly deletions = new Map<string, { text: string; expires: number }>();
  /** Sorted ids and keys for paging, built on the first list after a change. */
  private sortedUsers: number[] | null = null;
  private sortedTorrents: string[] | null = null;
  private readonly syncs: LocalSyncs;

  constructor(private readonly now: () => number = Date.now) {
    this.syncs = new LocalSyncs(now);
  }

  async userByPasskey(passkey: string): Promise<User | null> {
    return this.byPasskey.get(passkey) ?? null;
  }

  clientRule(peerId: Buffer): ClientEntry | null {
    return this.clientRules.match(peerId);
  }

  deniesClients(): boolean {
    return this.clientRules.denies;
  }

  globalFreeleech(): boolean {
    return this.freeleech;
  }

  /**
   * The access rules of one announce, for the store (key: the info hash as latin1). `torrentKey` is the
   * key of the torrent's accounting: its info hash, also when announced on a hybrid torrent's v2 hash in
   * private mode (the redis driver's rules, key for key: deny on either hash, allow on the torrent's).
   */
  check(key: string, access: SwarmAccess): { refused?: Refusal; terms?: TorrentTerms; torrentKey: string } {
    if (this.lists.deny.has(key)) return { refused: 'denied', torrentKey: key };
    const torrentKey = access.userId ? (this.v2Hashes.get(key) ?? key) : key;
    if (access.requireAllowed && !this.lists.allow.has(torrentKey)) return { refused: 'not_allowed', torrentKey };
    const torrent = this.torrents.get(torrentKey);
    if (access.requireRegistered && !torrent) return { refused: 'unregistered', torrentKey };
    if (torrentKey !== key && this.lists.deny.has(torrentKey)) return { refused: 'denied', torrentKey };
    return {
      terms: torrent && { id: torrent.id, upMultiplier: torrent.upMultiplier, downMultiplier: torrent.downMultiplier, freeleech: torrent.freeleech },
      torrentKey,
    };
  }

  torrentHashOf(infoHash: Buffer): Buffer | undefined {
    const key = this.v2Hashes.get(infoHash.toString('latin1'));
    return key === undefined ? undefined : Buffer.from(key, 'latin1');
  }

  /** The info hash (latin1) of the torrent whose v2 hash this is, or the key itself. */
  torrentKeyOf(key: string): string {
    return this.v2Hashes.get(key) ?? key;
  }

  async getUser(id: number): Promise<User | null> {
    const user = this.users.get(id);
    if (!user) return null;
    const { tokens: _tokens, ...copy } = user;
    return copy;
  }

  async putUser(user: User): Promise<void> {
    const conflict = this.userConflict(user);
    if (conflict) throw new CatalogueConflict(conflict);
    this.sortedUsers = null;
    const old = this.users.get(user.id);
    if (old) this.byPasskey.delete(old.passkey);
    const copy: User = { ...user };
    delete copy.tokens;
    // The tokens are the user's own resource: a put of the user keeps them.
    if (old?.tokens) copy.tokens = old.tokens;
    this.users.set(user.id, copy);
    this.byPasskey.set(user.passkey, copy);
  }

  private userConflict(user: User): string | null {
    const holder = this.byPasskey.get(user.passkey);
    return holder && holder.id !== user.id ? `passkey already belongs to user ${holder.id}` : null;
  }

  async putUsers(users: readonly User[], sync?: string): Promise<void> {
    const seen = sync === undefined ? undefined : this.syncs.open('users', sync);
    for (const user of users) {
      const conflict = this.userConflict(user);
      if (conflict) throw new CatalogueConflict(`user ${user.id}: ${conflict}`);
    }
    for (const user of users) {
      await this.putUser(user);
      seen?.add(user.id);
    }
  }

  async listUsers(after: number, limit: number): Promise<User[]> {
    this.sortedUsers ??= [...this.users.keys()].sort((a, b) => a - b);
    return pageAfter(this.sortedUsers, after, (a, b) => a - b, limit).map((id) => (({ tokens: _tokens, ...user }) => user)(this.users.get(id)!));
  }

  async deleteUser(id: number): Promise<boolean> {
    const user = this.users.get(id);
    if (!user) return false;
    this.sortedUsers = null;
    this.users.delete(id);
    this.byPasskey.delete(user.passkey);
    return true;
  }

  async listTokens(userId: number): Promise<FreeleechToken[] | null> {
    const user = this.users.get(userId);
    if (!user) return null;
    return [...(user.tokens?.values() ?? [])].map(copyToken).sort((a, b) => a.torrentId - b.torrentId);
  }

  async putToken(userId: number, token: FreeleechToken): Promise<void> {
    const user = this.users.get(userId);
    if (!user) return;
    const tokens = new Map(user.tokens);
    if (!tokens.has(token.torrentId) && tokens.size >= MAX_TOKENS_PER_USER) {
      throw new CatalogueLimit(`user ${userId} holds ${MAX_TOKENS_PER_USER} tokens already, the most allowed`);
    }
    // A new map each time: an announce holding the old one reads a consistent set.
    user.tokens = tokens.set(token.torrentId, copyToken(token));
  }

  async deleteToken(userId: number, torrentId: number): Promise<boolean> {
    const user = this.users.get(userId);
    if (!user?.tokens?.has(torrentId)) return false;
    const tokens = new Map(user.tokens);
    tokens.delete(torrentId);
    if (tokens.size > 0) user.tokens = tokens;
    else delete user.tokens;
    return true;
  }

  async getTorrent(infoHash: Buffer): Promise<TorrentEntry | null> {
    const torrent = this.torrents.get(this.torrentKeyOf(infoHash.toString('latin1')));
    return torrent ? copyTorrent(torrent) : null;
  }

  private torrentConflict(torrent: TorrentEntry): string | null {
    const key = torrent.infoHash.toString('latin1');
    const v2 = torrent.infoHashV2?.toString('latin1');
    const ofOther = this.v2Hashes.get(key);
    if (ofOther !== undefined) return `${torrent.infoHash.toString('hex')} is the v2 info hash of torrent ${Buffer.from(ofOther, 'latin1').toString('hex')}`;
    if (v2 !== undefined && v2 !== key) {
      const holder = this.v2Hashes.get(v2);
      if (this.torrents.has(v2) || (holder !== undefined && holder !== key))
        return `info_hash_v2 ${torrent.infoHashV2!.toString('hex')} is registered to another torrent`;
    }
    return null;
  }

  async putTorrents(torrents: readonly TorrentEntry[], sync?: string): Promise<void> {
    const seen = sync === undefined ? undefined : this.syncs.open('torrents', sync);
    for (const torrent of torrents) {
      const conflict = this.torrentConflict(torrent);
      if (conflict) throw new CatalogueConflict(conflict);
    }
    for (const torrent of torrents) {
      await this.putTorrent(torrent);
      seen?.add(torrent.infoHash.toString('latin1'));
    }
  }

  async listTorrents(after: Buffer | null, limit: number): Promise<TorrentEntry[]> {
    // Latin1 strings compare by their bytes: the keys' order is the hashes' byte order.
    this.sortedTorrents ??= [...this.torrents.keys()].sort();
    const from = after?.toString('latin1') ?? '';
    return pageAfter(this.sortedTorrents, from, (a, b) => (a < b ? -1 : a > b ? 1 : 0), limit).map((key) => copyTorrent(this.torrents.get(key)!));
  }

  async beginSync(kind: SyncKind): Promise<string> {
    return this.syncs.begin(kind);
  }

  async hasSync(kind: SyncKind, id: string): Promise<boolean> {
    return this.syncs.has(kind, id);
  }

  async finishSync(kind: SyncKind, id: string, replace: boolean): Promise<{ kept: number; removed: number }> {
    const seen = this.syncs.finish(kind, id);
    let removed = 0;
    if (replace && kind === 'users') {
      for (const userId of [...this.users.keys()]) if (!seen.has(userId) && (await this.deleteUser(userId))) removed++;
    } else if (replace) {
      for (const key of [...this.torrents.keys()]) if (!seen.has(key) && (await this.deleteTorrent(Buffer.from(key, 'latin1')))) removed++;
    }
    return { kept: kind === 'users' ? this.users.size : this.torrents.size, removed };
  }

  async putTorrent(torrent: TorrentEntry): Promise<void> {
    const conflict = this.torrentConflict(torrent);
    if (conflict) throw new CatalogueConflict(conflict);
    const key = torrent.infoHash.toString('latin1');
    const v2 = torrent.infoHashV2?.toString('latin1');
    if (!this.torrents.has(key)) this.sortedTorrents = null;
    const old = this.torrents.get(key)?.infoHashV2?.toString('latin1');
    if (old !== undefined) this.v2Hashes.delete(old);
    this.deletions.delete(key);
    if (v2 !== undefined) this.deletions.delete(v2);
    const copy = copyTorrent(torrent);
    if (v2 === undefined || v2 === key) delete copy.infoHashV2;
    else this.v2Hashes.set(v2, key);
    this.torrents.set(key, copy);
  }

  async deleteTorrent(infoHash: Buffer, reason?: DeletionReason): Promise<boolean> {
    const key = infoHash.toString('latin1');
    const old = this.torrents.get(key)?.infoHashV2?.toString('latin1');
    if (old !== undefined) this.v2Hashes.delete(old);
    const removed = this.torrents.delete(key);
    if (removed) this.sortedTorrents = null;
    if (removed && reason) {
      const remembered = { text: reason.text, expires: this.now() + reason.ttlSeconds * 1000 };
      for (const hash of old === undefined ? [key] : [key, old]) {
        this.deletions.delete(hash);
        this.deletions.set(hash, remembered);
        if (this.deletions.size > MAX_DELETIONS) this.deletions.delete(this.deletions.keys().next().value!);
      }
    }
    return removed;
  }

  async deletionReason(infoHash: Buffer): Promise<string | null> {
    const key = infoHash.toString('latin1');
    const remembered = this.deletions.get(key);
    if (!remembered) return null;
    if (remembered.expires > this.now()) return remembered.text;
    this.deletions.delete(key);
    return null;
  }

  async listClients(): Promise<ClientEntry[]> {
    return [...this.clients.values()].map((c) => ({ ...c })).sort((a, b) => (a.prefix < b.prefix ? -1 : 1));
  }

  async putClient(client: ClientEntry): Promise<void> {
    this.clients.set(client.prefix, { ...client });
    this.indexClients();
  }

  async deleteClient(prefix: string): Promise<boolean> {
    const removed = this.clients.delete(prefix);
    this.indexClients();
    return removed;
  }

  /** The entries as clientRule() compares them on the hot path. */
  private indexClients(): void {
    this.clientRules = new ClientRules(this.clients.values());
  }

  async listHashes(list: HashList): Promise<Buffer[]> {
    return [...this.lists[list]].sort().map((key) => Buffer.from(key, 'latin1'));
  }

  async addHash(list: HashList, infoHash: Buffer): Promise<void> {
    this.lists[list].add(infoHash.toString('latin1'));
  }

  async removeHash(list: HashList, infoHash: Buffer): Promise<boolean> {
    return this.lists[list].delete(infoHash.toString('latin1'));
  }

  async setGlobalFreeleech(on: boolean): Promise<void> {
    this.freeleech = on;
  }
}

/** Up to `limit` items of a sorted list that come after `after`, by binary search. */
function pageAfter<T>(sorted: readonly T[], after: T, compare: (a: T, b: T) => number, limit: number): T[] {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (compare(sorted[mid]!, after) <= 0) low = mid + 1;
    else high = mid;
  }
  return sorted.slice(low, low + limit);
}

function copyToken(token: FreeleechToken): FreeleechToken {
  return { torrentId: token.torrentId, infoHash: Buffer.from(token.infoHash), until: token.until };
}

function copyTorrent(torrent: TorrentEntry): TorrentEntry {
  const copy: TorrentEntry = { ...torrent, infoHash: Buffer.from(torrent.infoHash) };
  if (torrent.infoHashV2) copy.infoHashV2 = Buffer.from(torrent.infoHashV2);
  return copy;
}
