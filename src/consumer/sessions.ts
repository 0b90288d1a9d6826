/**
 * Credits from cumulative counters (inside the batch's transaction). Each record of a private peer
 * carries the totals it reported and its accounting session (src/tracker/session.ts): the epoch (one
 * run of its counters), the announce's seq in it, and the base its counters count from. peer_sessions
 * keeps, per (user, torrent, peer_id, epoch), the high-water mark of the totals credited so far; a
 * record credits what its totals pass the mark by, at its own multipliers. So a record lost between the
 * tracker and the stream is covered by the session's next one, a record applied twice or late credits
 * nothing more, and the sum is the same whatever order the records come in.
 *
 * An open epoch (the tracker did not know the peer: its totals expired, or Redis lost them) continues
 * the session's latest epoch when its totals have not gone below that epoch's mark: its records then
 * move that mark (`continues`), so nothing the session reported before is credited twice and nothing
 * after is lost. Otherwise, and with no epoch known, it counts from its own base, as the tracker did.
 * Records of older versions, without a session, credit their own deltas.
 */
import { createHash } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { creditedBytes, type AccountingRecord } from '../backend/driver.js';

/** One row of peer_sessions. */
export interface SessionRow {
  userId: number;
  torrentId: number;
  peerId: Buffer;
  epoch: string;
  /** The epoch whose marks this open epoch moves, or null: the marks are its own. */
  continues: string | null;
  upMark: number;
  downMark: number;
  lastSeq: number;
  lastTime: number;
  /** The seq of this epoch's `stopped`, or null: records of the epoch before it are older than the stop. */
  stoppedSeq: number | null;
  changed: boolean;
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

export interface Credited {
  /** The records with their credit as the marks decided (a record without a session as it came). */
  records: AccountingRecord[];
  /** Each session epoch the batch touched, by epochKey. */
  epochs: Map<string, SessionRow>;
  recovery: Recovery;
}

/** stopped_seq of an epoch that a later one continued and stopped: every record of it is older than the stop. */
const ENDED = 2 ** 31 - 1;

export const sessionKey = (userId: number, torrentId: number, peerId: Buffer): string => `${userId}:${torrentId}:${peerId.toString('hex')}`;
export const epochKey = (session: string, epoch: string): string => `${session}#${epoch}`;

const LOCK_SESSIONS = 'SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k ORDER BY k';

/** A session's advisory lock: 63 bits of its key's SHA-1, as a decimal string (bigint). */
function lockOf(key: string): string {
  return (createHash('sha1').update(key).digest().readBigUInt64BE(0) >> 1n).toString();
}

const SELECT_SESSIONS = `
SELECT user_id, torrent_id, peer_id, epoch, continues, up_mark, down_mark, last_seq, last_time, stopped_seq
FROM peer_sessions
WHERE (user_id, torrent_id, peer_id) IN (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[]))
ORDER BY user_id, torrent_id, peer_id, epoch
FOR UPDATE`;

const UPSERT_SESSIONS = `
INSERT INTO peer_sessions AS s (user_id, torrent_id, peer_id, epoch, continues, up_mark, down_mark, last_seq, last_time, stopped_seq, updated_at)
SELECT x.u, x.t, x.p, x.e, x.c, x.up, x.down, x.seq, x.ms, x.stop, now()
FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::int[], $9::bigint[], $10::int[])
  AS x(u, t, p, e, c, up, down, seq, ms, stop)
ON CONFLICT (user_id, torrent_id, peer_id, epoch) DO UPDATE SET
  continues = EXCLUDED.continues, up_mark = EXCLUDED.up_mark, down_mark = EXCLUDED.down_mark, last_seq = EXCLUDED.last_seq,
  last_time = EXCLUDED.last_time, stopped_seq = EXCLUDED.stopped_seq, updated_at = now()`;

/** Decides every session record's credit from the marks, and writes the marks back. */
export async function creditFromMarks(db: PoolClient, records: AccountingRecord[]): Promise<Credited> {
  const recovery = emptyRecovery();
  const epochs = new Map<string, SessionRow>();
  const withSession = records.filter((r) => r.session);
  if (withSession.length === 0) return { records, epochs, recovery };

  const sessions = new Map<string, AccountingRecord>();
  for (const r of withSession) sessions.set(sessionKey(r.userId, r.torrentId, r.peerId), r);
  // Sorted, so that concurrent consumers lock rows in the same order.
  const keys = [...sessions.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r);
  // Two consumers may hold records of one session at once, and a session new to both has no row to lock
  // yet: each takes a transaction lock per session first, in one order (ORDER BY), so the second computes
  // from the first's marks (a hash collision only makes two sessions wait for each other).
  await db.query(LOCK_SESSIONS, [[...new Set(keys.map((r) => lockOf(sessionKey(r.userId, r.torrentId, r.peerId))))]]);
  const { rows } = await db.query<Record<string, unknown>>(SELECT_SESSIONS, [
    keys.map((r) => r.userId),
    keys.map((r) => r.torrentId),
    keys.map((r) => r.peerId),
  ]);
  /** Each session's epochs, for finding the latest when an open epoch comes. */
  const bySession = new Map<string, SessionRow[]>();
  const remember = (row: SessionRow): void => {
    const session = sessionKey(row.userId, row.torrentId, row.peerId);
    epochs.set(epochKey(session, row.epoch), row);
    let list = bySession.get(session);
    if (!list) bySession.set(session, (list = []));
    list.push(row);
  };
  for (const row of rows) remember(rowOf(row));

  // Announce order within a session; a record's place among its epoch's by seq.
  const ordered = [...records].sort((a, b) => a.time - b.time || (a.session?.seq ?? 0) - (b.session?.seq ?? 0));
  const credited = new Map<AccountingRecord, AccountingRecord>();
  for (const r of ordered) {
    const s = r.session;
    if (!s) continue;
    const session = sessionKey(r.userId, r.torrentId, r.peerId);
    const reportedUp = r.reportedUploaded ?? 0;
    const reportedDown = r.reportedDownloaded ?? 0;
    let row = epochs.get(epochKey(session, s.epoch));
    if (!row) {
      row = {
        userId: r.userId,
        torrentId: r.torrentId,
        peerId: r.peerId,
        epoch: s.epoch,
        continues: null,
        upMark: s.baseUploaded,
        downMark: s.baseDownloaded,
        lastSeq: 0,
        lastTime: 0,
        stoppedSeq: null,
        changed: true,
      };
      if (s.open) {
        const latest = latestOwnEpoch(bySession.get(session) ?? []);
        if (latest && reportedUp >= latest.upMark && reportedDown >= latest.downMark) row.continues = latest.epoch;
      }
      remember(row);
    }
    const marks = (row.continues !== null && epochs.get(epochKey(session, row.continues))) || row;
    const rawUp = Math.max(0, reportedUp - marks.upMark);
    const rawDown = Math.max(0, reportedDown - marks.downMark);
    marks.upMark = Math.max(marks.upMark, reportedUp);
    marks.downMark = Math.max(marks.downMark, reportedDown);
    marks.lastTime = Math.max(marks.lastTime, r.time);
    marks.changed = true;
    row.lastSeq = Math.max(row.lastSeq, s.seq);
    row.lastTime = Math.max(row.lastTime, r.time);
    if (r.event === 'stopped') {
      row.stoppedSeq = s.seq;
      // A stop ends the life the continued epoch belongs to as well: its late records make no active peer.
      if (marks !== row) marks.stoppedSeq = ENDED;
    }
    row.changed = true;
    const up = r.upMultiplier ?? 1;
    const down = r.downMultiplier ?? 1;
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
    credited.set(r, { ...r, rawUploaded: rawUp, rawDownloaded: rawDown, uploaded: creditedBytes(rawUp, up), downloaded: creditedBytes(rawDown, down) });
  }

  const changed = [...epochs.values()].filter((row) => row.changed);
  if (changed.length > 0) {
    await db.query(UPSERT_SESSIONS, [
      changed.map((x) => x.userId),
      changed.map((x) => x.torrentId),
      changed.map((x) => x.peerId),
      changed.map((x) => x.epoch),
      changed.map((x) => x.continues),
      changed.map((x) => x.upMark),
      changed.map((x) => x.downMark),
      changed.map((x) => x.lastSeq),
      changed.map((x) => x.lastTime),
      changed.map((x) => x.stoppedSeq),
    ]);
  }
  return { records: records.map((r) => credited.get(r) ?? r), epochs, recovery };
}

/** The session's epoch with its own marks that heard from the peer last: what an open epoch continues. */
function latestOwnEpoch(rows: SessionRow[]): SessionRow | undefined {
  let latest: SessionRow | undefined;
  for (const row of rows) if (row.continues === null && (!latest || row.lastTime > latest.lastTime)) latest = row;
  return latest;
}

function rowOf(row: Record<string, unknown>): SessionRow {
  return {
    userId: Number(row.user_id),
    torrentId: Number(row.torrent_id),
    peerId: row.peer_id as Buffer,
    epoch: String(row.epoch),
    continues: typeof row.continues === 'string' ? row.continues : null,
    upMark: Number(row.up_mark),
    downMark: Number(row.down_mark),
    lastSeq: Number(row.last_seq),
    lastTime: Number(row.last_time),
    stoppedSeq: row.stopped_seq === null ? null : Number(row.stopped_seq),
    changed: false,
  };
}

/** Deletes session marks not touched for `olderThanSeconds`, a bounded chunk per statement. */
export async function pruneSessions(db: Pool, olderThanSeconds: number): Promise<number> {
  const { rowCount } = await db.query(
    'DELETE FROM peer_sessions WHERE ctid IN (SELECT ctid FROM peer_sessions WHERE updated_at < now() - make_interval(secs => $1) LIMIT 10000)',
    [olderThanSeconds],
  );
  return rowCount ?? 0;
}
