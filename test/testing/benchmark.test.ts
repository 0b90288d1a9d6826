/** benchmarkDriver from shoal/testing, with small counts: it runs every shape and returns sane numbers. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { TrackerStore } from '../../src/store/driver.js';
import { memoryDriver } from '../../src/store/memory/driver.js';
import { redisDriver } from '../../src/store/redis/driver.js';
import { benchmarkDriver, type BenchmarkResult, type StoreFactory } from '../../src/testing/index.js';
import { redisMissing, startRedis, type RedisServer } from '../helpers/redis.js';

const logger = pino({ level: 'silent' });

/** The factory's store, with its announces and scrapes counted, so that the test knows the work was done. */
function counted(open: StoreFactory): { open: StoreFactory; calls: { announce: number; scrape: number; closed: boolean } } {
  const calls = { announce: 0, scrape: 0, closed: false };
  return {
    calls,
    open: async (options) => {
      const store = await open(options);
      const wrapped: TrackerStore = {
        catalogue: store.catalogue,
        announce: (request) => (calls.announce++, store.announce(request)),
        scrape: (hashes) => (calls.scrape++, store.scrape(hashes)),
        ready: () => store.ready(),
        close: () => ((calls.closed = true), store.close()),
      };
      return wrapped;
    },
  };
}

function checkSane(results: BenchmarkResult[], operations: number): void {
  assert.deepEqual(
    results.map((r) => r.shape),
    ['announce, one swarm of 50 peers', 'announce, 20 swarms', 'scrape, 5 hashes'],
  );
  for (const r of results) {
    assert.equal(r.operations, operations);
    assert.ok(Number.isFinite(r.perSecond) && r.perSecond > 0, `${r.shape}: ${r.perSecond} ops/s`);
    assert.ok(Number.isFinite(r.seconds) && r.seconds > 0, `${r.shape}: ${r.seconds} s`);
    assert.ok(Math.abs(r.microsPerOp * r.perSecond - 1e6) < 1, `${r.shape}: µs per op is 1e6 / ops per second`);
  }
}

async function run(open: StoreFactory): Promise<void> {
  const probe = counted(open);
  const lines: string[] = [];
  const results = await benchmarkDriver(probe.open, {
    operations: 200,
    peers: 50,
    swarms: 20,
    scrapeHashes: 5,
    concurrency: 4,
    print: (line) => lines.push(line),
  });
  checkSane(results, 200);
  assert.deepEqual(probe.calls, { announce: 50 + 200 + 200, scrape: 200, closed: true }, 'the swarm filled, every timed operation made, the store closed');
  assert.equal(lines.length, 3);
  assert.match(lines[0]!, /^announce, one swarm of 50 peers +\d+ ops\/s +[\d.]+ µs\/op/);
}

describe('benchmarkDriver', () => {
  it('measures the memory driver', () => run(({ peerTtl }) => memoryDriver.open({}, { peerTtl, logger })));

  it('refuses nonsense counts before opening a store', async () => {
    let opened = false;
    const open: StoreFactory = async () => {
      opened = true;
      throw new Error('not reached');
    };
    await assert.rejects(benchmarkDriver(open, { operations: 0 }), /operations must be an integer of at least 1/);
    await assert.rejects(benchmarkDriver(open, { concurrency: 1.5 }), /concurrency/);
    assert.equal(opened, false);
  });

  describe('redis (standalone)', { skip: redisMissing() ?? false }, () => {
    let server: RedisServer;
    before(async () => {
      server = await startRedis();
    });
    after(() => server.kill());
    it('measures the redis driver', () => run(({ peerTtl }) => redisDriver.open({ url: server.url }, { peerTtl, logger })));
  });
});
