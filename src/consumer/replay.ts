/**
 * Active peers and seed time: a session's records replayed in announce order on its active_peers row
 * (within an epoch by totals, then seq: the tracker numbered them in their true order, and replicas'
 * clocks differ). Seed time is the time between consecutive announces of a peer that was seeding at the
 * first of the two, each gap capped at the interval that peer was told plus `seedGraceSeconds`.
 */
import type { AccountingRecord } from '../backend/driver.js';
import { ENDED, retireLive, type Marks, type PeerRow, type Session } from './marks.js';

/** Longest client prefix kept: Azureus style "-qB4630-" is 8 bytes. */
const CLIENT_PREFIX = 8;

/** The client part of a peer_id: "-XX1234-" (Azureus style), or its leading printable bytes (at most 8). */
export function clientOf(peerId: Buffer): string {
  if (peerId.length >= CLIENT_PREFIX && peerId[0] === 0x2d && peerId[CLIENT_PREFIX - 1] === 0x2d) return peerId.toString('latin1', 0, CLIENT_PREFIX);
  let end = 0;
  while (end < Math.min(peerId.length, CLIENT_PREFIX) && peerId[end]! >= 0x20 && peerId[end]! < 0x7f) end++;
  return peerId.toString('latin1', 0, end);
}

/**
 * Replays a record on its session's active_peers row; returns the seed time it adds. A record of an
 * epoch whose stop came after it, or older than the row, changes nothing.
 */
export function replay(session: Session, r: AccountingRecord, ttlMs: number, seedGraceSeconds: number): number {
  const s = r.session;
  let row = session.row;
  const live = s !== undefined && row?.marked === true && row.epoch === s.epoch;
  if (s && !live) {
    // Not the live epoch: a stop is remembered as its tombstone; the row, if any, is another run's.
    if (r.event === 'stopped') {
      markStopped(session, s.epoch, r.time);
      return 0;
    }
    if (row?.marked) return 0; // a late record of an older run
  }
  if (s) {
    const epochRow = session.epochs.get(s.epoch);
    if (epochRow?.stoppedSeq != null && s.seq < epochRow.stoppedSeq) return 0; // before its epoch's stop: late
    // An epoch that went on under another name (an open epoch continued it) ended before that one began.
    if (epochRow && epochRow.continues !== null && !live) return 0;
  }
  if (row && olderThanRow(r, row)) return 0;
  if (row && r.time - row.last > ttlMs) {
    // The peer had expired: this is a new one (its marks stay with its epoch).
    row = { ...row, first: r.time, last: r.time, seeder: false };
  }
  let seedMs = 0;
  if (row?.seeder) seedMs = Math.max(0, Math.min(r.time - row.last, (row.interval + seedGraceSeconds) * 1000));
  if (r.event === 'stopped') {
    if (live) retireLive(session, ENDED);
    session.row = null;
    return seedMs;
  }
  // The marks of an epoch that waited for its row (no row when it opened) move onto the row.
  let marks: Marks | null = null;
  if (s && !live) {
    const epochRow = session.epochs.get(s.epoch);
    if (epochRow && epochRow.continues === null) {
      marks = epochRow;
      session.epochs.delete(s.epoch);
    }
  }
  session.row = {
    // A dual-stack peer announces over each family in turn: the row keeps both.
    ipv4: r.ipv4 || (row?.ipv4 ?? null),
    ipv6: r.ipv6 || (row?.ipv6 ?? null),
    port: r.port ?? 0,
    client: clientOf(r.peerId),
    uploaded: r.reportedUploaded ?? 0,
    downloaded: r.reportedDownloaded ?? 0,
    left: r.left,
    seeder: r.left === 0,
    interval: r.interval ?? 0,
    first: row?.first ?? r.time,
    // Never backwards: a record of the same epoch can carry an earlier time (another replica's clock).
    last: Math.max(r.time, row?.last ?? 0),
    // A record of an older version (no session) keeps the row's epoch and marks.
    epoch: s?.epoch ?? row?.epoch ?? null,
    seq: s?.seq ?? row?.seq ?? null,
    marked: s === undefined ? row?.marked === true : marks !== null || live,
    upMark: marks?.upMark ?? row?.upMark ?? 0,
    downMark: marks?.downMark ?? row?.downMark ?? 0,
    snatchCounted: marks?.snatchCounted ?? row?.snatchCounted ?? false,
    // A record without it (not checked yet) keeps what was known of the same port; another port is unknown.
    connectable: r.connectable ?? (row && row.port === (r.port ?? 0) ? row.connectable : null),
    lastTime: Math.max(marks?.lastTime ?? row?.lastTime ?? 0, r.time),
  };
  return seedMs;
}

/** Records the stop of an epoch that is not the live one: its records make no row. */
function markStopped(session: Session, epoch: string, time: number): void {
  const row = session.epochs.get(epoch);
  if (row) {
    row.stoppedSeq = ENDED;
    row.changed = true;
    return;
  }
  // Its marks are another epoch's (it continued into it): only the tombstone is its own.
  session.epochs.set(epoch, {
    epoch,
    continues: null,
    upMark: 0,
    downMark: 0,
    lastTime: time,
    lastSeq: 0,
    stoppedSeq: ENDED,
    snatchCounted: false,
    changed: true,
  });
}

/**
 * Whether a record is older than the one its session's row shows. Across epochs by announce time. Within
 * one epoch its counters never go back, so larger or smaller totals tell the order; equal ones by seq, as
 * the tracker numbered them (replicas' clocks differ). Not by seq alone: a Redis that lost recent writes
 * (a failover) hands out seqs again, so a newer record can carry a smaller one. A stop is never older: it
 * is its epoch's last announce.
 */
function olderThanRow(r: AccountingRecord, row: PeerRow): boolean {
  if (!r.session || row.epoch !== r.session.epoch || row.seq === null) return r.time < row.last;
  if (r.event === 'stopped') return false;
  const up = r.reportedUploaded ?? 0;
  const down = r.reportedDownloaded ?? 0;
  if (up > row.uploaded || down > row.downloaded) return false;
  if (up < row.uploaded || down < row.downloaded) return true;
  return r.session.seq <= row.seq;
}
