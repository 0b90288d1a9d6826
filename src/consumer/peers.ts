/**
 * Active peers and seed time, in the batch's transaction (so exactly once, as the totals are): the
 * rows of the peers a batch's records are about are locked and read, the records are replayed on them
 * in announce order, and what changed is written back. Seed time is the time between consecutive
 * announces of a peer that was seeding at the first of the two, each gap capped at the interval that
 * peer was told plus `seedGraceSeconds`: a peer that vanishes accrues nothing past its missed announce.
 */
import type { Pool, PoolClient } from 'pg';
import type { AccountingRecord } from '../backend/driver.js';
import { epochKey, sessionKey, type SessionRow } from './sessions.js';

export interface PeerOptions {
  /** Added to the interval a peer was told, at most, per gap of seed time. */
  seedGraceSeconds: number;
  /** A row older than this is no peer any more: its next announce starts afresh. */
  peerTtlSeconds: number;
}

interface PeerRow {
  userId: number;
  torrentId: number;
  peerId: Buffer;
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
  /** The accounting epoch and seq of the record the row shows (null for a record without a session). */
  epoch: string | null;
  seq: number | null;
}

/** Longest client prefix kept: Azureus style "-qB4630-" is 8 bytes. */
const CLIENT_PREFIX = 8;

/** The client part of a peer_id: "-XX1234-" (Azureus style), or its leading printable bytes (at most 8). */
export function clientOf(peerId: Buffer): string {
  if (peerId.length >= CLIENT_PREFIX && peerId[0] === 0x2d && peerId[CLIENT_PREFIX - 1] === 0x2d) return peerId.toString('latin1', 0, CLIENT_PREFIX);
  let end = 0;
  while (end < Math.min(peerId.length, CLIENT_PREFIX) && peerId[end]! >= 0x20 && peerId[end]! < 0x7f) end++;
  return peerId.toString('latin1', 0, end);
}

const keyOf = sessionKey;

const SELECT_PEERS = `
SELECT user_id, torrent_id, peer_id, host(ipv4) AS ipv4, host(ipv6) AS ipv6, port, client, uploaded, downloaded, "left", seeder,
  announce_interval, (extract(epoch FROM first_announce) * 1000)::bigint AS first_ms, (extract(epoch FROM last_announce) * 1000)::bigint AS last_ms, epoch, seq
FROM active_peers
WHERE (user_id, torrent_id, peer_id) IN (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[]))
ORDER BY user_id, torrent_id, peer_id
FOR UPDATE`;

const UPSERT_PEERS = `
INSERT INTO active_peers AS p (user_id, torrent_id, peer_id, ipv4, ipv6, port, client, uploaded, downloaded, "left", seeder, announce_interval, first_announce, last_announce, epoch, seq)
SELECT x.u, x.t, x.p, x.ip4::inet, x.ip6::inet, x.port, x.client, x.up, x.down, x.rest, x.seeder, x.iv, to_timestamp(x.first / 1000.0), to_timestamp(x.last / 1000.0), x.epoch, x.seq
FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::text[], $5::text[], $6::int[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[], $11::boolean[], $12::int[], $13::bigint[], $14::bigint[], $15::text[], $16::int[])
  AS x(u, t, p, ip4, ip6, port, client, up, down, rest, seeder, iv, first, last, epoch, seq)
ON CONFLICT (user_id, torrent_id, peer_id) DO UPDATE SET
  ipv4 = EXCLUDED.ipv4, ipv6 = EXCLUDED.ipv6, port = EXCLUDED.port, client = EXCLUDED.client, uploaded = EXCLUDED.uploaded,
  downloaded = EXCLUDED.downloaded, "left" = EXCLUDED."left", seeder = EXCLUDED.seeder, announce_interval = EXCLUDED.announce_interval,
  first_announce = EXCLUDED.first_announce, last_announce = EXCLUDED.last_announce, epoch = EXCLUDED.epoch, seq = EXCLUDED.seq`;

const DELETE_PEERS = `
DELETE FROM active_peers WHERE (user_id, torrent_id, peer_id) IN (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[]))`;

// The user_torrents rows exist: the batch's pairs were upserted before, in the same transaction.
const ADD_SEED_TIME = `
UPDATE user_torrents AS ut SET seed_time_ms = ut.seed_time_ms + x.ms
FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS x(u, t, ms)
WHERE ut.user_id = x.u AND ut.torrent_id = x.t`;

/**
 * Whether a record is older than what the row shows: within one accounting epoch by seq (the tracker
 * numbered them in their true order; replicas' clocks differ), across epochs by announce time.
 */
function olderThanRow(r: AccountingRecord, peer: PeerRow): boolean {
  if (r.session && peer.epoch === r.session.epoch && peer.seq !== null) return r.session.seq <= peer.seq;
  return r.time < peer.last;
}

/**
 * Applies the batch's fresh records to active_peers and seed time (inside the batch's transaction).
 * `epochs` (sessions.ts): a record of an epoch whose `stopped` is known and came after it is late, and
 * makes no row: a stopped peer never comes back from an older record.
 */
export async function applyPeers(
  db: PoolClient,
  records: AccountingRecord[],
  options: PeerOptions,
  epochs: Map<string, SessionRow> = new Map(),
): Promise<void> {
  if (records.length === 0) return;
  const byPeer = new Map<string, AccountingRecord[]>();
  for (const r of records) {
    const key = keyOf(r.userId, r.torrentId, r.peerId);
    let list = byPeer.get(key);
    if (!list) byPeer.set(key, (list = []));
    list.push(r);
  }
  const keys = [...byPeer.values()].map((list) => list[0]!);
  const { rows } = await db.query<Record<string, unknown>>(SELECT_PEERS, [keys.map((r) => r.userId), keys.map((r) => r.torrentId), keys.map((r) => r.peerId)]);
  const current = new Map<string, PeerRow>();
  for (const row of rows) {
    const peer = rowOf(row);
    current.set(keyOf(peer.userId, peer.torrentId, peer.peerId), peer);
  }

  const ttlMs = options.peerTtlSeconds * 1000;
  const seedTime = new Map<string, { userId: number; torrentId: number; ms: number }>();
  const written: PeerRow[] = [];
  const gone: PeerRow[] = [];
  for (const [key, list] of byPeer) {
    // Announce order; on a tie (a hybrid pair in the same millisecond) the stop last.
    list.sort((a, b) => a.time - b.time || Number(a.event === 'stopped') - Number(b.event === 'stopped'));
    const existed = current.get(key);
    let peer: PeerRow | null = existed ?? null;
    let seedMs = 0;
    for (const r of list) {
      if (r.session) {
        const epoch = epochs.get(epochKey(key, r.session.epoch));
        if (epoch?.stoppedSeq != null && r.session.seq < epoch.stoppedSeq) continue; // before its epoch's stop: late
      }
      if (peer && olderThanRow(r, peer)) continue; // older than what the row says: late, and already counted past
      if (peer && r.time - peer.last > ttlMs) peer = null; // the peer had expired: this is a new one
      if (peer?.seeder) seedMs += Math.max(0, Math.min(r.time - peer.last, (peer.interval + options.seedGraceSeconds) * 1000));
      if (r.event === 'stopped') {
        peer = null;
        continue;
      }
      peer = {
        userId: r.userId,
        torrentId: r.torrentId,
        peerId: r.peerId,
        // A dual-stack peer announces over each family in turn: the row keeps both.
        ipv4: r.ipv4 || (peer?.ipv4 ?? null),
        ipv6: r.ipv6 || (peer?.ipv6 ?? null),
        port: r.port ?? 0,
        client: clientOf(r.peerId),
        uploaded: r.reportedUploaded ?? 0,
        downloaded: r.reportedDownloaded ?? 0,
        left: r.left,
        seeder: r.left === 0,
        interval: r.interval ?? 0,
        first: peer?.first ?? r.time,
        // Never backwards: a record of the same epoch can carry an earlier time (another replica's clock).
        last: Math.max(r.time, peer?.last ?? 0),
        epoch: r.session?.epoch ?? null,
        seq: r.session?.seq ?? null,
      };
    }
    if (peer) written.push(peer);
    else if (existed) gone.push(existed);
    if (seedMs > 0) {
      const pair = `${list[0]!.userId}:${list[0]!.torrentId}`;
      const sum = seedTime.get(pair) ?? { userId: list[0]!.userId, torrentId: list[0]!.torrentId, ms: 0 };
      sum.ms += Math.round(seedMs);
      seedTime.set(pair, sum);
    }
  }
  if (written.length > 0) {
    await db.query(UPSERT_PEERS, [
      written.map((p) => p.userId),
      written.map((p) => p.torrentId),
      written.map((p) => p.peerId),
      written.map((p) => p.ipv4),
      written.map((p) => p.ipv6),
      written.map((p) => p.port),
      written.map((p) => p.client),
      written.map((p) => p.uploaded),
      written.map((p) => p.downloaded),
      written.map((p) => p.left),
      written.map((p) => p.seeder),
      written.map((p) => p.interval),
      written.map((p) => p.first),
      written.map((p) => p.last),
      written.map((p) => p.epoch),
      written.map((p) => p.seq),
    ]);
  }
  if (gone.length > 0) await db.query(DELETE_PEERS, [gone.map((p) => p.userId), gone.map((p) => p.torrentId), gone.map((p) => p.peerId)]);
  const seeds = [...seedTime.values()].sort((a, b) => a.userId - b.userId || a.torrentId - b.torrentId);
  if (seeds.length > 0) await db.query(ADD_SEED_TIME, [seeds.map((s) => s.userId), seeds.map((s) => s.torrentId), seeds.map((s) => s.ms)]);
}

function rowOf(row: Record<string, unknown>): PeerRow {
  return {
    userId: Number(row.user_id),
    torrentId: Number(row.torrent_id),
    peerId: row.peer_id as Buffer,
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
  };
}

/** Deletes rows of peers not heard from for longer than the peer TTL, a bounded chunk per statement. */
export async function pruneActivePeers(db: Pool, peerTtlSeconds: number): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM active_peers WHERE ctid IN (SELECT ctid FROM active_peers WHERE last_announce < now() - make_interval(secs => $1) LIMIT 10000)`,
    [peerTtlSeconds],
  );
  return rowCount ?? 0;
}
