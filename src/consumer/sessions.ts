/**
 * Credits from cumulative counters, active peers and seed time, in the batch's transaction (so exactly
 * once, as the totals are): reads each session of the batch, applies the credit rules (marks.ts) and the
 * replay on its row (replay.ts) record by record, and writes the result back.
 *
 * Where the marks live: the session's live epoch's on its active_peers row (one row read and written
 * per session and batch, as before the marks existed); every other epoch's in peer_sessions, read only
 * for the records that need it: an epoch new to the consumer, a late record of an older epoch. An epoch
 * leaves the row for peer_sessions when it stops (`stopped_seq`, a tombstone: its records make no row
 * again), when another replaces it, and when the row expires. Records of older versions, without a
 * session, credit their own deltas.
 */
import type { Pool, PoolClient } from 'pg';
import type { AccountingRecord } from '../backend/driver.js';
import { credit, emptyRecovery, type EpochRow, type PeerRow, type Recovery, type Session } from './marks.js';
import { booleans, bytes, integers, texts } from './pg-arrays.js';
import { replay } from './replay.js';

export { clientOf } from './replay.js';
export { emptyRecovery, type Recovery } from './marks.js';

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

export interface SessionsOutcome {
  /** The records with their credit as the marks decided (a record without a session as it came). */
  records: AccountingRecord[];
  recovery: Recovery;
  /** Seed time to add per user and torrent (after their user_torrents rows exist). */
  seedTime: Array<{ userId: number; torrentId: number; ms: number }>;
}

const sessionKey = (userId: number, torrentId: number, peerId: Buffer): string => `${userId}:${torrentId}:${peerId.toString('hex')}`;

/**
 * The sessions of records that carry one, for the caller to lock (`lockSessionsSql`) in the batch's
 * transaction before applySessions reads them: two consumers may hold records of one session at once,
 * and a session new to both has no row to lock yet, so each takes a transaction lock per session first
 * (in one order: no deadlocks), and the second computes from the first's marks. Its statement must come
 * before applySessions', whose snapshot must see what the lock waited for.
 */
export function sessionsToLock(records: AccountingRecord[]): string[] {
  const keys = new Set<string>();
  for (const r of records) if (r.session) keys.add(sessionKey(r.userId, r.torrentId, r.peerId));
  return [...keys];
}

/**
 * A CTE that takes the advisory lock of each session key in a text[] parameter: a 64-bit hash of the
 * key (a collision only makes two sessions wait for each other), in ascending order. A statement that
 * uses it forces it before its rows with `(SELECT count(*) FROM locked) >= 0`.
 */
export const lockSessionsSql = (param: string): string =>
  `locked AS (SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtextextended(k, 0) AS h FROM unnest(${param}::text[]) AS k) AS x ORDER BY h)`;

const SELECT_PEERS = `
SELECT user_id, torrent_id, peer_id, host(ipv4) AS ipv4, host(ipv6) AS ipv6, port, client, uploaded, downloaded, "left", seeder,
  announce_interval, (extract(epoch FROM first_announce) * 1000)::bigint AS first_ms, (extract(epoch FROM last_announce) * 1000)::bigint AS last_ms,
  epoch, seq, up_mark, down_mark, snatch_counted, connectable
FROM active_peers
WHERE (user_id, torrent_id, peer_id) IN (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[]))
ORDER BY user_id, torrent_id, peer_id
FOR UPDATE`;

const UPSERT_PEERS = `
INSERT INTO active_peers AS p (user_id, torrent_id, peer_id, ipv4, ipv6, port, client, uploaded, downloaded, "left", seeder, announce_interval,
  first_announce, last_announce, epoch, seq, up_mark, down_mark, snatch_counted, connectable)
SELECT x.u, x.t, x.p, x.ip4::inet, x.ip6::inet, x.port, x.client, x.up, x.down, x.rest, x.seeder, x.iv, to_timestamp(x.first / 1000.0),
  to_timestamp(x.last / 1000.0), x.epoch, x.seq, x.upm, x.downm, x.sn, x.conn
FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::text[], $5::text[], $6::int[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[],
  $11::boolean[], $12::int[], $13::bigint[], $14::bigint[], $15::text[], $16::int[], $17::bigint[], $18::bigint[], $19::boolean[], $20::boolean[])
  AS x(u, t, p, ip4, ip6, port, client, up, down, rest, seeder, iv, first, last, epoch, seq, upm, downm, sn, conn)
ON CONFLICT (user_id, torrent_id, peer_id) DO UPDATE SET
  ipv4 = EXCLUDED.ipv4, ipv6 = EXCLUDED.ipv6, port = EXCLUDED.port, client = EXCLUDED.client, uploaded = EXCLUDED.uploaded,
  downloaded = EXCLUDED.downloaded, "left" = EXCLUDED."left", seeder = EXCLUDED.seeder, announce_interval = EXCLUDED.announce_interval,
  first_announce = EXCLUDED.first_announce, last_announce = EXCLUDED.last_announce, epoch = EXCLUDED.epoch, seq = EXCLUDED.seq,
  up_mark = EXCLUDED.up_mark, down_mark = EXCLUDED.down_mark, snatch_counted = EXCLUDED.snatch_counted, connectable = EXCLUDED.connectable`;

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

/**
 * Reads the batch's sessions, credits each record from the marks, replays it on its session's row, writes
 * back. The caller has locked the sessions (sessionsToLock) in this transaction.
 */
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
  const columns = (of: Session[]) => [integers(of.map((s) => s.userId)), integers(of.map((s) => s.torrentId)), bytes(of.map((s) => s.peerId))];
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
      texts(rows.map((p) => p.ipv4)),
      texts(rows.map((p) => p.ipv6)),
      integers(rows.map((p) => p.port)),
      texts(rows.map((p) => p.client)),
      integers(rows.map((p) => p.uploaded)),
      integers(rows.map((p) => p.downloaded)),
      integers(rows.map((p) => p.left)),
      booleans(rows.map((p) => p.seeder)),
      integers(rows.map((p) => p.interval)),
      integers(rows.map((p) => p.first)),
      integers(rows.map((p) => p.last)),
      texts(rows.map((p) => p.epoch)),
      integers(rows.map((p) => p.seq)),
      integers(rows.map((p) => (p.marked ? p.upMark : null))),
      integers(rows.map((p) => (p.marked ? p.downMark : null))),
      booleans(rows.map((p) => p.snatchCounted)),
      booleans(rows.map((p) => p.connectable)),
    ]);
  }
  const gone = list.filter((s) => s.existed && !s.row);
  if (gone.length > 0) await db.query(DELETE_PEERS, columns(gone));
  const epochs = list.flatMap((s) => [...s.epochs.values()].filter((e) => e.changed).map((e) => ({ s, e })));
  if (epochs.length > 0) {
    await db.query(UPSERT_EPOCHS, [
      integers(epochs.map(({ s }) => s.userId)),
      integers(epochs.map(({ s }) => s.torrentId)),
      bytes(epochs.map(({ s }) => s.peerId)),
      texts(epochs.map(({ e }) => e.epoch)),
      texts(epochs.map(({ e }) => e.continues)),
      integers(epochs.map(({ e }) => e.upMark)),
      integers(epochs.map(({ e }) => e.downMark)),
      integers(epochs.map(({ e }) => e.lastSeq)),
      integers(epochs.map(({ e }) => e.lastTime)),
      integers(epochs.map(({ e }) => e.stoppedSeq)),
      booleans(epochs.map(({ e }) => e.snatchCounted)),
    ]);
  }
  const seeds = [...seedTime.values()].sort((a, b) => a.userId - b.userId || a.torrentId - b.torrentId);
  return { records: records.map((r) => credited.get(r) ?? r), recovery, seedTime: seeds };
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
    connectable: typeof row.connectable === 'boolean' ? row.connectable : null,
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
