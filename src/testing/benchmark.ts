/**
 * A driver benchmark, after chihaya's storage_bench.go: announces and scrapes straight against a
 * TrackerStore (no HTTP, no parsing), a few shapes, each timed on its own. Usable from a test (small
 * counts, then check the numbers are sane) or from a plain script (print: true).
 *
 *   import { benchmarkDriver } from 'shoal/testing';
 *   await benchmarkDriver(({ peerTtl }) => myDriver.open({}, { peerTtl, logger }), { print: true });
 */
import { randomBytes } from 'node:crypto';
import type { SwarmAnnounce, TrackerStore } from '../store/driver.js';
import { v4Addr, type StoreFactory } from './harness.js';

export interface BenchmarkOptions {
  /** Timed operations per shape (default 10000). */
  operations?: number;
  /** Peers in the one big swarm (default 1000). */
  peers?: number;
  /** Swarms of the many-swarms shape (default 1000). */
  swarms?: number;
  /** Hashes per scrape call (default 10). */
  scrapeHashes?: number;
  /** Operations in flight at once (default 16): a networked store is measured under concurrency. */
  concurrency?: number;
  /** Peers wanted per announce (default 50). */
  numwant?: number;
  /** Print a line per shape to stdout (true) or to this function. */
  print?: boolean | ((line: string) => void);
}

export interface BenchmarkResult {
  shape: string;
  operations: number;
  seconds: number;
  /** Operations per second (announces/s, or scrape calls/s). */
  perSecond: number;
  /** Wall-clock microseconds per operation at the concurrency used (1e6 / perSecond). */
  microsPerOp: number;
}

const announce = (infoHash: Buffer, v4: Buffer, numwant: number, seeder = false): SwarmAnnounce => ({
  infoHash,
  peerId: randomBytes(20),
  v4,
  seeder,
  event: 'none',
  numwant,
  want4: true,
  want6: false,
  subnet4: 0,
  subnet6: 0,
  withPeerIds: false,
});

/** Runs `count` operations, `concurrency` at a time; returns the seconds taken. */
async function timed(count: number, concurrency: number, op: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await op(next++);
  };
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/**
 * Opens a store with `open` (peer TTL one hour, so that nothing expires during the run), fills and
 * times each shape, closes the store, and returns one result per shape:
 * - "announce, one swarm of N peers": its peers re-announce, a quarter of them seeders, numwant peers back;
 * - "announce, many swarms": new peers spread over many swarms;
 * - "scrape, K hashes": scrape calls over the many swarms.
 */
export async function benchmarkDriver(open: StoreFactory, options: BenchmarkOptions = {}): Promise<BenchmarkResult[]> {
  const operations = options.operations ?? 10_000;
  const peers = options.peers ?? 1000;
  const swarms = options.swarms ?? 1000;
  const scrapeHashes = options.scrapeHashes ?? 10;
  const concurrency = options.concurrency ?? 16;
  const numwant = options.numwant ?? 50;
  const print = options.print === true ? (line: string) => console.log(line) : options.print || undefined;
  for (const [name, value, min] of [
    ['operations', operations, 1],
    ['peers', peers, 1],
    ['swarms', swarms, 1],
    ['scrapeHashes', scrapeHashes, 1],
    ['concurrency', concurrency, 1],
    ['numwant', numwant, 0],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`benchmarkDriver: ${name} must be an integer of at least ${min}`);
  }

  const store: TrackerStore = await open({ peerTtl: 3600 });
  const results: BenchmarkResult[] = [];
  const record = (shape: string, seconds: number): void => {
    const perSecond = operations / seconds;
    const result = { shape, operations, seconds, perSecond, microsPerOp: 1e6 / perSecond };
    results.push(result);
    print?.(
      `${shape.padEnd(36)} ${Math.round(perSecond).toString().padStart(9)} ops/s ${result.microsPerOp.toFixed(1).padStart(9)} µs/op  (${operations} ops, concurrency ${concurrency})`,
    );
  };
  try {
    const big = randomBytes(20);
    const members = Array.from({ length: peers }, () => v4Addr());
    await timed(peers, concurrency, (i) => store.announce(announce(big, members[i]!, 0, i % 4 === 0)));
    record(
      `announce, one swarm of ${peers} peers`,
      await timed(operations, concurrency, (i) => store.announce(announce(big, members[i % peers]!, numwant, (i % peers) % 4 === 0))),
    );

    const hashes = Array.from({ length: swarms }, () => randomBytes(20));
    record(`announce, ${swarms} swarms`, await timed(operations, concurrency, (i) => store.announce(announce(hashes[i % swarms]!, v4Addr(), numwant))));

    record(
      `scrape, ${scrapeHashes} hashes`,
      await timed(operations, concurrency, (i) => store.scrape(Array.from({ length: scrapeHashes }, (_, k) => hashes[(i * scrapeHashes + k) % swarms]!))),
    );
  } finally {
    await store.close();
  }
  return results;
}
