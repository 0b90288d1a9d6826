/**
 * The credit rules: each record of a private peer carries the totals it reported and its accounting
 * session (src/store/session.ts): the epoch (one run of its counters), the announce's seq in it, and the
 * base its counters count from. The consumer keeps each run's high-water mark of the totals it credited
 * and credits what a record's totals pass it by, at the record's multipliers. So a record lost between the
 * tracker and the stream is covered by the session's next one, a record applied twice, retried under
 * another id or late credits nothing more, and the sums are the same in any order.
 *
 * An open epoch (the tracker did not know the peer: its totals expired, or Redis or the memory driver
 * lost them) continues the session's latest epoch when its totals have not gone below that epoch's
 * marks: the older epoch then `continues` into it and shares its marks, so nothing the session reported
 * before is credited twice and nothing after is lost. Otherwise, and with no epoch known, an epoch
 * counts from its base, as the tracker does.
 *
 * Pure functions on a batch's session state (sessions.ts reads and writes it).
 */
import { creditedBytes, type AccountingRecord } from '../backend/driver.js';

/** Bytes the marks credited beyond the records' own deltas (recovered), and below them (already credited), in raw bytes. */
export interface Recovery {
  records: number;
  uploaded: bigint;
  downloaded: bigint;
  suppressedRecords: number;
  suppressedUploaded: bigint;
  suppressedDownloaded: bigint;
}

export const emptyRecovery = (): Recovery => ({
  records: 0,
  uploaded: 0n,
  downloaded: 0n,
  suppressedRecords: 0,
  suppressedUploaded: 0n,
  suppressedDownloaded: 0n,
});

/** Marks: the highest totals credited so far in a run of counters, and whether its snatch was counted. */
export interface Marks {
  upMark: number;
  downMark: number;
  /** The session's snatch is counted (once per life of the peer, from whichever record says it completed). */
  snatchCounted: boolean;
  /** The latest record time, for choosing what an open epoch continues. */
  lastTime: number;
}

/** An active_peers row: what a site shows, and the live epoch's marks. */
export interface PeerRow extends Marks {
  ipv4: string | null;
  ipv6: string | null;
  port: number;
  client: string;
  uploaded: number;
  downloaded: number;
  left: number;
  seeder: boolean;
  interval: number;
  first: number;
  last: number;
  /** The live epoch and the seq of the record the row shows; null for a record without a session. */
  epoch: string | null;
  seq: number | null;
  /** False for a row of a record without a session (its marks mean nothing). */
  marked: boolean;
  /** The latest known connectability of the peer's port (a record carries it only once checked); null: unknown. */
  connectable: boolean | null;
}

/** A peer_sessions row: an epoch that is not the live one. */
export interface EpochRow extends Marks {
  epoch: string;
  /** The epoch whose marks this one shares (it continues into it), or null: the marks are its own. */
  continues: string | null;
  lastSeq: number;
  /**
   * Records of this epoch below this seq make no active_peers row; ENDED once it stopped (a stop is the
   * last announce of its epoch: the tracker opens a new one for the peer's next).
   */
  stoppedSeq: number | null;
  changed: boolean;
}

/** One session's state in the batch. */
export interface Session {
  userId: number;
  torrentId: number;
  peerId: Buffer;
  row: PeerRow | null;
  existed: boolean;
  epochs: Map<string, EpochRow>;
  records: AccountingRecord[];
}

/** stopped_seq of an epoch stopped by one that continued it: every record of it is older than the stop. */
export const ENDED = 2 ** 31 - 1;
/**
 * The name of a peer_sessions row that stands for every epoch older than an open one counted from 0
 * (they continue into it); no epoch is named so (the tracker names them by record ids).
 */
export const COVERED = '*';

/** Where an epoch's marks are: the live row, or an epoch row at the end of its `continues`; null when unknown. */
export function marksOf(session: Session, epoch: string): Marks | null {
  for (let name: string | null = epoch, hops = 0; name !== null && hops < 64; hops++) {
    if (session.row?.marked && session.row.epoch === name) return session.row;
    const row = session.epochs.get(name);
    if (!row) return null;
    if (row.continues === null) return row;
    name = row.continues;
  }
  return null;
}

/** Moves the live row's epoch and marks to peer_sessions (it stopped, expired, or another epoch replaces it). */
export function retireLive(session: Session, stoppedSeq: number | null, continues: string | null = null): void {
  const row = session.row;
  if (!row?.marked || row.epoch === null) return;
  const previous = session.epochs.get(row.epoch);
  session.epochs.set(row.epoch, {
    epoch: row.epoch,
    continues,
    upMark: row.upMark,
    downMark: row.downMark,
    lastTime: row.lastTime,
    lastSeq: Math.max(row.seq ?? 0, previous?.lastSeq ?? 0),
    stoppedSeq: stoppedSeq ?? previous?.stoppedSeq ?? null,
    snatchCounted: row.snatchCounted,
    changed: true,
  });
}

/** The credit of one record from its epoch's marks; opens the epoch where it is new. */
export function credit(session: Session, r: AccountingRecord, recovery: Recovery, unknownFromZeroUntil: number): AccountingRecord {
  const s = r.session!;
  const up = r.reportedUploaded ?? 0;
  const down = r.reportedDownloaded ?? 0;
  let marks = marksOf(session, s.epoch);
  if (!marks) marks = openEpoch(session, r, unknownFromZeroUntil);
  const rawUp = Math.max(0, up - marks.upMark);
  const rawDown = Math.max(0, down - marks.downMark);
  marks.upMark = Math.max(marks.upMark, up);
  marks.downMark = Math.max(marks.downMark, down);
  marks.lastTime = Math.max(marks.lastTime, r.time);
  const epochRow = session.epochs.get(s.epoch);
  if (epochRow) {
    epochRow.lastSeq = Math.max(epochRow.lastSeq, s.seq);
    epochRow.lastTime = Math.max(epochRow.lastTime, r.time);
    epochRow.changed = true;
  }
  if (marks !== session.row) (marks as EpochRow).changed = true;
  if (rawUp > r.rawUploaded || rawDown > r.rawDownloaded) {
    recovery.records++;
    recovery.uploaded += BigInt(Math.max(0, rawUp - r.rawUploaded));
    recovery.downloaded += BigInt(Math.max(0, rawDown - r.rawDownloaded));
  }
  if (rawUp < r.rawUploaded || rawDown < r.rawDownloaded) {
    recovery.suppressedRecords++;
    recovery.suppressedUploaded += BigInt(Math.max(0, r.rawUploaded - rawUp));
    recovery.suppressedDownloaded += BigInt(Math.max(0, r.rawDownloaded - rawDown));
  }
  // The snatch, once per life of the peer: from whichever record first says the peer completed.
  let snatched = false;
  if (s.completed ?? r.snatched) {
    snatched = !marks.snatchCounted;
    marks.snatchCounted = true;
  }
  return {
    ...r,
    snatched,
    rawUploaded: rawUp,
    rawDownloaded: rawDown,
    uploaded: creditedBytes(rawUp, r.upMultiplier ?? 1),
    downloaded: creditedBytes(rawDown, r.downMultiplier ?? 1),
  };
}

/**
 * An epoch the consumer meets for the first time. An open one whose totals are at or above the session's
 * latest marks continues them; otherwise it counts from its base. A newer epoch takes the live row (the
 * one it replaces keeps its marks in peer_sessions for its late records); an older one, late, does not.
 */
function openEpoch(session: Session, r: AccountingRecord, unknownFromZeroUntil: number): Marks {
  const s = r.session!;
  const up = r.reportedUploaded ?? 0;
  const down = r.reportedDownloaded ?? 0;
  const row = session.row;
  const liveMarked = row?.marked === true && row.epoch !== null;
  const covered = session.epochs.get(COVERED);
  if (covered && r.time < covered.lastTime && covered.continues !== null) {
    // Older than the open epoch that counted the session from 0: its bytes are in that epoch's count.
    session.epochs.set(s.epoch, { ...covered, epoch: s.epoch, lastSeq: s.seq, lastTime: r.time, changed: true });
    const marks = marksOf(session, s.epoch);
    if (marks) return marks;
  }
  if (s.open) {
    const latest = latestMarks(session);
    // Only a newer epoch continues: a late one (an older run's) must not take the later marks.
    if (latest && r.time >= latest.marks.lastTime && up >= latest.marks.upMark && down >= latest.marks.downMark) {
      if (latest.live) {
        // The live run goes on under a new epoch name: the old name continues into it.
        retireLive(session, null, s.epoch);
        row!.epoch = s.epoch;
        row!.seq = 0;
        return row!;
      }
      // An ended epoch's run goes on: it continues into this one, which takes the live row (or a row of its own).
      const ended = latest.marks as EpochRow;
      const own: EpochRow = {
        epoch: s.epoch,
        continues: null,
        upMark: ended.upMark,
        downMark: ended.downMark,
        lastTime: ended.lastTime,
        lastSeq: 0,
        stoppedSeq: null,
        snatchCounted: ended.snatchCounted,
        changed: true,
      };
      ended.continues = s.epoch;
      ended.changed = true;
      if (ended.stoppedSeq === null) ended.stoppedSeq = ENDED;
      return takeLive(session, own, r);
    }
  }
  // A life of the peer ends with its stop: a new epoch without a row (after the stop) counts a snatch of its
  // own; one that takes the row (a reset) goes on with the row's (takeLive), as the tracker's own rule.
  const own: EpochRow = {
    epoch: s.epoch,
    continues: null,
    upMark: s.baseUploaded,
    downMark: s.baseDownloaded,
    lastTime: 0,
    lastSeq: 0,
    stoppedSeq: null,
    snatchCounted: false,
    changed: true,
  };
  // Right after Redis lost the stream, an open epoch of a session never seen began before the loss: from 0.
  // It then covers every earlier record of the session, of whatever epoch, that reaches the consumer later
  // (one a replica still held at the loss): those continue into it (COVERED), or they would count twice.
  if (s.open && !row && session.epochs.size === 0 && r.time <= unknownFromZeroUntil) {
    own.upMark = 0;
    own.downMark = 0;
    session.epochs.set(COVERED, { ...own, epoch: COVERED, continues: s.epoch, lastTime: r.time, stoppedSeq: ENDED });
  }
  // A new epoch from its base: it replaces the live one if it is newer (a reset, a restart), else it is a late one.
  if (liveMarked && r.time < row!.last) {
    session.epochs.set(own.epoch, own);
    return own;
  }
  return takeLive(session, own, r);
}

/** Makes `own` the live epoch: the row's marks become its, the old live epoch goes to peer_sessions. */
function takeLive(session: Session, own: EpochRow, r: AccountingRecord): Marks {
  const row = session.row;
  if (row?.marked && row.epoch !== null && row.epoch !== own.epoch) retireLive(session, null);
  if (row) {
    row.epoch = own.epoch;
    row.seq = 0;
    row.marked = true;
    row.upMark = own.upMark;
    row.downMark = own.downMark;
    row.lastTime = own.lastTime;
    return row;
  }
  // No row yet (the replay makes it, unless the epoch is stopped): the marks wait in an epoch row until then.
  own.lastTime = Math.max(own.lastTime, r.time);
  session.epochs.set(own.epoch, own);
  return own;
}

/** The session's latest own marks (live row first), for an open epoch to continue. */
function latestMarks(session: Session): { marks: Marks; live: boolean } | null {
  let latest: { marks: Marks; live: boolean } | null = session.row?.marked && session.row.epoch !== null ? { marks: session.row, live: true } : null;
  for (const e of session.epochs.values()) {
    if (e.continues !== null) continue;
    if (!latest || e.lastTime > latest.marks.lastTime) latest = { marks: e, live: false };
  }
  return latest;
}
