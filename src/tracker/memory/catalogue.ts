/** The memory driver's catalogue: plain maps in this process (one process sees every change at once). */
import { type Catalogue, CatalogueConflict, type ClientEntry, type HashList, matchesPrefix, type TorrentEntry, type User } from '../catalogue.js';
import type { Refusal, SwarmAccess, TorrentTerms } from '../driver.js';

export class MemoryCatalogue implements Catalogue {
  private readonly users = new Map<number, User>();
  private readonly byPasskey = new Map<string, User>();
  /** Keyed by the info hash as latin1, as the store's torrents are. */
  private readonly torrents = new Map<string, TorrentEntry>();
  private readonly lists = { allow: new Set<string>(), deny: new Set<string>() };
  private readonly clients = new Map<string, ClientEntry>();
  private clientPrefixes: Buffer[] = [];
  private freeleech = false;

  async userByPasskey(passkey: string): Promise<User | null> {
    return this.byPasskey.get(passkey) ?? null;
  }

  approvedClient(peerId: Buffer): boolean {
    return matchesPrefix(peerId, this.clientPrefixes);
  }

  globalFreeleech(): boolean {
    return this.freeleech;
  }

  /** The access rules of one announce, for the store (key: the info hash as latin1). */
  check(key: string, access: SwarmAccess): { refused?: Refusal; terms?: TorrentTerms } {
    if (this.lists.deny.has(key)) return { refused: 'denied' };
    if (access.requireAllowed && !this.lists.allow.has(key)) return { refused: 'not_allowed' };
    const torrent = this.torrents.get(key);
    if (access.requireRegistered && !torrent) return { refused: 'unregistered' };
    return { terms: torrent && { id: torrent.id, upMultiplier: torrent.upMultiplier, downMultiplier: torrent.downMultiplier, freeleech: torrent.freeleech } };
  }

  async getUser(id: number): Promise<User | null> {
    const user = this.users.get(id);
    return user ? { ...user } : null;
  }

  async putUser(user: User): Promise<void> {
    const holder = this.byPasskey.get(user.passkey);
    if (holder && holder.id !== user.id) throw new CatalogueConflict(`passkey already belongs to user ${holder.id}`);
    const old = this.users.get(user.id);
    if (old) this.byPasskey.delete(old.passkey);
    const copy = { ...user };
    this.users.set(user.id, copy);
    this.byPasskey.set(user.passkey, copy);
  }

  async deleteUser(id: number): Promise<boolean> {
    const user = this.users.get(id);
    if (!user) return false;
    this.users.delete(id);
    this.byPasskey.delete(user.passkey);
    return true;
  }

  async getTorrent(infoHash: Buffer): Promise<TorrentEntry | null> {
    const torrent = this.torrents.get(infoHash.toString('latin1'));
    return torrent ? { ...torrent, infoHash: Buffer.from(torrent.infoHash) } : null;
  }

  async putTorrent(torrent: TorrentEntry): Promise<void> {
    this.torrents.set(torrent.infoHash.toString('latin1'), { ...torrent, infoHash: Buffer.from(torrent.infoHash) });
  }

  async deleteTorrent(infoHash: Buffer): Promise<boolean> {
    return this.torrents.delete(infoHash.toString('latin1'));
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

  /** The prefixes as bytes, which approvedClient() compares on the hot path. */
  private indexClients(): void {
    this.clientPrefixes = [...this.clients.keys()].map((prefix) => Buffer.from(prefix, 'latin1'));
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
