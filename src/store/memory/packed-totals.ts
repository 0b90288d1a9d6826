/**
 * Private totals restored from a snapshot, left packed as the file has them (snapshot.ts): one buffer
 * of records, oldest first, an open-addressing index over their key bytes, and their touch ticks. Making
 * a million records objects and map entries at load costs seconds, nearly all of it allocation and
 * garbage collection; here a record becomes an object only when its peer announces again
 * (PrivateTotals.swap), and the ones that never do expire from the head of the file's order and are
 * written by the next snapshot byte for byte, their age brought up to date.
 */
import { TotalsRecord } from './swarm.js';
import type { AccountingSession } from '../session.js';

export const TOTALS_SNATCHED = 1;
export const TOTALS_COMPLETED = 2;
export const TOTALS_SESSION = 4;
export const SESSION_OPEN = 8;
export const SESSION_HAS_COMPLETED = 16;
export const SESSION_COMPLETED = 32;

/** The bytes of a record before its age: u8 key length and the key, then f64 uploaded and downloaded. */
const AGE_AFTER_KEY = 16;

export class PackedTotals {
  private readonly dead: Uint8Array;
  /** Each record's key hash: a probe compares these before any key byte (keys of one swarm share their first 20). */
  private readonly hashes: Int32Array;
  /** Record index + 1 per slot, 0: empty; a power of two at least twice the records. */
  private readonly slots: Int32Array;
  private readonly mask: number;
  /** The first record not yet expired or taken: expiry goes on from here, in the file's order. */
  private head = 0;
  /** Records neither expired nor taken. */
  live = 0;

  /**
   * `bytes` holds `count` records, the i-th from starts[i] to ends[i], oldest first, checked by the
   * decoder; ticks[i] is its touch time on the store's clock. A key twice: the first (older) one counts.
   */
  constructor(
    private bytes: Buffer,
    private readonly starts: Uint32Array,
    private readonly ends: Uint32Array,
    private readonly ticks: Float64Array,
    readonly count: number,
  ) {
    this.dead = new Uint8Array(count);
    this.hashes = new Int32Array(count);
    let size = 2;
    while (size < count * 2) size *= 2;
    this.slots = new Int32Array(size);
    this.mask = size - 1;
    const b = bytes;
    for (let i = 0; i < count; i++) {
      const at = starts[i]! + 1;
      const length = b[at - 1]!;
      let h = 0x811c9dc5;
      for (let j = 0; j < length; j++) h = Math.imul(h ^ b[at + j]!, 0x01000193);
      this.hashes[i] = h;
      let slot = h & this.mask;
      let twice = false;
      for (let v = this.slots[slot]!; v !== 0; v = this.slots[slot]!) {
        if (this.hashes[v - 1] === h && this.keyEquals(v - 1, at, length)) {
          twice = true;
          break;
        }
        slot = (slot + 1) & this.mask;
      }
      if (twice) {
        this.dead[i] = 1;
        continue;
      }
      this.slots[slot] = i + 1;
      this.live++;
    }
  }

  private keyEquals(i: number, at: number, length: number): boolean {
    const b = this.bytes;
    const other = this.starts[i]! + 1;
    if (b[other - 1] !== length) return false;
    for (let j = 0; j < length; j++) if (b[other + j] !== b[at + j]) return false;
    return true;
  }

  /** The index of the record kept under this key (latin1), or -1. */
  find(key: string): number {
    if (this.live === 0) return -1;
    let h = 0x811c9dc5;
    for (let j = 0; j < key.length; j++) h = Math.imul(h ^ key.charCodeAt(j), 0x01000193);
    const b = this.bytes;
    for (let slot = h & this.mask, v = this.slots[slot]!; v !== 0; slot = (slot + 1) & this.mask, v = this.slots[slot]!) {
      const i = v - 1;
      const at = this.starts[i]! + 1;
      if (this.hashes[i] !== h || this.dead[i] === 1 || b[at - 1] !== key.length) continue;
      let j = 0;
      while (j < key.length && b[at + j] === key.charCodeAt(j)) j++;
      if (j === key.length) return i;
    }
    return -1;
  }

  /** Record i as an object (the caller decides whether to take it: take()). */
  record(i: number): TotalsRecord {
    const b = this.bytes;
    let at = this.starts[i]!;
    const keyLength = b[at]!;
    const record = new TotalsRecord(b.toString('latin1', at + 1, at + 1 + keyLength));
    at += 1 + keyLength;
    record.uploaded = b.readDoubleLE(at);
    record.downloaded = b.readDoubleLE(at + 8);
    record.touched = this.ticks[i]!;
    record.previousUploaded = b.readDoubleLE(at + 24);
    record.previousDownloaded = b.readDoubleLE(at + 32);
    const flags = b[at + 40]!;
    at += 41;
    record.snatched = (flags & TOTALS_SNATCHED) !== 0;
    record.completed = (flags & TOTALS_COMPLETED) !== 0;
    const idLength = b.readUInt16LE(at);
    record.announceId = b.toString('utf8', at + 2, at + 2 + idLength);
    at += 2 + idLength;
    if (flags & TOTALS_SESSION) {
      const epochLength = b.readUInt16LE(at);
      const epoch = b.toString('utf8', at + 2, at + 2 + epochLength);
      at += 2 + epochLength;
      const session: AccountingSession = {
        epoch,
        seq: b.readDoubleLE(at),
        baseUploaded: b.readDoubleLE(at + 8),
        baseDownloaded: b.readDoubleLE(at + 16),
        open: (flags & SESSION_OPEN) !== 0,
      };
      if (flags & SESSION_HAS_COMPLETED) session.completed = (flags & SESSION_COMPLETED) !== 0;
      record.session = session;
    }
    return record;
  }

  /** Removes record i (taken by the live map, or expired); the buffer goes once none is left. */
  take(i: number): void {
    if (this.dead[i] === 1) return;
    this.dead[i] = 1;
    if (--this.live === 0) this.bytes = Buffer.alloc(0);
  }

  /** The torrent and user of record i (the first 28 bytes of its key), as PrivateTotals counts them. */
  owner(i: number): string {
    const at = this.starts[i]! + 1;
    return this.bytes.toString('latin1', at, at + Math.min(28, this.bytes[at - 1]!));
  }

  /**
   * Expires the records touched before cutoffTick, oldest first, each counted against the budget (the
   * ones taken before too, so that the work is bounded); calls dropped(i) for each record expired.
   * Returns the budget left, or -1 if it ran out first.
   */
  expire(cutoffTick: number, budget: number, dropped: (i: number) => void): number {
    while (this.head < this.count) {
      const i = this.head;
      if (this.dead[i] === 0 && this.ticks[i]! >= cutoffTick) return budget;
      if (budget-- <= 0) return -1;
      this.head++;
      if (this.dead[i] === 1) continue;
      dropped(i);
      this.take(i);
    }
    return budget;
  }

  /** Calls write(bytes, ageAt, tick) for each record left, oldest first: ageAt is the offset of its age in bytes. */
  forEachLive(write: (bytes: Buffer, ageAt: number, tick: number) => void): void {
    for (let i = this.head; i < this.count; i++) {
      if (this.dead[i] === 1) continue;
      const at = this.starts[i]!;
      write(this.bytes.subarray(at, this.ends[i]!), 1 + this.bytes[at]! + AGE_AFTER_KEY, this.ticks[i]!);
    }
  }

  /** The indices of the records left, oldest first. */
  *indices(): Generator<number> {
    for (let i = this.head; i < this.count; i++) if (this.dead[i] === 0) yield i;
  }
}
