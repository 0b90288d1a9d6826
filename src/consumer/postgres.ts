/**
 * The consumer's PostgreSQL side: the schema, one transaction per batch that records the batch's ids
 * and applies only those not seen before, and the pruning of old ids.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Pool, PoolClient } from 'pg';
import type { AccountingRecord } from '../backend/driver.js';
import { aggregate } from './aggregate.js';
import { booleans, integers, texts } from './pg-arrays.js';
import type { Decoded } from './decode.js';
import { applySessions, lockSessionsSql, sessionsToLock, type PeerOptions, type Recovery } from './sessions.js';

/** sql/schema.sql at the package root (this file runs from dist/src/consumer/). */
export const SCHEMA_FILE = fileURLToPath(new URL('../../../sql/schema.sql', import.meta.url));

/** Serialises schema creation between consumers starting together (CREATE IF NOT EXISTS races otherwise). */
const SCHEMA_LOCK = 0x73686f616c; // "shoal"

/** How long applied ids are kept: longer than any entry can wait in the stream to be delivered again. */
export const APPLIED_ID_RETENTION_SECONDS = 7 * 86400;

export interface BatchOutcome {
  /** Records applied now. */
  applied: number;
  /** Records skipped because their id was applied before (or earlier in the same batch). */
  duplicates: number;
  deadLetters: number;
  /** What the session marks credited beyond (or below) the records' own deltas. */
  recovery: Recovery;
}

/** A consumer run, for credit_recovery: its name (consumer name and start time) and when it started. */
export interface ConsumerRun {
  id: string;
  startedAt: Date;
}

/** A checked-out connection's own 'error' (PostgreSQL restarted under it): the query in hand fails with it; the process goes on. */
const ignoreConnectionError = (): void => {};

async function inTransaction<T>(pool: Pool, work: (db: PoolClient) => Promise<T>): Promise<T> {
  const db = await pool.connect();
  // Without a listener, an 'error' event of a client in use (a restart of PostgreSQL) ends the process.
  db.on('error', ignoreConnectionError);
  try {
    await db.query('BEGIN');
    const result = await work(db);
    await db.query('COMMIT');
    db.off('error', ignoreConnectionError);
    db.release();
    return result;
  } catch (error) {
    await db.query('ROLLBACK').catch(() => {});
    db.off('error', ignoreConnectionError);
    // The connection may be what failed: discard it rather than hand it out again.
    db.release(error as Error);
    throw error;
  }
}

export async function createSchema(pool: Pool): Promise<void> {
  const sql = readFileSync(SCHEMA_FILE, 'utf8');
  await inTransaction(pool, async (db) => {
    await db.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
    await db.query(sql);
  });
}

const UPSERT_USERS = `
INSERT INTO users AS u (id, uploaded, downloaded)
SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[])
ON CONFLICT (id) DO UPDATE SET uploaded = u.uploaded + EXCLUDED.uploaded, downloaded = u.downloaded + EXCLUDED.downloaded`;

const UPSERT_TORRENTS = `
INSERT INTO torrents AS t (id, snatches)
SELECT * FROM unnest($1::bigint[], $2::bigint[])
ON CONFLICT (id) DO UPDATE SET snatches = t.snatches + EXCLUDED.snatches`;

// Entries can be applied out of announce order (one claimed from a dead consumer comes late), so the
// "last_" columns take the values of the latest announce time, not of the latest batch.
const UPSERT_PAIRS = `
INSERT INTO user_torrents AS ut (user_id, torrent_id, uploaded, downloaded, raw_uploaded, raw_downloaded, snatched, announces, last_event, last_left, last_peer_id, last_announce, seed_time_ms)
SELECT x.user_id, x.torrent_id, x.up, x.down, x.raw_up, x.raw_down, x.snatched, x.announces, x.event, x.remaining, decode(x.peer, 'hex'), to_timestamp(x.ms / 1000.0), x.seed
FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::boolean[], $8::bigint[], $9::text[], $10::bigint[], $11::text[], $12::bigint[], $13::bigint[])
  AS x(user_id, torrent_id, up, down, raw_up, raw_down, snatched, announces, event, remaining, peer, ms, seed)
ON CONFLICT (user_id, torrent_id) DO UPDATE SET
  seed_time_ms = ut.seed_time_ms + EXCLUDED.seed_time_ms,
  uploaded = ut.uploaded + EXCLUDED.uploaded,
  downloaded = ut.downloaded + EXCLUDED.downloaded,
  raw_uploaded = ut.raw_uploaded + EXCLUDED.raw_uploaded,
  raw_downloaded = ut.raw_downloaded + EXCLUDED.raw_downloaded,
  snatched = ut.snatched OR EXCLUDED.snatched,
  announces = ut.announces + EXCLUDED.announces,
  last_event = CASE WHEN ut.last_announce IS NULL OR EXCLUDED.last_announce >= ut.last_announce THEN EXCLUDED.last_event ELSE ut.last_event END,
  last_left = CASE WHEN ut.last_announce IS NULL OR EXCLUDED.last_announce >= ut.last_announce THEN EXCLUDED.last_left ELSE ut.last_left END,
  last_peer_id = CASE WHEN ut.last_announce IS NULL OR EXCLUDED.last_announce >= ut.last_announce THEN EXCLUDED.last_peer_id ELSE ut.last_peer_id END,
  last_announce = GREATEST(ut.last_announce, EXCLUDED.last_announce)`;

const UPSERT_RECOVERY = `
INSERT INTO credit_recovery AS r (run, started_at, updated_at, recovered_records, recovered_uploaded, recovered_downloaded, suppressed_records, suppressed_uploaded, suppressed_downloaded)
VALUES ($1, $2, now(), $3, $4, $5, $6, $7, $8)
ON CONFLICT (run) DO UPDATE SET updated_at = now(),
  recovered_records = r.recovered_records + EXCLUDED.recovered_records,
  recovered_uploaded = r.recovered_uploaded + EXCLUDED.recovered_uploaded,
  recovered_downloaded = r.recovered_downloaded + EXCLUDED.recovered_downloaded,
  suppressed_records = r.suppressed_records + EXCLUDED.suppressed_records,
  suppressed_uploaded = r.suppressed_uploaded + EXCLUDED.suppressed_uploaded,
  suppressed_downloaded = r.suppressed_downloaded + EXCLUDED.suppressed_downloaded`;

// Replicas may race to end one token (each record says so): the latest end stands.
const UPSERT_TOKEN_ENDS = `
INSERT INTO token_ends AS e (user_id, torrent_id, reason, ended_at, record_id)
SELECT x.user_id, x.torrent_id, x.reason, to_timestamp(x.ms / 1000.0), x.id
FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::text[]) AS x(user_id, torrent_id, reason, ms, id)
ON CONFLICT (user_id, torrent_id) DO UPDATE SET reason = EXCLUDED.reason, ended_at = EXCLUDED.ended_at, record_id = EXCLUDED.record_id
WHERE EXCLUDED.ended_at >= e.ended_at`;

const INSERT_APPLIED_IDS = `
WITH ${lockSessionsSql('$2')}
INSERT INTO applied_ids (id) SELECT unnest($1::text[]) WHERE (SELECT count(*) FROM locked) >= 0
ON CONFLICT DO NOTHING RETURNING id`;

const INSERT_DEAD_LETTERS = `
INSERT INTO dead_letters (stream_id, fields, error)
SELECT * FROM unnest($1::text[], $2::jsonb[], $3::text[])
ON CONFLICT (stream_id) DO NOTHING`;

/** What applyBatch assumes when the caller names no peer options: the configuration's defaults. */
export const DEFAULT_PEER_OPTIONS: PeerOptions = { seedGraceSeconds: 300, peerTtlSeconds: 3600 };

/**
 * Applies a batch in one transaction: its record ids go into applied_ids first, and only the records
 * whose id went in now are applied. A record delivered twice is thus applied once, whichever consumer
 * and batch it comes in; and the credit of a record with a session comes from the session's marks
 * (sessions.ts), so even a record the tracker wrote twice under two ids, or late, credits nothing more.
 */
export async function applyBatch(pool: Pool, batch: Decoded, peerOptions: PeerOptions = DEFAULT_PEER_OPTIONS, run?: ConsumerRun): Promise<BatchOutcome> {
  return inTransaction(pool, async (db) => {
    // Sorted, so that consumers inserting overlapping ids take their locks in the same order.
    const ids = [...new Set(batch.records.map((r) => r.id))].sort();
    const fresh = new Set<string>();
    if (ids.length > 0) {
      // The sessions' locks first, in the same round trip (of every record: a duplicate's lock only waits).
      const { rows } = await db.query<{ id: string }>(INSERT_APPLIED_IDS, [texts(ids), texts(sessionsToLock(batch.records))]);
      for (const row of rows) fresh.add(row.id);
    }
    // delete() is true once per id: a record repeated within the batch is applied once too.
    // Credits from the sessions' marks, and active_peers, before the sums: the sums are of those credits.
    const applied = await applySessions(
      db,
      batch.records.filter((r) => fresh.delete(r.id)),
      peerOptions,
    );
    const records = applied.records;
    const totals = aggregate(records);
    // Rows that would only get zero added are left alone: started/stopped announces are mostly such.
    const users = totals.users.filter((u) => u.uploaded > 0n || u.downloaded > 0n);
    if (users.length > 0) {
      await db.query(UPSERT_USERS, [integers(users.map((u) => u.userId)), integers(users.map((u) => u.uploaded)), integers(users.map((u) => u.downloaded))]);
    }
    const torrents = totals.torrents.filter((t) => t.snatches > 0n);
    if (torrents.length > 0) {
      await db.query(UPSERT_TORRENTS, [integers(torrents.map((t) => t.torrentId)), integers(torrents.map((t) => t.snatches))]);
    }
    const pairs = totals.pairs;
    // Seed time comes with its pair's row (a pair with seed time has records in the batch).
    const seeds = new Map(applied.seedTime.map((x) => [`${x.userId}:${x.torrentId}`, x.ms]));
    if (pairs.length > 0) {
      await db.query(UPSERT_PAIRS, [
        integers(pairs.map((p) => p.userId)),
        integers(pairs.map((p) => p.torrentId)),
        integers(pairs.map((p) => p.uploaded)),
        integers(pairs.map((p) => p.downloaded)),
        integers(pairs.map((p) => p.rawUploaded)),
        integers(pairs.map((p) => p.rawDownloaded)),
        booleans(pairs.map((p) => p.snatched)),
        integers(pairs.map((p) => p.announces)),
        texts(pairs.map((p) => p.last.event)),
        integers(pairs.map((p) => p.last.left)),
        texts(pairs.map((p) => p.last.peerId.toString('hex'))),
        integers(pairs.map((p) => p.last.time)),
        integers(pairs.map((p) => seeds.get(`${p.userId}:${p.torrentId}`) ?? 0)),
      ]);
    }
    await upsertTokenEnds(db, records);
    const recovery = applied.recovery;
    if (run && (recovery.records > 0 || recovery.suppressedRecords > 0)) {
      await db.query(UPSERT_RECOVERY, [
        run.id,
        run.startedAt,
        recovery.records,
        String(recovery.uploaded),
        String(recovery.downloaded),
        recovery.suppressedRecords,
        String(recovery.suppressedUploaded),
        String(recovery.suppressedDownloaded),
      ]);
    }
    const dead = batch.deadLetters;
    if (dead.length > 0) {
      await db.query(INSERT_DEAD_LETTERS, [dead.map((d) => d.streamId), dead.map((d) => JSON.stringify(d.fields)), dead.map((d) => d.error)]);
    }
    return { applied: records.length, duplicates: batch.records.length - records.length, deadLetters: dead.length, recovery };
  });
}

/** The batch's token ends, one per user and torrent (the latest; sorted, so that consumers lock rows in one order). */
async function upsertTokenEnds(db: PoolClient, records: readonly AccountingRecord[]): Promise<void> {
  const ends = new Map<string, AccountingRecord>();
  for (const r of records) {
    if (!r.tokenEnd) continue;
    const key = `${r.userId}:${r.torrentId}`;
    if ((ends.get(key)?.time ?? -1) <= r.time) ends.set(key, r);
  }
  if (ends.size === 0) return;
  const rows = [...ends.values()].sort((a, b) => a.userId - b.userId || a.torrentId - b.torrentId);
  await db.query(UPSERT_TOKEN_ENDS, [
    integers(rows.map((r) => r.userId)),
    integers(rows.map((r) => r.torrentId)),
    texts(rows.map((r) => r.tokenEnd!)),
    integers(rows.map((r) => r.time)),
    texts(rows.map((r) => r.id)),
  ]);
}

/** Deletes applied ids older than the retention, a bounded chunk per statement so that no lock is held long. */
export async function pruneAppliedIds(pool: Pool, olderThanSeconds = APPLIED_ID_RETENTION_SECONDS): Promise<number> {
  const chunk = 10_000;
  let total = 0;
  for (;;) {
    const { rowCount } = await pool.query(
      'DELETE FROM applied_ids WHERE id IN (SELECT id FROM applied_ids WHERE applied_at < now() - make_interval(secs => $1) LIMIT $2)',
      [olderThanSeconds, chunk],
    );
    total += rowCount ?? 0;
    if ((rowCount ?? 0) < chunk) return total;
  }
}
