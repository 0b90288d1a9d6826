/**
 * Request budgets shared by three replicas through one real redis-server: a client spreading a flood
 * at 20 times its budget over all three is held to one budget, within the stated accuracy (budget.ts):
 * budget + rate × (sync interval + a round trip) + replicas × shareThreshold, where three budgets would
 * get through if nothing were shared.
 */
import { Redis } from 'ioredis';
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { shareThreshold } from '../../src/tracker/budget.js';
import { announcePath, randomHash } from '../helpers/http.js';
import { LoopbackClient, paced, type Outcome } from '../helpers/loopback-clients.js';
import { redisMissing, startRedis, type RedisServer } from '../helpers/redis.js';
import { startTracker, type TestTracker } from '../helpers/tracker.js';

const WINDOW = 10;
const PER_ADDRESS = 300;
const SYNC_SECONDS = 0.25;
const RATE = (20 * PER_ADDRESS) / WINDOW;
const FLOOD_MS = 8000;
/** Time for a sync's answer to come back from Redis on loopback, with room for a loaded machine. */
const ROUND_TRIP_SECONDS = 0.05;

describe('request budgets shared by 3 replicas through Redis', { skip: redisMissing() ?? false }, () => {
  let redis: RedisServer;
  let replicas: TestTracker[] = [];

  before(async () => {
    redis = await startRedis();
    replicas = await Promise.all(
      [0, 1, 2].map(() =>
        startTracker({
          tracker: { driver: 'redis', params: { url: redis.url, prefix: 'bud:' } },
          budget: { window: WINDOW, per_address: PER_ADDRESS, per_subnet: 0, sync_interval: SYNC_SECONDS },
        }),
      ),
    );
  });
  after(async () => {
    await Promise.all(replicas.map((r) => r.close()));
    await redis.kill();
  });

  it('holds a flood spread over all three to one budget, within the stated accuracy', async () => {
    // Start at the beginning of a window, so that the whole flood falls into one.
    await sleep(WINDOW * 1000 - (Date.now() % (WINDOW * 1000)) + 200);
    const window = Math.floor(Date.now() / (WINDOW * 1000));
    const clients = replicas.map((r) => new LoopbackClient('127.3.0.2', r.port, 16));
    const outcomes: Outcome[] = [];
    let next = 0;
    const sent = await paced(RATE, FLOOD_MS, async () =>
      outcomes.push(await clients[next++ % 3]!.get(announcePath({ infoHash: randomHash(), event: 'started' }))),
    );
    for (const c of clients) c.close();
    const admitted = outcomes.filter((o) => !o.failed && o.failureReason === undefined).length;
    const refused = outcomes.filter((o) => o.failureReason?.startsWith('too many requests')).length;
    const bound = PER_ADDRESS + RATE * (SYNC_SECONDS + ROUND_TRIP_SECONDS) + 3 * shareThreshold(PER_ADDRESS);
    console.log(
      `budget across 3 replicas: budget ${PER_ADDRESS} per ${WINDOW} s, flood ${sent} in ${FLOOD_MS / 1000} s (${(sent / (FLOOD_MS / 1000)).toFixed(0)}/s) ` +
        `spread over 3 replicas, sync every ${SYNC_SECONDS} s: ${admitted} admitted (${((admitted / PER_ADDRESS) * 100).toFixed(0)}% of one budget; ` +
        `stated bound ${bound}; unshared it would be ${3 * PER_ADDRESS}), ${refused} refused`,
    );
    assert.equal(admitted + refused, outcomes.length, 'every request answered');
    assert.ok(sent >= 0.8 * RATE * (FLOOD_MS / 1000), `the flood ran at about 20x (${sent})`);
    assert.ok(admitted <= bound, `admitted ${admitted} > bound ${bound}`);
    assert.ok(admitted < 3 * PER_ADDRESS, 'sharing did something');
    assert.ok(admitted >= 0.8 * PER_ADDRESS, `the budget itself is granted (${admitted})`);
    // The shared counter in Redis holds what the replicas admitted.
    const key = `bud:b:a:7f030002:${window}`;
    const client = new Redis(redis.port, '127.0.0.1');
    await sleep(SYNC_SECONDS * 1000 * 3);
    const shared = Number(await client.get(key));
    client.disconnect();
    assert.ok(Math.abs(shared - admitted) <= 3 * shareThreshold(PER_ADDRESS), `shared counter ${shared}, admitted ${admitted}`);
  });
});
