/**
 * The end of a run: the drain (the consumer caught up and PostgreSQL still), then the comparison of what
 * PostgreSQL credited with the ground truth the clients kept, less what Redis itself may have lost.
 *
 * "Lost with Redis": Redis without persistence forgets what it had accepted when it restarts empty, and
 * an asynchronous replica may not have the last writes when it is promoted. A session's final record
 * can legitimately go unapplied then, if the session never announced again: the tap saw a record of it
 * carrying its final accepted totals, none of its records carrying those totals was applied or is still
 * in the stream (a record still there was not lost by Redis: the consumer did not get to it), and a
 * Redis-loss fault came after the tap saw it. Its allowed loss is its final totals less the largest
 * totals among its applied records, times the multipliers. Everything else must match exactly.
 */
import type pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisClient } from '../../src/redis/connection.js';
import type { SoakTorrent, SoakUser } from './catalogue.js';
import { creditFor, sessionKey, type Session, type Totals } from './sessions.js';
import type { TapRecord } from './tap.js';

/** The users table must stay unchanged this long before the drain is done. */
const USERS_STILL_MS = 10_000;

export interface DrainResult {
  drained: boolean;
  seconds: number;
  /** What was still outstanding when the drain gave up. */
  detail: string;
}

/** Field list of XINFO (RESP2: flat [name, value, ...]; RESP3 through ioredis: the same or an object). */
function fieldsOf(reply: unknown): Map<string, unknown> {
  const map = new Map<string, unknown>();
  if (Array.isArray(reply)) for (let i = 0; i + 1 < reply.length; i += 2) map.set(String(reply[i]), reply[i + 1]);
  else if (reply && typeof reply === 'object') for (const [k, v] of Object.entries(reply)) map.set(k, v);
  return map;
}

/** Whether the group has read everything and acknowledged everything, and if not, why. */
async function groupState(redis: RedisClient, stream: string, group: string): Promise<{ done: boolean; detail: string }> {
  let streamInfo: Map<string, unknown>;
  try {
    streamInfo = fieldsOf(await redis.call('XINFO', 'STREAM', stream));
  } catch (error) {
    return { done: false, detail: `XINFO STREAM: ${(error as Error).message}` };
  }
  const groups = (await redis.call('XINFO', 'GROUPS', stream)) as unknown[];
  const info = groups.map(fieldsOf).find((g) => g.get('name') === group);
  if (!info) return { done: false, detail: `the stream has no consumer group "${group}" (length ${String(streamInfo.get('length'))})` };
  const lastGenerated = String(streamInfo.get('last-generated-id'));
  const lastDelivered = String(info.get('last-delivered-id'));
  const pending = Number(info.get('pending'));
  const lag = info.get('lag');
  // Lag is not to be trusted here: null when Redis cannot count it (the consumer's XDELs), and stale after a
  // group created again at 0 on a stream that lost entries (a Redis data loss). The last ids say it exactly.
  const done = pending === 0 && lastDelivered === lastGenerated;
  return { done, detail: `pending ${pending}, last delivered ${lastDelivered}, last generated ${lastGenerated}, lag ${String(lag)}` };
}

export async function drain(redis: RedisClient, db: pg.Pool, stream: string, group: string, limitMs: number): Promise<DrainResult> {
  const started = Date.now();
  let lastUsers = '';
  let usersChangedAt = Date.now();
  let detail = '';
  while (Date.now() - started < limitMs) {
    let groupDone = false;
    try {
      const state = await groupState(redis, stream, group);
      groupDone = state.done;
      detail = state.detail;
      const users = JSON.stringify((await db.query('SELECT id, uploaded, downloaded FROM users ORDER BY id')).rows);
      if (users !== lastUsers) {
        lastUsers = users;
        usersChangedAt = Date.now();
      }
    } catch (error) {
      detail = (error as Error).message;
    }
    const stillFor = Date.now() - usersChangedAt;
    if (groupDone && stillFor >= USERS_STILL_MS) return { drained: true, seconds: (Date.now() - started) / 1000, detail };
    await sleep(500);
  }
  return {
    drained: false,
    seconds: (Date.now() - started) / 1000,
    detail: `${detail}; users table unchanged for ${((Date.now() - usersChangedAt) / 1000).toFixed(0)} s`,
  };
}

/** Record ids (the field `id`) of the entries still in the stream: written, never applied and deleted. */
export async function recordIdsInStream(redis: RedisClient, stream: string, limit: number): Promise<Set<string>> {
  const ids = new Set<string>();
  let from = '-';
  while (ids.size < limit) {
    const entries = (await redis.call('XRANGE', stream, from, '+', 'COUNT', 1000)) as Array<[string, string[]]>;
    for (const [, fields] of entries) {
      const at = fields.indexOf('id');
      if (at !== -1 && at % 2 === 0) ids.add(fields[at + 1]!);
    }
    if (entries.length < 1000) break;
    from = `(${entries.at(-1)![0]}`;
  }
  return ids;
}

export interface DatabaseState {
  users: Map<number, Totals>;
  snatches: Map<number, number>;
  activePeers: Set<string>;
  appliedIds: Set<string>;
  deadLetters: number;
}

export async function readDatabase(db: pg.Pool): Promise<DatabaseState> {
  const rows = async (sql: string) => (await db.query(sql)).rows as Array<Record<string, string>>;
  const exists = async (table: string) => (await db.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [table])).rows[0]!.t !== null;
  const users = new Map<number, Totals>();
  const snatches = new Map<number, number>();
  const activePeers = new Set<string>();
  const appliedIds = new Set<string>();
  let deadLetters = 0;
  if (await exists('users'))
    for (const r of await rows('SELECT id, uploaded, downloaded FROM users'))
      users.set(Number(r.id), { uploaded: Number(r.uploaded), downloaded: Number(r.downloaded) });
  if (await exists('torrents')) for (const r of await rows('SELECT id, snatches FROM torrents')) snatches.set(Number(r.id), Number(r.snatches));
  if (await exists('active_peers'))
    for (const r of await rows(`SELECT user_id, torrent_id, encode(peer_id, 'hex') AS peer FROM active_peers`))
      activePeers.add(sessionKey(Number(r.user_id), Number(r.torrent_id), r.peer!));
  if (await exists('applied_ids')) for (const r of await rows('SELECT id FROM applied_ids')) appliedIds.add(r.id!);
  if (await exists('dead_letters')) deadLetters = Number((await rows('SELECT count(*) AS n FROM dead_letters'))[0]!.n);
  return { users, snatches, activePeers, appliedIds, deadLetters };
}

export interface LostWithRedis {
  session: Session;
  /** Raw bytes of its final totals that no applied record carried, and what they credit. */
  raw: Totals;
  credit: Totals;
  snatch: boolean;
}

/**
 * Why a session's credit differs from its truth, as far as the tap can tell (it may have missed entries
 * while Redis was away): where its final record went, or, when that was applied, that an earlier delta
 * went missing (a record lost before it reached the stream, or totals the tracker forgot).
 */
export type Diagnosis =
  | 'final record never reached the stream'
  | 'final record still in the stream, not applied'
  | 'final record lost with Redis (allowed)'
  | 'final record gone from the stream, not applied'
  | 'final record applied, an earlier delta missing'
  | 'credited more than the truth';

export interface DiagnosisRow {
  diagnosis: Diagnosis;
  sessions: number;
  /** Truth − what the session's applied records credited (negative: credited too much). */
  missing: Totals;
  example: string;
}

export interface UserComparison {
  user: SoakUser;
  truth: Totals;
  allowed: Totals;
  credited: Totals;
}

export interface Verdict {
  users: UserComparison[];
  lost: LostWithRedis[];
  snatches: Array<{ torrent: SoakTorrent; truth: number; allowed: number; credited: number }>;
  activePeers: { rows: number; live: number; missing: string[]; extra: string[]; inDoubt: number };
  tapRecordsOfSessions: number;
  /** Entries still in the stream at the end: written, never applied. */
  unappliedInStream: number;
  diagnoses: DiagnosisRow[];
  /** Every session whose applied records do not add up to its truth, with those records: for sessions.jsonl. */
  sessionsOff: Array<Record<string, unknown>>;
  pass: boolean;
  reasons: string[];
}

export function judge(
  sessions: readonly Session[],
  users: readonly SoakUser[],
  torrents: readonly SoakTorrent[],
  tap: readonly TapRecord[],
  db: DatabaseState,
  stillInStream: ReadonlySet<string>,
  redisLossTimes: readonly number[],
): Verdict {
  const tapBySession = new Map<string, TapRecord[]>();
  for (const record of tap) {
    const key = sessionKey(record.user, record.torrent, record.peerIdHex);
    const list = tapBySession.get(key) ?? [];
    list.push(record);
    tapBySession.set(key, list);
  }

  const lost: LostWithRedis[] = [];
  const truthByUser = new Map<number, Totals>();
  const allowedByUser = new Map<number, Totals>();
  const add = (map: Map<number, Totals>, id: number, t: Totals) => {
    const sum = map.get(id) ?? { uploaded: 0, downloaded: 0 };
    sum.uploaded += t.uploaded;
    sum.downloaded += t.downloaded;
    map.set(id, sum);
  };
  const snatchTruth = new Map<number, number>();
  const snatchAllowed = new Map<number, number>();
  const diagnoses = new Map<Diagnosis, DiagnosisRow>();
  const sessionsOff: Verdict['sessionsOff'] = [];
  for (const s of sessions) {
    const truth = s.credit();
    add(truthByUser, s.user.id, truth);
    if (s.completedAccepted) snatchTruth.set(s.torrent.id, (snatchTruth.get(s.torrent.id) ?? 0) + 1);
    const records = tapBySession.get(s.key) ?? [];
    const final = records.filter((r) => r.totalUp === s.accepted.uploaded && r.totalDown === s.accepted.downloaded);
    // A retried XADD can put one record in the stream twice: each id counts once.
    const applied = [...new Map(records.filter((r) => db.appliedIds.has(r.id)).map((r) => [r.id, r])).values()];
    const lostWithRedis =
      final.length > 0 &&
      !final.some((r) => db.appliedIds.has(r.id) || stillInStream.has(r.id)) &&
      final.some((r) => redisLossTimes.some((lossAt) => lossAt > r.seenAt));

    const appliedCredit = applied.reduce((sum, r) => ({ uploaded: sum.uploaded + r.credited.uploaded, downloaded: sum.downloaded + r.credited.downloaded }), {
      uploaded: 0,
      downloaded: 0,
    });
    const missingCredit = { uploaded: truth.uploaded - appliedCredit.uploaded, downloaded: truth.downloaded - appliedCredit.downloaded };
    if (missingCredit.uploaded !== 0 || missingCredit.downloaded !== 0) {
      let diagnosis: Diagnosis;
      if (missingCredit.uploaded < 0 || missingCredit.downloaded < 0) diagnosis = 'credited more than the truth';
      else if (final.length === 0) diagnosis = 'final record never reached the stream';
      else if (final.some((r) => db.appliedIds.has(r.id))) diagnosis = 'final record applied, an earlier delta missing';
      else if (final.some((r) => stillInStream.has(r.id))) diagnosis = 'final record still in the stream, not applied';
      else if (lostWithRedis) diagnosis = 'final record lost with Redis (allowed)';
      else diagnosis = 'final record gone from the stream, not applied';
      const row = diagnoses.get(diagnosis) ?? { diagnosis, sessions: 0, missing: { uploaded: 0, downloaded: 0 }, example: s.key };
      row.sessions++;
      row.missing.uploaded += missingCredit.uploaded;
      row.missing.downloaded += missingCredit.downloaded;
      diagnoses.set(diagnosis, row);
      sessionsOff.push({
        session: s.key,
        diagnosis,
        transport: s.transport,
        legs: s.legs.map((leg) => `${leg.infoHash.equals(s.torrent.infoHash) ? 'v1' : 'v2'}/ipv${leg.family}`),
        multipliers: {
          user: [s.user.upMultiplier, s.user.downMultiplier],
          torrent: [s.torrent.upMultiplier, s.torrent.downMultiplier],
          freeleech: s.torrent.freeleech,
        },
        acceptedTotals: s.accepted,
        truthCredit: truth,
        appliedCredit,
        events: { started: s.startedAccepted, completed: s.completedAccepted, stopped: s.stoppedAccepted },
        records: records.map((r) => ({
          id: r.id,
          streamId: r.streamId,
          event: r.event,
          totals: [r.totalUp, r.totalDown],
          credited: [r.credited.uploaded, r.credited.downloaded],
          applied: db.appliedIds.has(r.id),
          inStream: stillInStream.has(r.id),
          seenAt: r.seenAt,
        })),
      });
    }
    if (!lostWithRedis) continue;
    const base = {
      uploaded: Math.max(0, ...applied.map((r) => r.totalUp)),
      downloaded: Math.max(0, ...applied.map((r) => r.totalDown)),
    };
    const raw = { uploaded: s.accepted.uploaded - base.uploaded, downloaded: s.accepted.downloaded - base.downloaded };
    const snatch = s.completedAccepted && !applied.some((r) => r.snatched);
    const entry = { session: s, raw, credit: creditFor(s.user, s.torrent, raw), snatch };
    lost.push(entry);
    add(allowedByUser, s.user.id, entry.credit);
    if (snatch) snatchAllowed.set(s.torrent.id, (snatchAllowed.get(s.torrent.id) ?? 0) + 1);
  }

  const zero = (): Totals => ({ uploaded: 0, downloaded: 0 });
  const userRows = users.map((user) => ({
    user,
    truth: truthByUser.get(user.id) ?? zero(),
    allowed: allowedByUser.get(user.id) ?? zero(),
    credited: db.users.get(user.id) ?? zero(),
  }));
  const snatchRows = torrents.map((torrent) => ({
    torrent,
    truth: snatchTruth.get(torrent.id) ?? 0,
    allowed: snatchAllowed.get(torrent.id) ?? 0,
    credited: db.snatches.get(torrent.id) ?? 0,
  }));
  const live = new Set(sessions.filter((s) => s.live).map((s) => s.key));
  // A session left in doubt (its last announce never answered) may or may not have a row; so may one whose
  // final record Redis lost (a lost `stopped` leaves its row to the peer_ttl prune, a lost `started` makes none).
  const inDoubt = new Set([...sessions.filter((s) => s.abandoned).map((s) => s.key), ...lost.map((l) => l.session.key)]);
  const missing = [...live].filter((k) => !db.activePeers.has(k) && !inDoubt.has(k));
  const extra = [...db.activePeers].filter((k) => !live.has(k) && !inDoubt.has(k));

  const reasons: string[] = [];
  const usersOff = userRows.filter(
    (u) => u.credited.uploaded !== u.truth.uploaded - u.allowed.uploaded || u.credited.downloaded !== u.truth.downloaded - u.allowed.downloaded,
  );
  if (usersOff.length > 0) reasons.push(`${usersOff.length} users credited other than truth − allowed loss`);
  const snatchesOff = snatchRows.filter((t) => t.credited !== t.truth - t.allowed);
  if (snatchesOff.length > 0) reasons.push(`${snatchesOff.length} torrents with snatches other than truth − allowed`);
  if (missing.length > 0 || extra.length > 0) reasons.push(`active_peers differs from the live sessions (${missing.length} missing, ${extra.length} extra)`);
  if (db.deadLetters > 0) reasons.push(`${db.deadLetters} dead letters`);
  const tapRecordsOfSessions = [...tapBySession.values()].reduce((n, list) => n + list.length, 0);
  return {
    users: userRows,
    lost,
    snatches: snatchRows,
    activePeers: { rows: db.activePeers.size, live: live.size, missing, extra, inDoubt: inDoubt.size },
    tapRecordsOfSessions,
    unappliedInStream: stillInStream.size,
    sessionsOff,
    diagnoses: [...diagnoses.values()].sort((a, b) => b.missing.uploaded + b.missing.downloaded - a.missing.uploaded - a.missing.downloaded),
    pass: reasons.length === 0,
    reasons,
  };
}
