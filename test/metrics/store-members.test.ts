/**
 * The metrics layer between the driver's store and the tracker loses no member of the store: every
 * member the driver's store has (own or inherited: fields, methods, optional parts such as leeching,
 * peers, connectable, webtorrent) is reachable, the same, through what boot hands the tracker. A decorator
 * that hand-copied members dropped optional ones it did not list, each found only end to end.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout } from 'node:timers/promises';
import { pino } from 'pino';
import { boot, type RunningTracker } from '../../src/boot.js';
import type { TrackerStore } from '../../src/store/driver.js';
import { registerTrackerDriver, trackerDrivers } from '../../src/store/registry.js';
import { passThrough } from '../../src/metrics/metrics.js';
import { redisMissing, startRedis, type RedisServer } from '../helpers/redis.js';
import { TEST_UDP_SECRET } from '../helpers/tracker.js';

/** The stores each recording driver opened, by driver name. */
const opened = new Map<string, TrackerStore>();
for (const name of ['memory', 'redis']) {
  const driver = trackerDrivers.get(name)!;
  registerTrackerDriver(`recorded-${name}`, {
    async open(params, ctx) {
      const store = await driver.open(params, ctx);
      opened.set(name, store);
      return store;
    },
  });
}

/** Every member of `object`, by name, whether an accessor: its own, then its prototypes' up to Object.prototype. */
function members(object: object): Map<string | symbol, boolean> {
  const found = new Map<string | symbol, boolean>();
  for (let level: object | null = object; level && level !== Object.prototype; level = Object.getPrototypeOf(level) as object | null)
    for (const key of Reflect.ownKeys(level)) {
      const member = Object.getOwnPropertyDescriptor(level, key)!;
      if (key !== 'constructor' && !found.has(key)) found.set(key, member.get !== undefined || member.set !== undefined);
    }
  return found;
}

/** The optional members of TrackerStore, each of which a decorator has dropped or could drop. */
const OPTIONAL = ['addresses', 'leeching', 'peers', 'connectable', 'webtorrent', 'shared', 'scrapeAll', 'events', 'stats', 'addBudgetCounts'] as const;
/** What the metrics layer times in place of the store's own. */
const TIMED = new Set<string | symbol>(['announce', 'scrape']);

function assertEveryMember(raw: TrackerStore, handed: TrackerStore): void {
  assert.notEqual(handed, raw, 'the metrics layer is in place (announce and scrape are timed)');
  for (const [name, accessor] of members(raw)) {
    const own = (raw as unknown as Record<string | symbol, unknown>)[name];
    const seen = (handed as unknown as Record<string | symbol, unknown>)[name];
    if (typeof own === 'function') {
      assert.equal(typeof seen, 'function', `member ${String(name)} lost`);
      if (TIMED.has(name)) assert.notEqual(seen, own, `${String(name)} is not timed`);
    } else if (accessor) {
      // An accessor may answer a new object at each read.
      assert.deepEqual(seen, own, `accessor ${String(name)} lost or changed`);
    } else {
      assert.equal(seen, own, `member ${String(name)} lost or changed`);
    }
  }
}

async function bootWith(driver: string, params: Record<string, unknown>): Promise<RunningTracker> {
  return boot({
    config: {
      private_enabled: true,
      private: { connectable_check: true },
      webtorrent: { enabled: true },
      tracker: { driver, params },
      http: { addr: '127.0.0.1:0' },
      udp: { addr: '', secret: TEST_UDP_SECRET },
      metrics: { addr: '' },
    },
    env: {},
    logger: pino({ level: 'silent' }),
  });
}

describe('the store boot hands the tracker', () => {
  it('has every member of the memory driver’s store, methods still working on the store', async () => {
    const running = await bootWith('recorded-memory', {});
    try {
      const raw = opened.get('memory')!;
      for (const name of ['leeching', 'peers', 'addresses', 'webtorrent', 'scrapeAll', 'stats'] as const)
        assert.ok(raw[name] !== undefined, `the memory store has ${name} (else this test checks less)`);
      const handed = running.tracker.store;
      assertEveryMember(raw, handed);
      for (const name of OPTIONAL) assert.equal(handed[name] === undefined, raw[name] === undefined, name);
      assert.equal(await handed.ready(), true);
      assert.deepEqual(await handed.stats!(), await raw.stats!());
    } finally {
      await running.close();
    }
  });

  describe('of the redis driver', { skip: redisMissing() ?? false }, () => {
    let redis: RedisServer;
    before(async () => {
      redis = await startRedis();
    });
    after(async () => {
      await redis?.kill();
    });

    it('has every member of its store', async () => {
      const running = await bootWith('recorded-redis', { url: redis.url });
      try {
        const raw = opened.get('redis')!;
        for (const name of ['leeching', 'peers', 'addresses', 'connectable', 'webtorrent', 'shared', 'events', 'addBudgetCounts'] as const)
          assert.ok(raw[name] !== undefined, `the redis store has ${name} (else this test checks less)`);
        const handed = running.tracker.store;
        assertEveryMember(raw, handed);
        for (const name of OPTIONAL) assert.equal(handed[name] === undefined, raw[name] === undefined, name);
        // Ready once its subscriptions hold: the store's own method, run on the store, answers.
        for (let i = 0; i < 100 && !(await raw.ready()); i++) await setTimeout(50);
        assert.equal(await handed.ready(), true);
      } finally {
        await running.close();
      }
    });
  });
});

describe('passThrough', () => {
  class Base {
    count = 0;
    inherited(): string {
      return 'base';
    }
  }
  class Store extends Base {
    readonly field = { x: 1 };
    private hidden = 'h';
    get view(): string {
      return `${this.hidden}:${this.count}`;
    }
    bump(): number {
      return ++this.count;
    }
    timed(): string {
      return 'raw';
    }
  }

  it('forwards fields, inherited methods and accessors; methods run on the target; replaced members win', () => {
    const store = new Store();
    const out = passThrough(store, { timed: () => 'replaced' });
    assert.equal(out.field, store.field);
    assert.equal(out.inherited(), 'base');
    assert.equal(out.timed(), 'replaced');
    assert.equal(out.bump(), 1);
    assert.equal(store.count, 1, 'a method writes to the target, not to the pass-through');
    assert.equal(out.view, 'h:1', 'an accessor reads the target now');
    assert.throws(() => ((out as { field: unknown }).field = null), TypeError, 'a write to the pass-through would part it from the target');
  });
});
