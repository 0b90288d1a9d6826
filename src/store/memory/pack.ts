/**
 * Packing picked peers into an answer: their addresses (or peer ids) copied out of their table in the
 * order picked, consecutive slots as one span.
 */
import { PEER_ID_LENGTH } from '../../bittorrent/announce.js';
import type { Picks } from './select.js';

const EMPTY = Buffer.alloc(0);

export function packAddresses(picks: Picks, size: number): Buffer {
  if (picks.length === 0) return EMPTY;
  const out = Buffer.allocUnsafe(picks.length * size);
  const table = picks.table!;
  const bytes = table.bytes;
  // In a large swarm each pick is a cache miss: a first pass of independent loads lets the CPU wait for
  // many of them at once, where the copy loop alone would wait for a few at a time.
  let touched = 0;
  for (let i = 0; i < picks.length; i++) touched |= bytes[table.addrOffset + picks.slots[i]! * size]!;
  out[0] = touched;
  copySlots(picks, table.addrOffset, size, out);
  return out;
}

export function packPeerIds(picks: Picks): Buffer {
  const out = Buffer.allocUnsafe(picks.length * PEER_ID_LENGTH);
  if (picks.length > 0) copySlots(picks, picks.table!.idOffset, PEER_ID_LENGTH, out);
  return out;
}

/**
 * Spans at least this long are copied with TypedArray#set, shorter ones byte by byte: set has a fixed
 * cost, the loop one per byte (measured: docs/performance.md, "Hand-written hot paths").
 */
const SPAN_SET_BYTES = 40;

/**
 * Copies the `size`-byte items of the picked slots, stored from byte `base` of their table, into `out`
 * in the order picked. Consecutive slots (the runs that sampleRuns draws in large swarms) are one span.
 */
function copySlots(picks: Picks, base: number, size: number, out: Buffer): void {
  const slots = picks.slots;
  const bytes = picks.table!.bytes;
  let offset = 0;
  for (let i = 0; i < picks.length;) {
    let j = i + 1;
    while (j < picks.length && slots[j] === slots[j - 1]! + 1) j++;
    const start = base + slots[i]! * size;
    const length = (j - i) * size;
    if (length >= SPAN_SET_BYTES) out.set(bytes.subarray(start, start + length), offset);
    else for (let b = 0; b < length; b++) out[offset + b] = bytes[start + b]!;
    offset += length;
    i = j;
  }
}
