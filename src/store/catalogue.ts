/**
 * The private site's catalogue: users (passkeys), registered torrents, approved clients, info-hash
 * allow/deny lists and the global freeleech switch. Every tracker driver keeps one (`store.catalogue`).
 *
 * Obligations of a catalogue:
 * - The hot-path reads (`userByPasskey`, `clientRule`, `globalFreeleech`) cost no round trip in the
 *   common case: a remote store answers them from an in-process cache of bounded size, and a change made
 *   through any replica is seen by every replica within a second.
 * - Torrent registrations and allow/deny entries are not read here on the hot path: the store's
 *   `announce` checks them atomically with the swarm update (see SwarmAccess in driver.ts).
 * - Writes validate nothing: the management API does; a passkey already held by another user is a
 *   CatalogueConflict.
 */

export interface User {
  /** The site's user id, 1 .. 2^32-1. */
  id: number;
  passkey: string;
  upMultiplier: number;
  downMultiplier: number;
  enabled: boolean;
  /**
   * False: the user may seed but not download (announces with bytes left are refused). Left out: true.
   * Catalogues keep the optional fields below as given: left out stays left out.
   */
  canLeech?: boolean;
  /** Personal freeleech until this Unix time (seconds): no download is counted before it. Left out or 0: none. */
  freeleechUntil?: number;
  /** Most torrents downloading at once (a new download beyond is refused). Left out or 0: no limit. */
  downloadSlots?: number;
  /**
   * The user's freeleech tokens by torrent id, as userByPasskey answers it for the announce (left out:
   * none). Not part of a user as put: tokens have their own calls (putToken, deleteToken).
   */
  tokens?: ReadonlyMap<number, FreeleechToken>;
}

/**
 * A freeleech token: the user's download on one torrent is not counted while it holds, until `until`
 * or until the user completes the torrent, whichever comes first.
 */
export interface FreeleechToken {
  torrentId: number;
  /** The torrent's info hash (its v1 hash for a hybrid), as the API names the token. */
  infoHash: Buffer;
  /** Unix seconds the token ends at; 0: only completing the torrent ends it. */
  until: number;
}

/** Most tokens one user holds at once: they ride in the user's cached entry. */
export const MAX_TOKENS_PER_USER = 1000;

export interface TorrentEntry {
  infoHash: Buffer;
  /**
   * A hybrid (BEP 52) torrent's second info hash: its SHA-256 info hash truncated to 20 bytes. Announces
   * and scrapes on it are served under this torrent (same id, terms and accounting), in a swarm of its own.
   */
  infoHashV2?: Buffer;
  /** The site's torrent id, 1 .. 2^53-1. */
  id: number;
  upMultiplier: number;
  downMultiplier: number;
  freeleech: boolean;
}

export interface ClientEntry {
  /** Leading bytes of the peer_id, e.g. "-qB46" (Azureus style) or "M7-" (Shadow/Mainline style). */
  prefix: string;
  name: string;
  /**
   * "deny": peer_ids it matches are refused, whether or not approved_clients_only is on. Left out: allow
   * (an approved client). A peer_id matched by several prefixes follows the longest.
   */
  action?: 'allow' | 'deny';
}

export type HashList = 'allow' | 'deny';

/** What a deleted torrent's announces are told instead of "unregistered torrent", and for how long. */
export interface DeletionReason {
  text: string;
  ttlSeconds: number;
}

/** Longest deletion reason: a failure reason is one line for a person to read. */
export const MAX_DELETION_REASON = 200;

export class CatalogueConflict extends Error {}

/** The kinds of items a bulk sync reconciles. */
export type SyncKind = 'users' | 'torrents';

/** Most items of one bulk put (PUT /users, PUT /torrents). */
export const MAX_BULK_ITEMS = 10_000;

/** A bulk sync named that is unknown (never begun, finished, or idle past its time). */
export class UnknownSync extends Error {}

/** A write that would pass a bound of the catalogue (MAX_TOKENS_PER_USER); nothing was changed. */
export class CatalogueLimit extends Error {}

export interface Catalogue {
  userByPasskey(passkey: string): Promise<User | null>;
  /**
   * The client entry of the longest prefix `peerId` starts with, or null. Synchronous: served from memory
   * (a remote store throws until it has loaded the entries once).
   */
  clientRule(peerId: Buffer): ClientEntry | null;
  /** Whether some entry denies: otherwise an announce needs no lookup unless approved_clients_only is on. False while not loaded. */
  deniesClients(): boolean;
  globalFreeleech(): boolean;
  /**
   * The info hash of the hybrid torrent whose v2 hash `infoHash` is, when known without I/O (a remote
   * store may not know it yet); undefined otherwise. Optional: a catalogue without it counts a hybrid's
   * two hashes apart where that matters (download slots).
   */
  torrentHashOf?(infoHash: Buffer): Buffer | undefined;

  getUser(id: number): Promise<User | null>;
  putUser(user: User): Promise<void>;
  deleteUser(id: number): Promise<boolean>;
  /**
   * Bulk: puts every user (at most MAX_BULK_ITEMS; distinct ids and passkeys, which the caller checked)
   * in one step per driver. A passkey held by a user outside the batch is a CatalogueConflict, and then
   * nothing is written. With `sync`, the users count as put during that sync (finishSync).
   */
  putUsers(users: readonly User[], sync?: string): Promise<void>;
  /** Users by id, ascending, with ids above `after`, at most `limit`. */
  listUsers(after: number, limit: number): Promise<User[]>;

  /** The user's tokens, by torrent id; null when there is no such user. */
  listTokens(userId: number): Promise<FreeleechToken[] | null>;
  /**
   * Gives (or replaces) the user's token on `token.torrentId`. The caller checked that the user and the
   * torrent exist; a user already holding MAX_TOKENS_PER_USER others is a CatalogueLimit.
   */
  putToken(userId: number, token: FreeleechToken): Promise<void>;
  /** Takes the token back (or ends it: the tracker calls this when one is used up); false when there was none. */
  deleteToken(userId: number, torrentId: number): Promise<boolean>;

  /** The torrent registered under this hash, or under it as its `infoHashV2`. */
  getTorrent(infoHash: Buffer): Promise<TorrentEntry | null>;
  /**
   * Registers (or replaces) a torrent under `infoHash` and, if given, `infoHashV2`. A hash already
   * registered to another torrent (as either of its hashes) is a CatalogueConflict.
   */
  putTorrent(torrent: TorrentEntry): Promise<void>;
  /**
   * Deletes the torrent registered under `infoHash` (its `infoHash`, not its v2 hash), and its v2 hash.
   * With a reason, both hashes remember it for `reason.ttlSeconds` (deletionReason), unless registered again.
   */
  deleteTorrent(infoHash: Buffer, reason?: DeletionReason): Promise<boolean>;
  /**
   * Bulk: registers every torrent (at most MAX_BULK_ITEMS; distinct hashes, v2 hashes included, which
   * the caller checked) in one step per driver. A hash registered to a torrent outside the batch (as
   * either of its hashes) is a CatalogueConflict, and then nothing is written. With `sync`, as putUsers.
   */
  putTorrents(torrents: readonly TorrentEntry[], sync?: string): Promise<void>;
  /** Registered torrents by info hash in byte order, with hashes above `after` (null: from the first), at most `limit`. */
  listTorrents(after: Buffer | null, limit: number): Promise<TorrentEntry[]>;

  /**
   * Begins a bulk sync of users or torrents: items put with its id (putUsers, putTorrents) are the
   * set; finishSync with `replace` then deletes the others. A sync idle for an hour is forgotten.
   */
  beginSync(kind: SyncKind): Promise<string>;
  /** Whether this sync is still open. */
  hasSync(kind: SyncKind, id: string): Promise<boolean>;
  /**
   * Ends a sync. With `replace`, every item of its kind not put during it is deleted (a torrent without
   * a deletion reason). Throws UnknownSync for a sync that is not open.
   */
  finishSync(kind: SyncKind, id: string, replace: boolean): Promise<{ kept: number; removed: number }>;
  /**
   * Why the torrent under this hash (either of a hybrid's) was deleted, while remembered; null otherwise.
   * Read only for an announce refused as unregistered, so it may cost a round trip.
   */
  deletionReason(infoHash: Buffer): Promise<string | null>;

  listClients(): Promise<ClientEntry[]>;
  putClient(client: ClientEntry): Promise<void>;
  deleteClient(prefix: string): Promise<boolean>;

  listHashes(list: HashList): Promise<Buffer[]>;
  addHash(list: HashList, infoHash: Buffer): Promise<void>;
  removeHash(list: HashList, infoHash: Buffer): Promise<boolean>;

  setGlobalFreeleech(on: boolean): Promise<void>;
}

/** Longest approved-client prefix: a peer_id has 20 bytes. */
export const MAX_CLIENT_PREFIX = 20;

/** Prefix matching over a sorted-by-nothing small list; approved lists hold tens of entries. */
/** Client entries ready for the hot path: their prefixes as bytes, longest first. */
export class ClientRules {
  private readonly rules: Array<{ bytes: Buffer; entry: ClientEntry }>;
  readonly denies: boolean;

  constructor(entries: Iterable<ClientEntry>) {
    this.rules = [...entries].map((entry) => ({ bytes: Buffer.from(entry.prefix, 'latin1'), entry })).sort((a, b) => b.bytes.length - a.bytes.length);
    this.denies = this.rules.some((rule) => rule.entry.action === 'deny');
  }

  /** The entry of the longest prefix the peer_id starts with, or null. */
  match(peerId: Buffer): ClientEntry | null {
    for (const { bytes, entry } of this.rules) {
      if (bytes.length <= peerId.length && peerId.compare(bytes, 0, bytes.length, 0, bytes.length) === 0) return entry;
    }
    return null;
  }
}
