/**
 * A batch of records summed per user, per torrent and per user and torrent, so that a batch costs one
 * upsert per row touched instead of one per record. Sums are BigInt: a batch of safe integers can
 * add up past 2^53.
 */
import type { AccountingRecord } from '../backend/driver.js';

export interface UserTotals {
  userId: number;
  uploaded: bigint;
  downloaded: bigint;
}

export interface TorrentTotals {
  torrentId: number;
  snatches: bigint;
}

export interface PairTotals {
  userId: number;
  torrentId: number;
  uploaded: bigint;
  downloaded: bigint;
  rawUploaded: bigint;
  rawDownloaded: bigint;
  snatched: boolean;
  announces: number;
  /** The batch's latest announce of this pair (by announce time; the later entry on a tie). */
  last: AccountingRecord;
}

export interface Aggregate {
  /** Each list sorted by its key, so that concurrent consumers lock rows in the same order (no deadlocks). */
  users: UserTotals[];
  torrents: TorrentTotals[];
  pairs: PairTotals[];
}

export function aggregate(records: AccountingRecord[]): Aggregate {
  const users = new Map<number, UserTotals>();
  const torrents = new Map<number, TorrentTotals>();
  const pairs = new Map<string, PairTotals>();
  for (const r of records) {
    let user = users.get(r.userId);
    if (!user) users.set(r.userId, (user = { userId: r.userId, uploaded: 0n, downloaded: 0n }));
    user.uploaded += BigInt(r.uploaded);
    user.downloaded += BigInt(r.downloaded);

    let torrent = torrents.get(r.torrentId);
    if (!torrent) torrents.set(r.torrentId, (torrent = { torrentId: r.torrentId, snatches: 0n }));
    if (r.snatched) torrent.snatches++;

    const key = `${r.userId}:${r.torrentId}`;
    let pair = pairs.get(key);
    if (!pair) {
      pair = {
        userId: r.userId,
        torrentId: r.torrentId,
        uploaded: 0n,
        downloaded: 0n,
        rawUploaded: 0n,
        rawDownloaded: 0n,
        snatched: false,
        announces: 0,
        last: r,
      };
      pairs.set(key, pair);
    }
    pair.uploaded += BigInt(r.uploaded);
    pair.downloaded += BigInt(r.downloaded);
    pair.rawUploaded += BigInt(r.rawUploaded);
    pair.rawDownloaded += BigInt(r.rawDownloaded);
    pair.snatched ||= r.snatched;
    pair.announces++;
    if (r.time >= pair.last.time) pair.last = r;
  }
  return {
    users: [...users.values()].sort((a, b) => a.userId - b.userId),
    torrents: [...torrents.values()].sort((a, b) => a.torrentId - b.torrentId),
    pairs: [...pairs.values()].sort((a, b) => a.userId - b.userId || a.torrentId - b.torrentId),
  };
}
