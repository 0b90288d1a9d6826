/**
 * The memory driver's snapshot format: what the store holds, in one binary buffer, and back. Peers are
 * written table by table as the packed arrays they already are (ages, addresses, peer ids, user ids),
 * so that a million peers take one pass of copies, not a million objects; snatch counts and private
 * totals follow, record by record. Every time is kept as an age (milliseconds before the save) and
 * restored against the new clock plus the time the file lay on disk: a peer whose TTL ran out
 * meanwhile is not loaded.
 *
 *   header (64 B)   "SHOALMEM", u32 version, u32 flags, f64 saved at (Unix ms), f64 body length,
 *                   SHA-256 of the header's first 24 bytes and the body (32 B); little-endian throughout
 *   tables          u32 n; each: u8 key length, key, u8 address size (6|18), u32 count, u32 seeders,
 *                   u8 has user ids; u32 ages[count], addresses, peer ids (20 B each), u32 users[count]?
 *   snatch counts   u32 n; each: u8 key length, key, f64 count, f64 age
 *   private totals  u32 n; each: u8 key length, key, f64 uploaded, downloaded, age, previous uploaded,
 *                   previous downloaded, u8 flags, u16-prefixed announce id; with a session: its
 *                   u16-prefixed epoch, f64 seq, base uploaded, base downloaded
 *
 * Decoding checks every count against the bytes left before it allocates, and throws SnapshotError on
 * anything that does not fit: the caller starts empty rather than half loaded.
 */
import { createHash } from 'node:crypto';
import { PEER_ID_LENGTH } from '../../bittorrent/announce.js';
import { PeerTable } from './peers.js';
import { PackedTotals, SESSION_COMPLETED, SESSION_HAS_COMPLETED, SESSION_OPEN, TOTALS_COMPLETED, TOTALS_SESSION, TOTALS_SNATCHED } from './packed-totals.js';
import type { PrivateTotals } from './private-totals.js';
import { SnatchRecord, type Torrent, type TotalsRecord } from './swarm.js';

export const SNAPSHOT_VERSION = 1;
const MAGIC = Buffer.from('SHOALMEM', 'latin1');
const HEADER_LENGTH = 64;
/** Info hashes are 20 bytes (32 for a v2 hash), totals keys 48: anything longer is not ours. */
const MAX_KEY_LENGTH = 64;
const MAX_TEXT_LENGTH = 1024;
const MAX_AGE_MS = 0xffffffff;

const FLAG_COUNTING_USER_PEERS = 1;

export class SnapshotError extends Error {}

/** What the store hands the encoder (MemoryStore.snapshotSource). */
export interface SnapshotSource {
  tables: Iterable<PeerTable>;
  /** Oldest first. */
  snatches: Iterable<SnatchRecord>;
  /** Records restored from a snapshot and not touched since, oldest first: older than all of `totals`. */
  packedTotals: PackedTotals | null;
  /** Oldest first. */
  totals: Iterable<TotalsRecord>;
  countingUserPeers: boolean;
  /** Bytes the snapshot will take, about: the buffer is allocated once at this size rather than doubled up to it. */
  sizeHint: number;
  /** The Unix time (ms) of a tick of the store's clock. */
  timeOfTick(tick: number): number;
}

/** What a snapshot restores (MemoryStore.restore): built against the new store's clock. */
export interface RestoredState {
  tables: PeerTable[];
  peers: number;
  snatches: SnatchRecord[];
  /** Null when the file holds none that are still alive. */
  totals: PackedTotals | null;
  countingUserPeers: boolean;
}

export interface RestoreOptions {
  now: number;
  peerTtlMs: number;
  /** 0: snatch counts never expire. */
  torrentTtlMs: number;
  /** Most peers to load (the driver's max_peers); 0: no limit. */
  maxPeers: number;
  /** The store's tick of a Unix time (ms). */
  tickOf(time: number): number;
}

/** The source of a store's torrents, snatch counts (oldest first) and private totals. */
export function snapshotSourceOf(
  torrents: Iterable<Torrent>,
  snatches: Iterable<SnatchRecord>,
  totals: PrivateTotals,
  timeOfTick: (tick: number) => number,
  counts: { peers: number; tables: number; snatches: number },
): SnapshotSource {
  function* tables(): Generator<PeerTable> {
    for (const torrent of torrents) {
      if (torrent.v4) yield torrent.v4;
      if (torrent.v6) yield torrent.v6;
    }
  }
  // Per peer: age, an IPv6 address, peer id, user id; per table, snatch count and totals record: their fields and keys.
  const sizeHint = HEADER_LENGTH + 12 + counts.peers * 46 + counts.tables * 64 + counts.snatches * 40 + totals.size * 192;
  return {
    tables: tables(),
    snatches,
    packedTotals: totals.packed,
    totals: totals.oldestFirst(),
    countingUserPeers: totals.countingUserPeers,
    sizeHint,
    timeOfTick,
  };
}

export function encodeSnapshot(source: SnapshotSource, now: number): Buffer {
  const w = new Writer(source.sizeHint);
  w.bytes(MAGIC);
  w.u32(SNAPSHOT_VERSION);
  w.u32(source.countingUserPeers ? FLAG_COUNTING_USER_PEERS : 0);
  w.f64(now);
  w.skip(HEADER_LENGTH - w.length); // body length and checksum, once known
  const age = (time: number): number => Math.min(MAX_AGE_MS, Math.max(0, now - time));

  const tablesAt = w.length;
  let tables = 0;
  w.u32(0);
  for (const table of source.tables) {
    if (table.count === 0) continue;
    tables++;
    const count = table.count;
    w.key(table.torrentKey);
    w.u8(table.addrSize);
    w.u32(count);
    w.u32(table.seeders);
    w.u8(table.users !== null ? 1 : 0);
    const ages = w.reserve(count * 4);
    for (let slot = 0; slot < count; slot++) w.buffer.writeUInt32LE(age(source.timeOfTick(table.lastSeen(slot))), ages + slot * 4);
    w.bytes(table.bytes.subarray(table.addrOffset, table.addrOffset + count * table.addrSize));
    w.bytes(table.bytes.subarray(table.idOffset, table.idOffset + count * PEER_ID_LENGTH));
    if (table.users !== null) {
      const users = w.reserve(count * 4);
      for (let slot = 0; slot < count; slot++) w.buffer.writeUInt32LE(table.users[slot]!, users + slot * 4);
    }
  }
  w.buffer.writeUInt32LE(tables, tablesAt);

  const snatchesAt = w.length;
  let snatches = 0;
  w.u32(0);
  for (const snatch of source.snatches) {
    snatches++;
    w.key(snatch.key);
    w.f64(snatch.count);
    w.f64(age(snatch.touched));
  }
  w.buffer.writeUInt32LE(snatches, snatchesAt);

  const totalsAt = w.length;
  let totals = 0;
  w.u32(0);
  // Untouched since they were loaded: the same bytes, with their age brought up to now.
  source.packedTotals?.forEachLive((bytes, ageAt, tick) => {
    totals++;
    const at = w.length;
    w.bytes(bytes);
    w.buffer.writeDoubleLE(age(source.timeOfTick(tick)), at + ageAt);
  });
  for (const r of source.totals) {
    totals++;
    w.key(r.key);
    w.f64(r.uploaded);
    w.f64(r.downloaded);
    w.f64(age(source.timeOfTick(r.touched)));
    w.f64(r.previousUploaded);
    w.f64(r.previousDownloaded);
    const s = r.session;
    let flags = (r.snatched ? TOTALS_SNATCHED : 0) | (r.completed ? TOTALS_COMPLETED : 0);
    if (s)
      flags |= TOTALS_SESSION | (s.open ? SESSION_OPEN : 0) | (s.completed !== undefined ? SESSION_HAS_COMPLETED : 0) | (s.completed ? SESSION_COMPLETED : 0);
    w.u8(flags);
    w.text(r.announceId);
    if (s) {
      w.text(s.epoch);
      w.f64(s.seq);
      w.f64(s.baseUploaded);
      w.f64(s.baseDownloaded);
    }
  }
  w.buffer.writeUInt32LE(totals, totalsAt);

  const out = w.buffer.subarray(0, w.length);
  const body = out.subarray(HEADER_LENGTH);
  out.writeDoubleLE(body.length, 24);
  digest(out, body).copy(out, 32);
  return out;
}

/** The saved-at time of a snapshot whose header and checksum are right; SnapshotError otherwise. */
export function checkSnapshot(file: Buffer): { savedAt: number; body: Buffer; flags: number } {
  if (file.length < HEADER_LENGTH || !file.subarray(0, MAGIC.length).equals(MAGIC)) throw new SnapshotError('not a snapshot of the memory driver');
  const version = file.readUInt32LE(8);
  if (version !== SNAPSHOT_VERSION) throw new SnapshotError(`snapshot version ${version}, this tracker reads version ${SNAPSHOT_VERSION}`);
  const bodyLength = file.readDoubleLE(24);
  if (bodyLength !== file.length - HEADER_LENGTH)
    throw new SnapshotError(`truncated or padded: ${file.length - HEADER_LENGTH} bytes of a ${bodyLength}-byte body`);
  const body = file.subarray(HEADER_LENGTH);
  if (!digest(file, body).equals(file.subarray(32, HEADER_LENGTH))) throw new SnapshotError('checksum mismatch');
  return { savedAt: file.readDoubleLE(16), body, flags: file.readUInt32LE(12) };
}

/** Decodes a whole snapshot against the new clock; throws SnapshotError, having changed nothing, on anything wrong. */
export function decodeSnapshot(file: Buffer, o: RestoreOptions): RestoredState {
  const { savedAt, body, flags } = checkSnapshot(file);
  // Time on disk counts against every age; a clock that went back counts as none.
  const elapsed = Math.max(0, o.now - savedAt);
  const r = new Reader(body);
  const state: RestoredState = { tables: [], peers: 0, snatches: [], totals: null, countingUserPeers: (flags & FLAG_COUNTING_USER_PEERS) !== 0 };

  const tables = r.u32();
  for (let t = 0; t < tables; t++) {
    const key = r.key();
    const addrSize = r.u8();
    if (addrSize !== 6 && addrSize !== 18) throw new SnapshotError(`address size ${addrSize}`);
    const count = r.u32();
    const seeders = r.u32();
    const hasUsers = r.u8() === 1;
    if (count === 0 || seeders > count) throw new SnapshotError(`table of ${count} peers, ${seeders} seeders`);
    r.need(count * (4 + addrSize + PEER_ID_LENGTH + (hasUsers ? 4 : 0)));
    const ages = r.take(count * 4);
    const addrsAt = r.offset;
    r.take(count * addrSize);
    const idsAt = r.offset;
    r.take(count * PEER_ID_LENGTH);
    const users = hasUsers ? r.take(count * 4) : null;
    let table: PeerTable | null = null;
    let oldest = Infinity;
    for (let i = 0; i < count; i++) {
      if (o.maxPeers > 0 && state.peers >= o.maxPeers) break;
      const age = ages.readUInt32LE(i * 4) + elapsed;
      if (age >= o.peerTtlMs) continue;
      const tick = o.tickOf(o.now - age);
      table ??= new PeerTable(addrSize, key, tick, o.maxPeers > 0 ? Math.min(count, o.maxPeers - state.peers) : count);
      if (!table.restorePeer(body, addrsAt + i * addrSize, idsAt + i * PEER_ID_LENGTH, i < seeders, tick, users ? users.readUInt32LE(i * 4) : 0)) {
        throw new SnapshotError('a peer twice in one table');
      }
      if (tick < oldest) oldest = tick;
      state.peers++;
    }
    if (table) {
      table.due = oldest;
      state.tables.push(table);
    }
  }

  const snatches = r.u32();
  r.need(snatches * 17);
  for (let i = 0; i < snatches; i++) {
    const record = new SnatchRecord(r.key());
    record.count = r.f64();
    const age = r.f64() + elapsed;
    record.touched = o.now - age;
    if (o.torrentTtlMs === 0 || age < o.torrentTtlMs) state.snatches.push(record);
  }

  // Private totals are checked here but left packed (packed-totals.ts): objects only when their peer announces.
  const totals = r.u32();
  r.need(totals * 44);
  const sectionAt = r.offset;
  const starts = new Uint32Array(totals);
  const ends = new Uint32Array(totals);
  const ticks = new Float64Array(totals);
  let alive = 0;
  for (let i = 0; i < totals; i++) {
    const start = r.offset - sectionAt;
    r.skipKey();
    r.skipF64(); // uploaded
    r.skipF64(); // downloaded
    const age = r.f64() + elapsed;
    r.skipF64(); // previous uploaded
    r.skipF64(); // previous downloaded
    const flags = r.u8();
    r.skipText(); // announce id
    if (flags & TOTALS_SESSION) {
      r.skipText(); // epoch
      r.skipF64(); // seq
      r.skipF64(); // base uploaded
      r.skipF64(); // base downloaded
    }
    if (age >= o.peerTtlMs) continue;
    starts[alive] = start;
    ends[alive] = r.offset - sectionAt;
    ticks[alive] = o.tickOf(o.now - age);
    alive++;
  }
  // The file's own buffer, not a copy (the totals are most of it): it goes once no record in it is left.
  if (alive > 0) state.totals = new PackedTotals(body.subarray(sectionAt, r.offset), starts, ends, ticks, alive);
  if (r.left !== 0) throw new SnapshotError(`${r.left} bytes after the last section`);
  return state;
}

/** SHA-256 of the header's first 24 bytes (magic, version, flags, saved-at time) and the body. */
function digest(file: Buffer, body: Buffer): Buffer {
  return createHash('sha256').update(file.subarray(0, 24)).update(body).digest();
}

/** A growing buffer, doubled when full: write at the offset reserve() returns, into the buffer as it is after it. */
class Writer {
  buffer: Buffer;
  length = 0;

  constructor(sizeHint: number) {
    this.buffer = Buffer.allocUnsafe(Math.max(1 << 16, Math.min(sizeHint, 2 ** 31 - 1)));
  }

  private ensure(n: number): void {
    if (this.length + n <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.length + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buffer.copy(next, 0, 0, this.length);
    this.buffer = next;
  }

  /** Room for n bytes, written later at the returned offset. */
  reserve(n: number): number {
    this.ensure(n);
    const at = this.length;
    this.length += n;
    return at;
  }

  skip(n: number): void {
    const at = this.reserve(n);
    this.buffer.fill(0, at, this.length);
  }

  u8(v: number): void {
    const at = this.reserve(1);
    this.buffer[at] = v;
  }

  u32(v: number): void {
    const at = this.reserve(4);
    this.buffer.writeUInt32LE(v, at);
  }

  f64(v: number): void {
    const at = this.reserve(8);
    this.buffer.writeDoubleLE(v, at);
  }

  bytes(b: Uint8Array): void {
    const at = this.reserve(b.length);
    this.buffer.set(b, at);
  }

  key(latin1: string): void {
    this.u8(latin1.length);
    const at = this.reserve(latin1.length);
    this.buffer.write(latin1, at, 'latin1');
  }

  text(s: string): void {
    const length = Buffer.byteLength(s, 'utf8');
    if (length > MAX_TEXT_LENGTH) throw new Error(`text of ${length} bytes in a snapshot`);
    const at = this.reserve(2 + length);
    this.buffer.writeUInt16LE(length, at);
    this.buffer.write(s, at + 2, 'utf8');
  }
}

/** Reads with a bound check before every read. */
class Reader {
  private at = 0;

  constructor(private readonly buffer: Buffer) {}

  get left(): number {
    return this.buffer.length - this.at;
  }

  /** Where the next read starts in the buffer. */
  get offset(): number {
    return this.at;
  }

  need(n: number): void {
    if (n > this.left) throw new SnapshotError(`a section needs ${n} bytes, ${this.left} are left`);
  }

  take(n: number): Buffer {
    this.need(n);
    const out = this.buffer.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  /** The offset of the next n bytes, checked and passed. */
  private skip(n: number): number {
    this.need(n);
    const at = this.at;
    this.at += n;
    return at;
  }

  u8(): number {
    return this.buffer[this.skip(1)]!;
  }

  u32(): number {
    return this.buffer.readUInt32LE(this.skip(4));
  }

  f64(): number {
    const v = this.buffer.readDoubleLE(this.skip(8));
    if (!Number.isFinite(v)) throw new SnapshotError('a number that is not finite');
    return v;
  }

  /** Passes a double, checked finite from its exponent bits alone (all ones: infinite or NaN). */
  skipF64(): void {
    const at = this.skip(8);
    if ((this.buffer[at + 7]! & 0x7f) === 0x7f && (this.buffer[at + 6]! & 0xf0) === 0xf0) throw new SnapshotError('a number that is not finite');
  }

  key(): string {
    const at = this.skipKey();
    return this.buffer.toString('latin1', at, this.at);
  }

  /** Passes a key, checked: returns where its bytes start. */
  skipKey(): number {
    const length = this.u8();
    if (length === 0 || length > MAX_KEY_LENGTH) throw new SnapshotError(`key of ${length} bytes`);
    return this.skip(length);
  }

  /** Passes a u16-prefixed text, its length checked. */
  skipText(): void {
    const length = this.buffer.readUInt16LE(this.skip(2));
    if (length > MAX_TEXT_LENGTH) throw new SnapshotError(`text of ${length} bytes`);
    this.skip(length);
  }
}
