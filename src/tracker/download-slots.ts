/**
 * Private mode: download slots (a user's `download_slots`): at most N torrents downloading at once. A
 * torrent takes a slot from the user's first announce on it with bytes left, and gives it back on
 * `stopped`, on an announce as a seeder, or after peer_ttl without announces. Only a `started` announce
 * (a new download) is refused past the limit: an announce of a download already under way passes and is
 * counted, so slots set on a user who is downloading never cut a download short.
 *
 * Counted in the store's user ledger, in process: no round trip on the announce. Across replicas of a
 * shared store the others' counts arrive within about a second, so a user starting downloads on K
 * replicas in the same second may pass the limit by up to K-1.
 */
import type { AnnounceEvent } from '../bittorrent/announce.js';
import { ClientError } from '../bittorrent/errors.js';
import type { Catalogue, User } from '../store/catalogue.js';
import type { UserLedger } from '../store/user-ledger.js';

/** What take() noted: the slot's member and whether this announce added it. */
export interface TakenSlot {
  member: string;
  added: boolean;
}

export class DownloadSlots {
  constructor(
    private readonly ledger: UserLedger,
    private readonly catalogue: Catalogue,
    /** Seconds a slot is held after its torrent's last announce: peer_ttl, as long as the peer is. */
    private readonly windowSeconds: number,
  ) {}

  /**
   * Before the store's step: takes (or refreshes) the torrent's slot, or throws the refusal of a new
   * download past the user's slots; gives the slot back on a stop or a seeder's announce.
   */
  take(user: User, infoHash: Buffer, left: number | undefined, event: AnnounceEvent): TakenSlot | undefined {
    const slots = user.downloadSlots ?? 0;
    if (slots <= 0) return undefined;
    const member = this.memberOf(infoHash);
    if (event === 'stopped' || left === 0) {
      this.ledger.forget(user.id, member);
      return undefined;
    }
    const verdict = this.ledger.note(user.id, member, { windowSeconds: this.windowSeconds, limit: slots, enforce: event === 'started' });
    if (verdict.refused) {
      throw new ClientError(`your account is downloading ${verdict.count} torrents already, the most its download slots allow: finish or stop one first`);
    }
    return { member, added: verdict.added };
  }

  /**
   * After the store's step: a refused announce gives back the slot it took; a hybrid torrent's v2 hash
   * whose torrent became known meanwhile (the redis driver learns it from its first announce) moves
   * its slot to the torrent's hash, so the torrent's two hashes hold one slot.
   */
  settle(user: User, infoHash: Buffer, taken: TakenSlot | undefined, refused: boolean): void {
    if (!taken) return;
    if (refused) {
      if (taken.added) this.ledger.forget(user.id, taken.member);
      return;
    }
    const member = this.memberOf(infoHash);
    if (member === taken.member) return;
    this.ledger.forget(user.id, taken.member);
    this.ledger.note(user.id, member, { windowSeconds: this.windowSeconds, limit: 0, enforce: false });
  }

  /** The torrent's info hash for a hybrid's v2 hash, when the catalogue knows it without I/O. */
  private memberOf(infoHash: Buffer): string {
    return (this.catalogue.torrentHashOf?.(infoHash) ?? infoHash).toString('hex');
  }
}
