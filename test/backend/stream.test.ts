/**
 * The redis-stream backend driver against a real redis-server: batching by size and by interval,
 * retries through an outage, both overflow policies, and the flush at close.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { AccountingRecord, Backend } from '../../src/backend/driver.js';
import { backendDrivers } from '../../src/backend/registry.js';
import { fromFields } from '../../src/backend/stream/entry.js';
import { parseStreamParams } from '../../src/backend/stream/params.js';
import { makeRecord, MetricsProbe } from '../helpers/accounting.js';
import { redisMissing, startRedis, type RedisServer } from '../helpers/redis.js';
import { waitUntil } from '../helpers/wait.js';

const missing = redisMissing();
const silent = pino({ level: 'silent' });

/**
 * Opens the driver. The buffering tests count on record() returning at once while there is room, so
 * they turn off the wait of stopped and completed records (event_wait 0) unless they set it.
 */
async function open(params: Record<string, unknown>, probe = new MetricsProbe()): Promise<{ backend: Backend; probe: MetricsProbe }> {
  const driver = backendDrivers.get('redis-stream');
  assert.ok(driver, 'redis-stream is registered');
  assert.equal(driver.wantsRecords, true);
  return { backend: await driver.open({ event_wait: 0, ...params }, { logger: silent, metrics: probe.metrics }), probe };
}

/** True once the promise settled (it is never awaited for its value here). */
function settledFlag(promise: Promise<unknown>): () => boolean {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  return () => settled;
}

describe('redis-stream backend parameters', () => {
  it('has defaults, shares the connection keys with the redis tracker driver, and names bad keys', () => {
    const d = parseStreamParams({});
    assert.deepEqual(
      [d.stream, d.batchSize, d.flushInterval, d.bufferLimit, d.overflow, d.maxLen, d.commandTimeout],
      ['shoal:accounting', 500, 1000, 100_000, 'block', 0, 5000],
    );
    assert.deepEqual(parseStreamParams({ cluster: ['10.0.0.1:7000'] }).cluster, [{ host: '10.0.0.1', port: 7000 }]);
    const s = parseStreamParams({ sentinels: ['[::1]:26379'], name: 'm', overflow: 'drop_oldest' });
    assert.deepEqual([s.sentinels, s.name, s.overflow], [[{ host: '::1', port: 26379 }], 'm', 'drop_oldest']);
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ url: 'http://x' }, /^ConfigError: backend\.params\.url: must be a redis/],
      [{ sentinels: ['a:1'] }, /backend\.params\.name: Sentinel needs/],
      [{ url: 'redis://a:1', cluster: ['a:1'] }, /backend\.params\.url: give one of/],
      [{ stream: '' }, /backend\.params\.stream: must not be empty/],
      [{ batch_size: 0 }, /backend\.params\.batch_size: must be an integer from 1/],
      [{ flush_interval: 1.5 }, /backend\.params\.flush_interval: must be an integer/],
      [{ buffer_limit: 10, batch_size: 20 }, /backend\.params\.buffer_limit: must be at least batch_size \(20\)/],
      [{ overflow: 'drop' }, /backend\.params\.overflow: must be "block" or "drop_oldest"/],
      [{ max_len: -1 }, /backend\.params\.max_len/],
      [{ prefix: 'x' }, /backend\.params\.prefix: unknown parameter of the redis-stream backend/],
    ];
    for (const [raw, reason] of cases) assert.throws(() => parseStreamParams(raw), reason, JSON.stringify(raw));
  });
});

describe('redis-stream backend', { skip: missing ?? false }, () => {
  let redis: RedisServer;
  let reader: Redis;
  let streamCount = 0;
  /** A fresh stream key per test, so that tests sharing the server never see each other's entries. */
  const newStream = (): string => `acct:${process.pid}:${streamCount++}`;

  async function entries(stream: string): Promise<AccountingRecord[]> {
    const rows = (await reader.xrange(stream, '-', '+')) as Array<[string, string[]]>;
    return rows.map(([, fields]) => fromFields(fields));
  }

  /** The ids of the entries in stream order, each at its first occurrence (a retried write may repeat one). */
  async function firstIds(stream: string): Promise<string[]> {
    return [...new Set((await entries(stream)).map((r) => r.id))];
  }

  before(async () => {
    redis = await startRedis();
    reader = new Redis(redis.url, { lazyConnect: false, maxRetriesPerRequest: null });
    reader.on('error', () => {});
  });
  after(async () => {
    reader.disconnect();
    await redis.kill();
  });

  /**
   * Kills Redis and gives the driver's client time to see its connection close: a batch sent just
   * before would otherwise be re-sent by ioredis to the restarted server, blurring what a test counts.
   */
  async function outage(): Promise<void> {
    await redis.kill();
    await sleep(200);
  }

  it('writes a full batch at once, one entry per record, decodable with fromFields', async () => {
    const stream = newStream();
    const { backend, probe } = await open({ url: redis.url, stream, batch_size: 10, flush_interval: 60_000 });
    const records = Array.from({ length: 25 }, (_, i) => makeRecord(i, 'size'));
    for (const r of records) assert.equal(backend.record(r), undefined, 'no waiting while there is room');
    await waitUntil('two full batches', async () => (await reader.xlen(stream)) === 20);
    await sleep(100);
    assert.equal(await reader.xlen(stream), 20, 'the partial batch waits for its interval');
    assert.equal(await probe.value('tracker_backend_queue_depth'), 5);
    assert.deepEqual(await entries(stream), records.slice(0, 20));
    await backend.close();
    assert.deepEqual(await entries(stream), records);
    assert.deepEqual([await probe.value('tracker_backend_records_total'), await probe.flushes('ok'), await probe.flushes('error')], [25, 3, 0]);
    assert.equal(await probe.value('tracker_backend_queue_depth'), 0);
  });

  it("writes on the fast lane (the tracker's own connection), and through ioredis with fast_lane false", async () => {
    for (const fastLane of [true, false]) {
      const stream = newStream();
      const { backend, probe } = await open({ url: redis.url, stream, batch_size: 50, flush_interval: 10, fast_lane: fastLane });
      // The lane connects beside ioredis: until it is ready, batches go through ioredis.
      if (fastLane) await sleep(200);
      const records = Array.from({ length: 120 }, (_, i) => makeRecord(i, `lane-${fastLane}`));
      for (const r of records) assert.equal(backend.record(r), undefined);
      await backend.flush();
      assert.deepEqual(await entries(stream), records, 'every record, in order, intact');
      const [lane, client] = [
        await probe.value('tracker_backend_written_total', { path: 'fast_lane' }),
        await probe.value('tracker_backend_written_total', { path: 'client' }),
      ];
      assert.deepEqual([lane, client], fastLane ? [120, 0] : [0, 120], `fast_lane ${fastLane}`);
      await backend.close();
    }
  });

  it('loses nothing and keeps the order when its lane connections are killed under load: ioredis writes until a lane is back', async () => {
    const stream = newStream();
    const { backend, probe } = await open({ url: redis.url, stream, batch_size: 20, flush_interval: 5 });
    await sleep(200);
    const records = Array.from({ length: 3000 }, (_, i) => makeRecord(i, 'lane-kill'));
    let killed = 0;
    for (let i = 0; i < records.length; i++) {
      assert.equal(backend.record(records[i]!), undefined);
      if (i % 300 === 150) {
        // The lane is the connection that writes XADDs (ioredis' writes nothing else here while a lane is ready).
        const list = (await reader.call('CLIENT', 'LIST')) as string;
        for (const line of list.split('\n').filter((l) => / cmd=xadd /.test(l))) {
          await reader.call('CLIENT', 'KILL', 'ID', /id=(\d+)/.exec(line)![1]!);
          killed++;
        }
      }
      if (i % 50 === 0) await sleep(2);
    }
    await backend.flush();
    assert.ok(killed >= 3, `lane connections killed: ${killed}`);
    assert.deepEqual(
      await firstIds(stream),
      records.map((r) => r.id),
      'every record, in order (a write cut off is repeated: consumers skip ids they applied)',
    );
    const lane = await probe.value('tracker_backend_written_total', { path: 'fast_lane' });
    const client = await probe.value('tracker_backend_written_total', { path: 'client' });
    assert.ok(lane > 0 && client > 0, `written on the lane (${lane}) and through ioredis while it was away (${client})`);
    await backend.close();
  });

  it('answers a record of an event (started, stopped, completed) once it is in the stream, not after flush_interval; others at once', async () => {
    const stream = newStream();
    const { backend } = await open({ url: redis.url, stream, batch_size: 1000, flush_interval: 60_000, event_wait: 5000 });
    const plain = makeRecord(0, 'events', { event: 'none' });
    assert.equal(backend.record(plain), undefined, 'a plain record never waits while there is room');
    for (const [n, event] of (['started', 'stopped', 'completed'] as const).entries()) {
      const record = makeRecord(n + 1, 'events', { event });
      const waiting = backend.record(record);
      assert.ok(waiting instanceof Promise, `a ${event} record makes its announce wait`);
      const started = Date.now();
      await waiting;
      assert.ok(Date.now() - started < 2000, 'written at once, not after flush_interval');
      const ids = (await entries(stream)).map((r) => r.id);
      assert.ok(ids.includes(record.id), `the ${event} record is in the stream when its wait ends`);
      assert.ok(ids.includes(plain.id), 'with everything buffered before it, in order');
    }
    await backend.close();
  });

  it('gives up the wait of a stopped record after event_wait while Redis is away, and writes it later', async () => {
    const stream = newStream();
    const { backend } = await open({ url: redis.url, stream, batch_size: 1000, flush_interval: 60_000, event_wait: 300 });
    await outage();
    try {
      const record = makeRecord(5, 'away', { event: 'stopped' });
      const started = Date.now();
      await backend.record(record);
      const waited = Date.now() - started;
      assert.ok(waited >= 250 && waited < 3000, `the announce waited ${waited} ms, about event_wait`);
      await redis.start();
      await waitUntil('the record written once Redis is back', async () => (await entries(stream)).some((r) => r.id === record.id));
    } finally {
      if (!redis.child) await redis.start();
      await backend.close();
    }
  });

  it('marks its life in Redis: a clean close removes the marker, a start that finds one reports the unclean stop', async () => {
    const stream = newStream();
    const key = `${stream}:life:replica-a`;
    const first = await open({ url: redis.url, stream, replica: 'replica-a' });
    await waitUntil('the life marker written', async () => (await reader.exists(key)) === 1);
    const marker = JSON.parse((await reader.get(key))!);
    assert.equal(marker.pid, process.pid);
    await first.backend.close();
    assert.equal(await reader.exists(key), 0, 'a clean close removes the marker');

    const clean = await open({ url: redis.url, stream, replica: 'replica-a' });
    await waitUntil('the life marker written again', async () => (await reader.exists(key)) === 1);
    assert.equal(await clean.probe.value('tracker_backend_unclean_stops_total'), 0, 'after a clean stop nothing is reported');
    // This life ends without close(), as a SIGKILL ends one: the next start finds its marker.
    const next = await open({ url: redis.url, stream, replica: 'replica-a' });
    await waitUntil('the unclean stop reported', async () => (await next.probe.value('tracker_backend_unclean_stops_total')) === 1);
    const other = await open({ url: redis.url, stream, replica: 'replica-b' });
    await sleep(200);
    assert.equal(await other.probe.value('tracker_backend_unclean_stops_total'), 0, "another replica's name has a marker of its own");
    await Promise.all([next.backend.close(), other.backend.close()]);
    await (clean.backend as { close(): Promise<void> }).close();
  });

  it('writes a partial batch once flush_interval has passed', async () => {
    const stream = newStream();
    const { backend } = await open({ url: redis.url, stream, batch_size: 1000, flush_interval: 150 });
    const records = [0, 1, 2].map((i) => makeRecord(i, 'interval'));
    const started = Date.now();
    for (const r of records) assert.equal(backend.record(r), undefined);
    await waitUntil('the interval flush', async () => (await reader.xlen(stream)) === 3);
    const waited = Date.now() - started;
    assert.ok(waited >= 140 && waited < 1000, `written after ${waited} ms`);
    assert.deepEqual(await entries(stream), records);
    // A second round arms the timer again.
    assert.equal(backend.record(makeRecord(3, 'interval')), undefined);
    await waitUntil('the second interval flush', async () => (await reader.xlen(stream)) === 4);
    await backend.close();
  });

  it('trims with an approximate MAXLEN only when max_len is set', async () => {
    const stream = newStream();
    const { backend } = await open({ url: redis.url, stream, batch_size: 100, flush_interval: 10, max_len: 10 });
    for (let i = 0; i < 1000; i++) assert.equal(backend.record(makeRecord(i, 'trim')), undefined);
    await backend.flush();
    const length = await reader.xlen(stream);
    assert.ok(length < 1000 && length >= 10, `trimmed to about 10 (${length})`);
    await backend.close();
  });

  it('keeps records buffered in order while Redis is down, retries with backoff, and loses nothing', async () => {
    const stream = newStream();
    const { backend, probe } = await open({ url: redis.url, stream, batch_size: 5, flush_interval: 20, command_timeout: 300 });
    const records = Array.from({ length: 60 }, (_, i) => makeRecord(i, 'outage'));
    for (const r of records.slice(0, 10)) assert.equal(backend.record(r), undefined);
    await backend.flush();
    await redis.kill();
    for (const r of records.slice(10, 40)) {
      assert.equal(backend.record(r), undefined);
      await sleep(5);
    }
    await waitUntil('failed flushes', async () => (await probe.flushes('error')) >= 3);
    assert.ok((await probe.value('tracker_backend_queue_depth')) >= 30, 'the records wait in the buffer');
    await redis.start(); // empty: the records written before the outage went with the old process
    for (const r of records.slice(40)) assert.equal(backend.record(r), undefined);
    await backend.flush();
    assert.deepEqual(
      await firstIds(stream),
      records.slice(10).map((r) => r.id),
      'every record, in order',
    );
    const written = await entries(stream);
    assert.deepEqual(
      written.filter((r, i) => written.findIndex((s) => s.id === r.id) === i),
      records.slice(10),
      'intact',
    );
    assert.ok((await probe.flushes('error')) >= 3);
    await backend.close();
  });

  it('overflow "block": a record finding the buffer full waits until there is room, and counts', async () => {
    const stream = newStream();
    const { backend, probe } = await open({
      url: redis.url,
      stream,
      batch_size: 5,
      buffer_limit: 5,
      flush_interval: 10,
      command_timeout: 300,
      overflow: 'block',
    });
    await outage();
    try {
      const records = Array.from({ length: 8 }, (_, i) => makeRecord(i, 'block'));
      for (const r of records.slice(0, 5)) assert.equal(backend.record(r), undefined);
      const waits = records.slice(5).map((r) => backend.record(r));
      assert.ok(
        waits.every((w) => w instanceof Promise),
        'the sixth record on waits',
      );
      const settled = waits.map((w) => settledFlag(w as Promise<void>));
      await sleep(500);
      assert.deepEqual(
        settled.map((s) => s()),
        [false, false, false],
        'still waiting while Redis is down',
      );
      assert.equal(await probe.value('tracker_backend_blocked_total'), 3);
      assert.equal(await probe.value('tracker_backend_queue_depth'), 5, 'never more than buffer_limit in memory');
      await redis.start();
      await Promise.all(waits);
      await backend.flush();
      assert.deepEqual(
        await firstIds(stream),
        records.map((r) => r.id),
      );
      assert.equal(await probe.value('tracker_backend_dropped_total'), 0);
    } finally {
      if (!redis.child) await redis.start();
      await backend.close();
    }
  });

  it('overflow "block": a record that waits block_timeout is dropped and counted, and its announce goes on', async () => {
    const stream = newStream();
    const { backend, probe } = await open({
      url: redis.url,
      stream,
      batch_size: 2,
      buffer_limit: 2,
      flush_interval: 10,
      command_timeout: 200,
      overflow: 'block',
      block_timeout: 300,
    });
    await outage();
    try {
      const records = Array.from({ length: 4 }, (_, i) => makeRecord(i, 'timeout'));
      for (const r of records.slice(0, 2)) assert.equal(backend.record(r), undefined);
      const started = Date.now();
      await Promise.all(records.slice(2).map((r) => Promise.resolve(backend.record(r))));
      const waited = Date.now() - started;
      assert.ok(waited >= 250 && waited < 2000, `released after about block_timeout (${waited} ms)`);
      assert.equal(await probe.value('tracker_backend_dropped_total'), 2);
      assert.equal(await probe.value('tracker_backend_blocked_total'), 2);
      await redis.start();
      await backend.flush();
      assert.deepEqual(
        await firstIds(stream),
        records.slice(0, 2).map((r) => r.id),
        'the buffered records are written, the given-up ones are not',
      );
    } finally {
      if (!redis.child) await redis.start();
      await backend.close();
    }
  });

  it('overflow "drop_oldest": the oldest records go, counted, and memory stays at buffer_limit', async () => {
    const stream = newStream();
    const { backend, probe } = await open({
      url: redis.url,
      stream,
      batch_size: 5,
      buffer_limit: 5,
      flush_interval: 10,
      command_timeout: 300,
      overflow: 'drop_oldest',
    });
    await outage();
    try {
      const records = Array.from({ length: 5000 }, (_, i) => makeRecord(i, 'drop'));
      for (const r of records) assert.equal(backend.record(r), undefined, 'never waits');
      assert.equal(await probe.value('tracker_backend_dropped_total'), 4995);
      assert.equal(await probe.value('tracker_backend_queue_depth'), 5);
      await redis.start();
      await backend.flush();
      assert.deepEqual(
        await firstIds(stream),
        records.slice(-5).map((r) => r.id),
        'the newest five survive',
      );
    } finally {
      if (!redis.child) await redis.start();
      await backend.close();
    }
  });

  it('close() writes out everything accepted, then refuses records', async () => {
    const stream = newStream();
    const { backend } = await open({ url: redis.url, stream, batch_size: 50, flush_interval: 60_000 });
    const records = Array.from({ length: 123 }, (_, i) => makeRecord(i, 'close'));
    for (const r of records) assert.equal(backend.record(r), undefined);
    await backend.close();
    assert.deepEqual(await entries(stream), records);
    assert.throws(() => backend.record(makeRecord(999, 'close')), /closed/);
  });

  it('close() gives up after close_timeout when Redis is down, and releases waiting records', async () => {
    const stream = newStream();
    const { backend } = await open({ url: redis.url, stream, batch_size: 2, buffer_limit: 2, flush_interval: 10, command_timeout: 200, close_timeout: 300 });
    await outage();
    try {
      assert.equal(backend.record(makeRecord(0, 'gone')), undefined);
      assert.equal(backend.record(makeRecord(1, 'gone')), undefined);
      const waiting = backend.record(makeRecord(2, 'gone'));
      assert.ok(waiting instanceof Promise);
      const started = Date.now();
      await assert.rejects(backend.flush(), /3 accounting records not written to the Redis stream within close_timeout/);
      await backend.close(); // shares the deadline that flush() has used up: no second wait
      assert.ok(Date.now() - started < 1000, `stopped after ${Date.now() - started} ms`);
      await assert.rejects(waiting, /closed before there was room/);
    } finally {
      await redis.start();
    }
  });
});
