import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PeerTable } from '../../../src/store/memory/peers.js';
import { Picks, RUN_LENGTH, RUNS_FROM, samplePeers } from '../../../src/store/memory/select.js';

const addrOf = (n: number): Buffer => {
  const b = Buffer.alloc(6);
  b.writeUInt32BE(0x0a000000 + n, 0);
  b.writeUInt16BE(6881, 4);
  return b;
};

/** A table of `seeders` seeders then `leechers` leechers; peer n's user is `userOf(n)`. */
function tableOf(seeders: number, leechers: number, userOf: (n: number) => number = () => 0): PeerTable {
  const table = new PeerTable(6, 'k', 0);
  for (let n = 0; n < seeders + leechers; n++) table.add(addrOf(n), Buffer.alloc(20, n % 251), n < seeders, 1, userOf(n));
  assert.equal(table.seeders, seeders);
  return table;
}

function sample(table: PeerTable, from: number, to: number, count: number, exclude = -1, excludeUser = 0): number[] {
  const out = new Picks().reset(table);
  samplePeers(table, from, to, count, exclude, out, excludeUser);
  return Array.from(out.slots.subarray(0, out.length));
}

describe('memory peer selection in runs (ranges far larger than the count)', () => {
  // Large enough to be sampled in runs for counts up to 50, small enough to check by counting.
  const size = Math.max(50, RUN_LENGTH) * RUNS_FROM;

  it('returns the count asked for, distinct, inside the range, never the announcer', () => {
    const table = tableOf(0, size);
    for (let round = 0; round < 2000; round++) {
      const exclude = Math.floor(Math.random() * size);
      const count = 1 + (round % 50);
      const got = sample(table, 0, size, count, exclude);
      assert.equal(got.length, count);
      assert.equal(new Set(got).size, count, 'no duplicates');
      assert.ok(!got.includes(exclude), 'never the announcer');
      assert.ok(got.every((slot) => slot >= 0 && slot < size));
    }
  });

  it('returns every peer, the first and last slots of the range included, about equally often', () => {
    const table = tableOf(0, size);
    const times = new Array<number>(size).fill(0);
    const rounds = 4000;
    for (let round = 0; round < rounds; round++) for (const slot of sample(table, 0, size, 50)) times[slot]!++;
    // Each slot is in an answer with probability 50/size: 250 times on average over 4000 answers.
    const mean = (rounds * 50) / size;
    const low = Math.min(...times);
    const high = Math.max(...times);
    assert.ok(low >= mean * 0.5 && high <= mean * 1.6, `times each slot was returned: min ${low}, max ${high}, mean ${mean}`);
    // A run that did not wrap around would reach the last slots of the range less often than the middle.
    const edges = [...times.slice(0, RUN_LENGTH), ...times.slice(size - RUN_LENGTH)];
    const edgeMean = edges.reduce((a, b) => a + b, 0) / edges.length;
    assert.ok(edgeMean > mean * 0.8 && edgeMean < mean * 1.2, `the slots at the range's ends: ${edgeMean} times on average, ${mean} expected`);
  });

  it('wraps a run from the end of the range to its start, and not beyond the range', () => {
    // Leechers' range [seeders, count): a run starting near the end continues at the first leecher.
    const seeders = 100;
    const table = tableOf(seeders, size);
    let wrapped = false;
    for (let round = 0; round < 3000 && !wrapped; round++) {
      const got = sample(table, seeders, seeders + size, 50);
      assert.ok(
        got.every((slot) => slot >= seeders && slot < seeders + size),
        'only leechers',
      );
      for (let i = 1; i < got.length; i++) if (got[i - 1] === seeders + size - 1 && got[i] === seeders) wrapped = true;
    }
    assert.ok(wrapped, 'some run went on from the last leecher to the first');
  });

  it("samples the seeders' range and the leechers' range each on its own", () => {
    const table = tableOf(size, size);
    const seen = new Set<number>();
    for (let round = 0; round < 200; round++) {
      const got = sample(table, 0, size, 50);
      assert.ok(got.every((slot) => slot < size));
      for (const slot of got) seen.add(slot);
    }
    assert.ok(seen.size > size / 2, `200 answers of 50 cover most of ${size} seeders (saw ${seen.size})`);
  });

  it("skips the excluded user's peers, and stays bounded when that user crowds the swarm", () => {
    // Every other peer is user 7's: the answer holds only the others.
    const half = tableOf(0, size, (n) => (n % 2 === 0 ? 7 : 0));
    for (let round = 0; round < 200; round++) {
      const got = sample(half, 0, size, 50, -1, 7);
      assert.equal(got.length, 50);
      assert.ok(got.every((slot) => half.userOf(slot) !== 7));
      assert.equal(new Set(got).size, 50);
    }
    // All but a handful are user 7's: the capped number of runs finds few or none, but never theirs.
    const crowded = tableOf(0, size, (n) => (n % 400 === 0 ? 0 : 7));
    for (let round = 0; round < 200; round++) {
      const got = sample(crowded, 0, size, 50, -1, 7);
      assert.ok(got.length < 50);
      assert.ok(got.every((slot) => crowded.userOf(slot) !== 7));
    }
  });

  it('keeps the small-range paths for ranges not far larger than the count', () => {
    const table = tableOf(0, 300);
    // 300 slots for 50 wanted: drawn one by one, not in runs, so not mostly consecutive.
    let consecutive = 0;
    for (let round = 0; round < 100; round++) {
      const got = sample(table, 0, 300, 50);
      assert.equal(new Set(got).size, 50);
      for (let i = 1; i < got.length; i++) if (got[i] === got[i - 1]! + 1) consecutive++;
    }
    assert.ok(consecutive < 100 * 49 * 0.1, `independent draws are seldom neighbours (${consecutive} of ${100 * 49})`);
  });
});
