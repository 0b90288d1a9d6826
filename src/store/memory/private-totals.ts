/**
 * Private mode's totals in the memory driver: the totals each peer (torrent, user, peer_id) reported
 * last, with its accounting session, in the order they were touched (for expiry), and the live peers
 * per torrent and user (for the per-user peer limit). The same rules as the redis driver's totals
 * script (src/store/session.ts numbers the sessions for both). The records a snapshot restored stay
 * packed (packed-totals.ts) until their peer announces: all of them older than any record touched
 * since, so they expire, and are written, before the live ones.
 */
import type { AnnounceEvent } from '../../bittorrent/announce.js';
import type { SwarmAccess } from '../driver.js';
import { nextSession } from '../session.js';
import type { PackedTotals } from './packed-totals.js';
import { AgeList, TotalsRecord, type TotalsSwap } from './swarm.js';

export class PrivateTotals {
  private readonly records = new Map<string, TotalsRecord>();
  private readonly ages = new AgeList<TotalsRecord>();
  /** The records restored from a snapshot that no announce has touched since; null once none is left. */
  private restored: PackedTotals | null = null;
  /**
   * Private mode: live peers (totals records) per torrent and user, for the per-user peer limit. Kept
   * only once an announce has carried a limit: the configuration is fixed for the life of this store
   * (and of what it holds), and without a limit the map would cost about 100 bytes per private peer.
   */
  private readonly userPeers = new Map<string, number>();
  private counting = false;

  get size(): number {
    return this.records.size + (this.restored?.live ?? 0);
  }

  /** Whether live peers are counted per torrent and user (a snapshot keeps it: see userPeers). */
  get countingUserPeers(): boolean {
    return this.counting;
  }

  /** The records touched since the snapshot was loaded (or all of them without one), touched longest ago first. */
  oldestFirst(): Iterable<TotalsRecord> {
    return this.ages;
  }

  /** The records restored from a snapshot and untouched since, oldest first: older than all of oldestFirst(). */
  get packed(): PackedTotals | null {
    return this.restored;
  }

  /** Takes a snapshot's records, oldest first; into an empty store (otherwise each becomes an object here). */
  restore(packed: PackedTotals | null, countingUserPeers: boolean): void {
    this.counting ||= countingUserPeers;
    if (!packed || packed.live === 0) return;
    if (this.records.size > 0 || this.restored) {
      for (const i of packed.indices()) {
        const record = packed.record(i);
        if (this.records.has(record.key) || (this.restored !== null && this.restored.find(record.key) >= 0)) continue;
        this.records.set(record.key, record);
        this.ages.append(record);
        if (this.counting) this.countOwner(userPeersKey(record.key), 1);
      }
      return;
    }
    this.restored = packed;
    if (this.counting) for (const i of packed.indices()) this.countOwner(packed.owner(i), 1);
  }

  /**
   * Drops the records touched before cutoffTick, oldest first, at most `budget` of them: returns the
   * budget left, or -1 if it ran out first.
   */
  expire(cutoffTick: number, budget: number): number {
    const restored = this.restored;
    if (restored) {
      budget = restored.expire(cutoffTick, budget, (i) => {
        if (this.counting) this.countOwner(restored.owner(i), -1);
      });
      if (restored.live === 0) this.restored = null;
      if (budget < 0) return -1;
    }
    for (let record = this.ages.head; record && record.touched < cutoffTick; record = this.ages.head) {
      if (budget-- <= 0) return -1;
      this.drop(record);
    }
    return budget;
  }

  private countOwner(owner: string, by: number): void {
    const left = (this.userPeers.get(owner) ?? 0) + by;
    if (left > 0) this.userPeers.set(owner, left);
    else this.userPeers.delete(owner);
  }

  /**
   * Private mode: returns the totals this peer reported last (null if none) and keeps the new ones; the
   * same announce again (same id) gets the first answer back, snatch included. The WebRTC swarms swap
   * through here too (TotalsSwapper): one set of totals per (user, torrent, peer_id), whatever the transport.
   */
  swap(torrentKey: string, userId: number, peerId: Buffer, event: AnnounceEvent, access: SwarmAccess, tick: number): TotalsSwap | null {
    const key = totalsKey(torrentKey, userId, peerId);
    const announceId = access.announceId ?? '';
    let record = this.records.get(key);
    let restoredAt = -1;
    if (!record && this.restored) {
      restoredAt = this.restored.find(key);
      if (restoredAt >= 0) record = this.restored.record(restoredAt);
    }
    const limit = access.peerLimit ?? 0;
    if (limit > 0) this.counting = true;
    // A new peer beyond its user's limit: refused (null) before anything changes.
    if (!record && limit > 0 && event !== 'stopped' && (this.userPeers.get(userPeersKey(key)) ?? 0) >= limit) return null;
    if (record && announceId !== '' && record.announceId === announceId) {
      return {
        previous: record.previous(),
        retriedSnatch: record.snatched,
        ...(record.session ? { session: { ...record.session, completed: record.completed } } : {}),
      };
    }
    if (restoredAt >= 0) {
      // Touched now: live from here on, counted as before for its owner.
      this.restored!.take(restoredAt);
      if (this.restored!.live === 0) this.restored = null;
      this.records.set(key, record!);
      this.ages.append(record!);
    }
    const previous = record ? { uploaded: record.uploaded, downloaded: record.downloaded } : null;
    const reported = { uploaded: access.uploaded ?? 0, downloaded: access.downloaded ?? 0 };
    const session = nextSession(record?.session ?? null, previous, reported, event, announceId);
    if (event === 'stopped') {
      if (record) this.drop(record);
      return { previous, session: { ...session, completed: record?.completed ?? false } };
    }
    if (!record) {
      record = new TotalsRecord(key);
      this.records.set(key, record);
      this.ages.append(record);
      if (this.counting) {
        const owner = userPeersKey(key);
        this.userPeers.set(owner, (this.userPeers.get(owner) ?? 0) + 1);
      }
    } else {
      this.ages.moveToTail(record);
    }
    record.uploaded = reported.uploaded;
    record.downloaded = reported.downloaded;
    record.touched = tick;
    record.announceId = announceId;
    record.previousUploaded = previous ? previous.uploaded : -1;
    record.previousDownloaded = previous ? previous.downloaded : 0;
    record.snatched = false; // the caller sets it once the snatch is known
    record.session = session;
    return { previous, record, completedBefore: record.completed, session };
  }

  private drop(record: TotalsRecord): void {
    this.records.delete(record.key);
    this.ages.unlink(record);
    if (this.counting) this.countOwner(userPeersKey(record.key), -1);
  }
}

const totalsKeyBytes = Buffer.alloc(48);

/**
 * The totals map's key: the torrent's info hash (latin1), user id (as a double: exact for any integer id)
 * and peer id, 48 bytes in one flat latin1 string (a template string would be a tree of strings until
 * first hashed, and longer with the user id in decimal).
 */
function totalsKey(torrentKey: string, userId: number, peerId: Buffer): string {
  totalsKeyBytes.write(torrentKey, 0, 20, 'latin1');
  totalsKeyBytes.writeDoubleBE(userId, 20);
  const idLength = peerId.copy(totalsKeyBytes, 28, 0, 20);
  return totalsKeyBytes.toString('latin1', 0, 28 + idLength);
}

/** The torrent and user of a totals key (its first 28 bytes): whose peer it is. */
function userPeersKey(totalsKey: string): string {
  return totalsKey.slice(0, 28);
}
