/**
 * The accounting stream's length and consumer lag, polled by the redis-stream backend, against a real
 * redis-server and a real consumer group: entries not yet read show as lag, read but unacknowledged as
 * pending; a missing stream is empty, and a failed poll is counted, not thrown.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { MAX_GROUPS, parseGroups, StreamLagMonitor } from '../../src/backend/stream/lag.js';
import { connectRedis } from '../../src/redis/connection.js';
import { parseStreamParams } from '../../src/backend/stream/params.js';
import { MetricsProbe } from '../helpers/accounting.js';
import { redisMissing, startRedis, type RedisServer } from '../helpers/redis.js';

const missing = redisMissing();
const silent = pino({ level: 'silent' });

describe('XINFO GROUPS parsing', () => {
  it('reads name, lag and pending, keeps a nil lag as unknown, skips malformed entries, and caps the groups', () => {
    assert.deepEqual(
      parseGroups([
        ['name', 'a', 'consumers', 1, 'pending', 3, 'last-delivered-id', '1-0', 'entries-read', 5, 'lag', 7],
        ['name', 'b', 'consumers', 0, 'pending', 0, 'last-delivered-id', '0-0', 'entries-read', null, 'lag', null],
        ['name', 'old', 'consumers', 0, 'pending', 2, 'last-delivered-id', '0-0'],
        ['pending', 1],
        'junk',
      ]),
      [
        { name: 'a', pending: 3, lag: 7 },
        { name: 'b', pending: 0, lag: null },
        { name: 'old', pending: 2, lag: null },
      ],
    );
    assert.deepEqual(parseGroups('ERR'), []);
    const many = Array.from({ length: 40 }, (_, i) => ['name', `g${i}`, 'pending', 0, 'lag', 0]);
    assert.equal(parseGroups(many).length, MAX_GROUPS);
  });
});

describe('redis-stream consumer lag', { skip: missing ?? false }, () => {
  let redis: RedisServer;
  let admin: Redis;

  before(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url, { maxRetriesPerRequest: null });
    admin.on('error', () => {});
  });
  after(async () => {
    admin.disconnect();
    await redis.kill();
  });

  async function monitor(stream: string): Promise<{ lag: StreamLagMonitor; probe: MetricsProbe; close: () => void }> {
    const params = parseStreamParams({ url: redis.url, stream, command_timeout: 1000 });
    const client = connectRedis(params, silent, { offlineQueue: false });
    // Connected first, so that the tests count only the failures they cause.
    if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve));
    const probe = new MetricsProbe();
    return { lag: new StreamLagMonitor(client, stream, probe.metrics.stream, silent), probe, close: () => client.disconnect() };
  }

  const groupValue = (probe: MetricsProbe, name: string, group: string) => probe.value(name, { group });

  it('reports entries not read as lag and read but unacknowledged as pending, per group', async () => {
    const stream = `lag:${process.pid}:a`;
    const { lag, probe, close } = await monitor(stream);
    try {
      for (let i = 0; i < 10; i++) await admin.xadd(stream, '*', 'n', String(i));
      await admin.xgroup('CREATE', stream, 'consumer', '0');
      await admin.xgroup('CREATE', stream, 'caught-up', '$');
      await admin.xadd(stream, '*', 'n', '10');
      await waitReady(lag);
      assert.equal(await probe.value('tracker_backend_stream_length'), 11);
      assert.equal(await groupValue(probe, 'tracker_backend_consumer_lag', 'consumer'), 11);
      assert.equal(await groupValue(probe, 'tracker_backend_consumer_pending', 'consumer'), 0);
      // A group made at '$' has no entries-read counter, so Redis (7.0) answers a nil lag: pending only.
      const lagGroups = (await probe.registry.getSingleMetric('tracker_backend_consumer_lag')!.get()).values.map((v) => v.labels.group);
      const [info] = parseGroups(await admin.xinfo('GROUPS', stream)).filter((g) => g.name === 'caught-up');
      assert.equal(lagGroups.includes('caught-up'), info!.lag !== null, 'a lag series exactly when Redis knows the lag');
      assert.equal(await groupValue(probe, 'tracker_backend_consumer_pending', 'caught-up'), 0);

      const read = (await admin.xreadgroup('GROUP', 'consumer', 'c1', 'COUNT', 4, 'STREAMS', stream, '>')) as Array<[string, Array<[string, string[]]>]>;
      const ids = read[0]![1].map(([id]) => id);
      assert.equal(ids.length, 4);
      await admin.xack(stream, 'consumer', ids[0]!, ids[1]!);
      assert.equal(await lag.poll(), true);
      assert.equal(await groupValue(probe, 'tracker_backend_consumer_lag', 'consumer'), 7, '11 added, 4 delivered');
      assert.equal(await groupValue(probe, 'tracker_backend_consumer_pending', 'consumer'), 2, '4 delivered, 2 acknowledged');

      // A group deleted since the last poll disappears from the metrics.
      await admin.xgroup('DESTROY', stream, 'caught-up');
      assert.equal(await lag.poll(), true);
      const groups = (await probe.registry.getSingleMetric('tracker_backend_consumer_pending')!.get()).values.map((v) => v.labels.group);
      assert.deepEqual(groups, ['consumer']);
      assert.equal(await probe.value('tracker_backend_stream_poll_errors_total'), 0);
    } finally {
      close();
    }
  });

  it('reports a stream that does not exist yet as empty, without groups or errors', async () => {
    const { lag, probe, close } = await monitor(`lag:${process.pid}:missing`);
    try {
      await waitReady(lag);
      assert.equal(await probe.value('tracker_backend_stream_length'), 0);
      assert.deepEqual((await probe.registry.getSingleMetric('tracker_backend_consumer_lag')!.get()).values, []);
      assert.equal(await probe.value('tracker_backend_stream_poll_errors_total'), 0);
    } finally {
      close();
    }
  });

  it('counts a poll that fails while Redis is down, keeps the last values, and recovers', async () => {
    const stream = `lag:${process.pid}:outage`;
    await admin.xadd(stream, '*', 'n', '0');
    await admin.xgroup('CREATE', stream, 'consumer', '0');
    const { lag, probe, close } = await monitor(stream);
    try {
      await waitReady(lag);
      assert.equal(await groupValue(probe, 'tracker_backend_consumer_lag', 'consumer'), 1);
      await redis.kill();
      const started = Date.now();
      assert.equal(await lag.poll(), false, 'a poll without Redis fails');
      assert.ok(Date.now() - started < 2000, 'and does not wait beyond command_timeout');
      assert.equal(await probe.value('tracker_backend_stream_poll_errors_total'), 1);
      assert.equal(await groupValue(probe, 'tracker_backend_consumer_lag', 'consumer'), 1, 'the last value stays');
      await redis.start();
      await waitReady(lag);
      assert.equal(await probe.value('tracker_backend_stream_length'), Number(await admin.xlen(stream)), 'polls succeed again once Redis is back');
    } finally {
      close();
    }
  });
});

/** Polls until one succeeds: the client connects in the background. */
async function waitReady(lag: StreamLagMonitor): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await lag.poll())) {
    if (Date.now() > deadline) throw new Error('no successful poll within 10 s');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
