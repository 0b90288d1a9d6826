/**
 * RangeSet built from many ranges (src/blocklist/ranges.ts), against a plain reference: IPv6 ranges over
 * several of the builder's blocks, sorted and merged in place across block boundaries, and IPv4 ranges
 * merged in their own arrays; every range's first and last address, the addresses just outside each
 * merged range, and random addresses are looked up in both.
 */
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { describe, it } from 'node:test';
import { RangeSetBuilder } from '../../src/blocklist/ranges.js';

/** Merged [first, last] pairs, sorted, overlapping or adjacent ones joined. */
function reference(ranges: Array<[bigint, bigint]>): Array<[bigint, bigint]> {
  const sorted = [...ranges].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out: Array<[bigint, bigint]> = [];
  for (const [first, last] of sorted) {
    const top = out[out.length - 1];
    if (top && first <= top[1] + 1n) {
      if (last > top[1]) top[1] = last;
    } else out.push([first, last]);
  }
  return out;
}

const covered = (merged: Array<[bigint, bigint]>, address: bigint): boolean => {
  let lo = 0;
  let hi = merged.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (address < merged[mid]![0]) hi = mid - 1;
    else if (address > merged[mid]![1]) lo = mid + 1;
    else return true;
  }
  return false;
};

function words(address: bigint): Uint32Array {
  return Uint32Array.from([0, 1, 2, 3], (w) => Number((address >> BigInt(96 - 32 * w)) & 0xffffffffn));
}

function bytes(address: bigint, length: 4 | 16): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = Number((address >> BigInt(8 * (length - 1 - i))) & 0xffn);
  return out;
}

describe('RangeSet over many ranges', () => {
  it('IPv6: merges across blocks as a plain sort and merge does', () => {
    // Addresses in a narrow space (the last 20 bits vary) so that many ranges overlap or touch.
    const base = 0x2001_0db8n << 96n;
    const ranges: Array<[bigint, bigint]> = [];
    for (let i = 0; i < 100_000; i++) {
      const first = base + BigInt(randomInt(0, 2 ** 22));
      ranges.push([first, first + BigInt(randomInt(0, 24))]);
    }
    ranges.push([(1n << 128n) - 5n, (1n << 128n) - 1n], [0n, 3n]);
    const builder = new RangeSetBuilder(1_000_000);
    for (const [first, last] of ranges) builder.add6(words(first), 0, words(last), 0);
    const set = builder.build();
    const merged = reference(ranges);
    assert.ok(merged.length > 2 * 32_768, `over two blocks: ${merged.length}`);
    assert.equal(set.size6, merged.length);
    const probes: bigint[] = [];
    for (const [first, last] of merged) probes.push(first, last, first - 1n, last + 1n);
    for (let i = 0; i < 100_000; i++) probes.push(base + BigInt(randomInt(0, 2 ** 22)));
    for (const address of probes) {
      if (address < 0n || address >= 1n << 128n) continue;
      assert.equal(set.has(bytes(address, 16)), covered(merged, address), `${address.toString(16)}`);
    }
  });

  it('IPv4: merges in place as a plain sort and merge does', () => {
    const ranges: Array<[bigint, bigint]> = [];
    for (let i = 0; i < 100_000; i++) {
      const first = randomInt(0, 2 ** 21);
      ranges.push([BigInt(first), BigInt(first + randomInt(0, 24))]);
    }
    ranges.push([2n ** 32n - 3n, 2n ** 32n - 1n]);
    const builder = new RangeSetBuilder(1_000_000);
    for (const [first, last] of ranges) builder.add4(Number(first), Number(last));
    const set = builder.build();
    const merged = reference(ranges);
    assert.equal(set.size4, merged.length);
    const probes: bigint[] = [];
    for (const [first, last] of merged) probes.push(first, last, first - 1n, last + 1n);
    for (let i = 0; i < 100_000; i++) probes.push(BigInt(randomInt(0, 2 ** 21)));
    for (const address of probes) {
      if (address < 0n || address >= 1n << 32n) continue;
      assert.equal(set.has(bytes(address, 4)), covered(merged, address), `${address}`);
    }
  });
});
