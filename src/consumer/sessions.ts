/**
 * Credits from cumulative counters, active peers and seed time, in the batch's transaction (so exactly
 * once, as the totals are).
 *
 * Each record of a private peer carries the totals it reported and its accounting session
 * (src/tracker/session.ts): the epoch (one run of its counters), the announce's seq in it, and the base
 * its counters count from. The consumer keeps each run's high-water mark of the totals it credited and
 * credits what a record's totals pass it by, at the record's multipliers. So a record lost between the
 * tracker and the stream is covered by the session's next one, a record applied twice, retried under
 * another id or late credits nothing more, and the sums are the same in any order.
 *
 * Where the marks live: the session's live epoch's on its active_peers row (one row read and written
 * per session and batch, as before the marks existed); every other epoch's in peer_sessions, read only
 * for the records that need it: an epoch new to the consumer, a late record of an older epoch. An epoch
 * leaves the row for peer_sessions when it stops (`stopped_seq`, a tombstone: its older records make no
 * row again), when another replaces it, and when the row expires.
 *
 * An open epoch (the tracker did not know the peer: its totals expired, or Redis or the memory driver
 * lost them) continues the session's latest epoch when its totals have not gone below that epoch's
 * marks: the older epoch then `continues` into it and shares its marks, so nothing the session reported
 * before is credited twice and nothing after is lost. Otherwise, and with no epoch known, an epoch
 * counts from its base, as the tracker does. Records of older versions, without a session, credit their
 * own deltas.
 *
 * Active peers and seed time: the records are replayed in announce order on the session's row (within
 * an epoch by seq: the tracker numbered them in their true order, and replicas' clocks differ). Seed
 * time is the time between consecutive announces of a peer that was seeding at the first of the two,
 * each gap capped at the interval that peer was told plus `seedGraceSeconds`.
 */
import { createHash } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { creditedBytes, type AccountingRecord } from '../backend/driver.js';

export interface PeerOptions {
  /** Added to the interval a peer was told, at most, per gap of seed time. */
  seedGraceSeconds: number;
  /** A row older than this is no peer any more: its next announce starts afresh. */
  peerTtlSeconds: number;
  /**
   * Unix ms until which an open epoch of a session the consumer never saw counts from 0 instead of its
   * base: set after Redis lost the stream, whose unread part may have held every record of sessions
   * that began just before (their totals were lost with it, so the tracker reopened them).
   */
  unknownFromZeroUntil?: number;
}

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

export interface SessionsOutcome {
  /** The records with their credit as the marks decided (a record without a session as it came). */
  records: AccountingRecord[];
  recovery: Recovery;
  /** Seed time to add per user and torrent (after their user_torrents rows exist). */
  seedTime: Array<{ userId: number; torrentId: number; ms: number }>;
}

/** Marks: the highest totals credited so far in a run of counters, and whether its snatch was counted. */
interface Marks {
  upMark: number;
  downMark: number;
  /** The session's snatch is counted (once per life of the peer, from whichever record says it completed). */
  snatchCounted: boolean;
  /** The latest record time, for choosing what an open epoch continues. */
  lastTime: number;
}

/** An active_peers row: what a site shows, and the live epoch's marks. */
interface PeerRow extends Marks {
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
}

/** A peer_sessions row: an epoch that is not the live one. */
interface EpochRow extends Marks {
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
interface Session {
  userId: number;
  torrentId: number;
  peerId: Buffer;
  row: PeerRow | null;
  existed: boolean;
  epochs: Map<string, EpochRow>;
  records: AccountingRecord[];
}

/** stopped_seq of an epoch stopped by one that continued it: every record of it is older than the stop. */
const ENDED = 2 ** 31 - 1;
/**
 * The name of a peer_sessions row that stands for every epoch older than an open one counted from 0
 * (they continue into it); no epoch is named so (the tracker names them by record ids).
 */
const COVERED = '*';
/** Longest client prefix kept: Azureus style "-qB4630-" is 8 bytes. */
const CLIENT_PREFIX = 8;

/** The client part of a peer_id: "-XX1234-" (Azureus style), or its leading printable bytes (at most 8). */
export function clientOf(peerId: Buffer): string {
  if (peerId.length >= CLIENT_PREFIX && peerId[0] === 0x2d && peerId[CLIENT_PREFIX - 1] === 0x2d) return peerId.toString('latin1', 0, CLIENT_PREFIX);
  let end = 0;
  while (end < Math.min(peerId.length, CLIENT_PREFIX) && peerId[end]! >= 0x20 && peerId[end]! < 0x7f) end++;
  return peerId.toString('latin1', 0, end);
}

const sessionKey = (userId: number, torrentId: number, peerId: Buffer): string => `${userId}:${torrentId}:${peerId.toString('hex')}`;

/** A session's advisory lock: 63 bits of its key's SHA-1, as a decimal string (bigint). */
function lockOf(key: string): string {
  return (createHash('sha1').update(key).digest().readBigUInt64BE(0) >> 1n).toString();
}

const LOCK_SESSIONS = 'SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k ORDER BY k';

const SELECT_PEERS = `
SELECT user_id, torrent_id, peer_id, host(ipv4) AS ipv4, host(ipv6) AS ipv6, port, client, uploaded, downloaded, "left", seeder,
  announce_interval, (extract(epoch FROM first_announce) * 1000)::bigint AS first_ms, (extract(epoch FROM last_announce) * 1000)::bigint AS last_ms,
  epoch, seq, up_mark, down_mark, snatch_counted
FROM active_peers
WHERE (user_id, torrent_id, peer_id) IN (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[]))
ORDER BY user_id, torrent_id, peer_id
FOR UPDATE`;

const UPSERT_PEERS = `
INSERT INTO active_peers AS p (user_id, torrent_id, peer_id, ipv4, ipv6, port, client, uploaded, downloaded, "left", seeder, announce_interval,
  first_announce, last_announce, epoch, seq, up_mark, down_mark, snatch_counted)
SELECT x.u, x.t, x.p, x.ip4::inet, x.ip6::inet, x.port, x.client, x.up, x.down, x.rest, x.seeder, x.iv, to_timestamp(x.first / 1000.0),
  to_timestamp(x.last / 1000.0), x.epoch, x.seq, x.upm, x.downm, x.sn
FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::text[], $5::text[], $6::int[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[],
  $11::boolean[], $12::int[], $13::bigint[], $14::bigint[], $15::text[], $16::int[], $17::bigint[], $18::bigint[], $19::boolean[])
  AS x(u, t, p, ip4, ip6, port, client, up, down, rest, seeder, iv, first, last, epoch, seq, upm, downm, sn)
ON CONFLICT (user_id, torrent_id, peer_id) DO UPDATE SET
  ipv4 = EXCLUDED.ipv4, ipv6 = EXCLUDED.ipv6, port = EXCLUDED.port, client = EXCLUDED.client, uploaded = EXCLUDED.uploaded,
  downloaded = EXCLUDED.downloaded, "left" = EXCLUDED."left", seeder = EXCLUDED.seeder, announce_interval = EXCLUDED.announce_interval,
  first_announce = EXCLUDED.first_announce, last_announce = EXCLUDED.last_announce, epoch = EXCLUDED.epoch, seq = EXCLUDED.seq,
  up_mark = EXCLUDED.up_mark, down_mark = EXCLUDED.down_mark, snatch_counted = EXCLUDED.snatch_counted`;

const DELETE_PEERS = `
DELETE FROM active_peers WHERE (user_id, torrent_id, peer_id) IN (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[]))`;

const SELECT_EPOCHS = `
SELECT user_id, torrent_id, peer_id, epoch, continues, up_mark, down_mark, last_seq, last_time, stopped_seq, snatch_counted
FROM peer_sessions
WHERE (user_id, torrent_id, peer_id) IN (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[]))
FOR UPDATE`;

const UPSERT_EPOCHS = `
INSERT INTO peer_sessions AS s (user_id, torrent_id, peer_id, epoch, continues, up_mark, down_mark, last_seq, last_time, stopped_seq, snatch_counted, updated_at)
SELECT x.u, x.t, x.p, x.e, x.c, x.up, x.down, x.seq, x.ms, x.stop, x.sn, now()
FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::int[], $9::bigint[], $10::int[], $11::boolean[])
  AS x(u, t, p, e, c, up, down, seq, ms, stop, sn)
ON CONFLICT (user_id, torrent_id, peer_id, epoch) DO UPDATE SET
  continues = EXCLUDED.continues, up_mark = EXCLUDED.up_mark, down_mark = EXCLUDED.down_mark, last_seq = EXCLUDED.last_seq,
  last_time = EXCLUDED.last_time, stopped_seq = EXCLUDED.stopped_seq, snatch_counted = EXCLUDED.snatch_counted, updated_at = now()`;

/** Reads the batch's sessions, credits each record from the marks, replays it on its session's row, writes back. */
export async function applySessions(db: PoolClient, records: AccountingRecord[], options: PeerOptions): Promise<SessionsOutcome> {
  const recovery = emptyRecovery();
  if (records.length === 0) return { records, recovery, seedTime: [] };
  const sessions = new Map<string, Session>();
  for (const r of records) {
    const key = sessionKey(r.userId, r.torrentId, r.peerId);
    let session = sessions.get(key);
    if (!session)
      sessions.set(key, (session = { userId: r.userId, torrentId: r.torrentId, peerId: r.peerId, row: null, existed: false, epochs: new Map(), records: [] }));
    session.records.push(r);
  }
  // Sorted, so that concurrent consumers take their locks in the same order.
  const keys = [...sessions.keys()].sort();
  const list = keys.map((key) => sessions.get(key)!);
  const columns = (of: Session[]) => [of.map((s) => s.userId), of.map((s) => s.torrentId), of.map((s) => s.peerId)];
  // Two consumers may hold records of one session at once, and a session new to both has no row to lock
  // yet: each takes a transaction lock per session first (ORDER BY: one order), so the second computes
  // from the first's marks (a hash collision only makes two sessions wait for each other).
  if (records.some((r) => r.session)) await db.query(LOCK_SESSIONS, [[...new Set(keys.map(lockOf))]]);
  for (const row of (await db.query<Record<string, unknown>>(SELECT_PEERS, columns(list))).rows) {
    const session = sessions.get(sessionKey(Number(row.user_id), Number(row.torrent_id), row.peer_id as Buffer))!;
    session.row = peerRowOf(row);
    session.existed = true;
  }
  // Epochs other than the live one are read only for the sessions whose records need them.
  const needEpochs = list.filter((s) => s.records.some((r) => r.session && (!s.row?.marked || r.session.epoch !== s.row.epoch)));
  if (needEpochs.length > 0) {
    for (const row of (await db.query<Record<string, unknown>>(SELECT_EPOCHS, columns(needEpochs))).rows) {
      const epoch = epochRowOf(row);
      sessions.get(sessionKey(Number(row.user_id), Number(row.torrent_id), row.peer_id as Buffer))!.epochs.set(epoch.epoch, epoch);
    }
  }

  const credited = new Map<AccountingRecord, AccountingRecord>();
  const seedTime = new Map<string, { userId: number; torrentId: number; ms: number }>();
  const ttlMs = options.peerTtlSeconds * 1000;
  for (const session of list) {
    // Announce order; on a tie, by seq, then the stop last.
    session.records.sort(
      (a, b) => a.time - b.time || (a.session?.seq ?? 0) - (b.session?.seq ?? 0) || Number(a.event === 'stopped') - Number(b.event === 'stopped'),
    );
    let seedMs = 0;
    for (const r of session.records) {
      if (r.session) {
        const c = credit(session, r, recovery, options.unknownFromZeroUntil ?? 0);
        credited.set(r, c);
      }
      seedMs += replay(session, r, ttlMs, options.seedGraceSeconds);
    }
    if (seedMs > 0) {
      const pair = `${session.userId}:${session.torrentId}`;
      const sum = seedTime.get(pair) ?? { userId: session.userId, torrentId: session.torrentId, ms: 0 };
      sum.ms += Math.round(seedMs);
      seedTime.set(pair, sum);
    }
  }

  const written = list.filter((s) => s.row);
  if (written.length > 0) {
    const rows = written.map((s) => s.row!);
    await db.query(UPSERT_PEERS, [
      ...columns(written),
      rows.map((p) => p.ipv4),
      rows.map((p) => p.ipv6),
      rows.map((p) => p.port),
      rows.map((p) => p.client),
      rows.map((p) => p.uploaded),
      rows.map((p) => p.downloaded),
      rows.map((p) => p.left),
      rows.map((p) => p.seeder),
      rows.map((p) => p.interval),
      rows.map((p) => p.first),
      rows.map((p) => p.last),
      rows.map((p) => p.epoch),
      rows.map((p) => p.seq),
      rows.map((p) => (p.marked ? p.upMark : null)),
      rows.map((p) => (p.marked ? p.downMark : null)),
      rows.map((p) => p.snatchCounted),
    ]);
  }
  const gone = list.filter((s) => s.existed && !s.row);
  if (gone.length > 0) await db.query(DELETE_PEERS, columns(gone));
  const epochs = list.flatMap((s) => [...s.epochs.values()].filter((e) => e.changed).map((e) => ({ s, e })));
  if (epochs.length > 0) {
    await db.query(UPSERT_EPOCHS, [
      epochs.map(({ s }) => s.userId),
      epochs.map(({ s }) => s.torrentId),
      epochs.map(({ s }) => s.peerId),
      epochs.map(({ e }) => e.epoch),
      epochs.map(({ e }) => e.continues),
      epochs.map(({ e }) => e.upMark),
      epochs.map(({ e }) => e.downMark),
      epochs.map(({ e }) => e.lastSeq),
      epochs.map(({ e }) => e.lastTime),
      epochs.map(({ e }) => e.stoppedSeq),
      epochs.map(({ e }) => e.snatchCounted),
    ]);
  }
  const seeds = [...seedTime.values()].sort((a, b) => a.userId - b.userId || a.torrentId - b.torrentId);
  return { records: records.map((r) => credited.get(r) ?? r), recovery, seedTime: seeds };
}

/** Where an epoch's marks are: the live row, or an epoch row at the end of its `continues`; null when unknown. */
function marksOf(session: Session, epoch: string): Marks | null {
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
function retireLive(session: Session, stoppedSeq: number | null, continues: string | null = null): void {
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
function credit(session: Session, r: AccountingRecord, recovery: Recovery, unknownFromZeroUntil: number): AccountingRecord {
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

/**
 * Replays a record on its session's active_peers row; returns the seed time it adds. A record of an
 * epoch whose stop came after it, or older than the row, changes nothing.
 */
function replay(session: Session, r: AccountingRecord, ttlMs: number, seedGraceSeconds: number): number {
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

function peerRowOf(row: Record<string, unknown>): PeerRow {
  const marked = row.up_mark !== null && row.up_mark !== undefined && typeof row.epoch === 'string';
  return {
    ipv4: (row.ipv4 as string | null) ?? null,
    ipv6: (row.ipv6 as string | null) ?? null,
    port: Number(row.port),
    client: String(row.client),
    uploaded: Number(row.uploaded),
    downloaded: Number(row.downloaded),
    left: Number(row.left),
    seeder: row.seeder === true,
    interval: Number(row.announce_interval),
    first: Number(row.first_ms),
    last: Number(row.last_ms),
    epoch: typeof row.epoch === 'string' ? row.epoch : null,
    seq: row.seq === null || row.seq === undefined ? null : Number(row.seq),
    marked,
    upMark: marked ? Number(row.up_mark) : 0,
    downMark: marked ? Number(row.down_mark) : 0,
    snatchCounted: row.snatch_counted === true,
    lastTime: Number(row.last_ms),
  };
}

function epochRowOf(row: Record<string, unknown>): EpochRow {
  return {
    epoch: String(row.epoch as string),
    continues: typeof row.continues === 'string' ? row.continues : null,
    upMark: Number(row.up_mark),
    downMark: Number(row.down_mark),
    lastSeq: Number(row.last_seq),
    lastTime: Number(row.last_time),
    stoppedSeq: row.stopped_seq === null ? null : Number(row.stopped_seq),
    snatchCounted: row.snatch_counted === true,
    changed: false,
  };
}

/**
 * Deletes active_peers rows older than the peer TTL, a bounded chunk per statement; the marks of their
 * epochs move to peer_sessions, for a peer that comes back without its totals (an open epoch).
 */
export async function pruneActivePeers(db: Pool, peerTtlSeconds: number): Promise<number> {
  const { rows } = await db.query(
    `WITH gone AS (
       DELETE FROM active_peers WHERE ctid IN (SELECT ctid FROM active_peers WHERE last_announce < now() - make_interval(secs => $1) LIMIT 10000)
       RETURNING user_id, torrent_id, peer_id, epoch, seq, up_mark, down_mark, snatch_counted, last_announce
     ), moved AS (
       INSERT INTO peer_sessions AS s (user_id, torrent_id, peer_id, epoch, continues, up_mark, down_mark, last_seq, last_time, stopped_seq, snatch_counted, updated_at)
       SELECT user_id, torrent_id, peer_id, epoch, NULL, up_mark, down_mark, coalesce(seq, 0), (extract(epoch FROM last_announce) * 1000)::bigint, NULL, snatch_counted, now()
       FROM gone WHERE epoch IS NOT NULL AND up_mark IS NOT NULL
       ON CONFLICT (user_id, torrent_id, peer_id, epoch) DO UPDATE SET up_mark = EXCLUDED.up_mark, down_mark = EXCLUDED.down_mark, updated_at = now()
     )
     SELECT count(*)::int AS n FROM gone`,
    [peerTtlSeconds],
  );
  return Number((rows[0] as { n?: number } | undefined)?.n ?? 0);
}

/** Deletes session marks not touched for `olderThanSeconds`, a bounded chunk per statement (a scan: no index slows every write). */
export async function pruneSessions(db: Pool, olderThanSeconds: number): Promise<number> {
  const { rowCount } = await db.query(
    'DELETE FROM peer_sessions WHERE ctid IN (SELECT ctid FROM peer_sessions WHERE updated_at < now() - make_interval(secs => $1) LIMIT 10000)',
    [olderThanSeconds],
  );
  return rowCount ?? 0;
}
