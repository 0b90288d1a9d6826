/**
 * shoal-consumer as a process, with a configuration file: killed with SIGKILL in the middle of the
 * stream and started again, it leaves exactly the totals of what was produced; SIGTERM stops it with
 * exit code 0; a configuration it cannot use stops it with exit code 2 and the key named, as it stops
 * `shoal` (one exit code for configuration errors in every binary).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { backendDrivers } from '../../src/backend/registry.js';
import { databaseTotals, expectedTotals, makeRecord } from '../helpers/accounting.js';
import { countRows, createDatabase, postgresMissing, type TestDatabase } from '../helpers/postgres.js';
import { redisMissing, startRedis, type RedisServer } from '../helpers/redis.js';
import { CLI, spawnNode, type ChildTracker } from '../helpers/tracker.js';
import { waitUntil } from '../helpers/wait.js';

const CONSUMER_CLI = fileURLToPath(new URL('../../src/consumer/cli.js', import.meta.url));
const missing = redisMissing() ?? postgresMissing();
const isStartLine = (line: string): boolean => line.includes('"consumer started"');

function configFile(config: Record<string, unknown>): string {
  const file = join(mkdtempSync(join(tmpdir(), 'shoal-consumer-')), 'config.json');
  writeFileSync(file, JSON.stringify(config));
  return file;
}

describe('shoal-consumer configuration', () => {
  it('refuses a configuration without the redis-stream backend, or with a bad parameter, with exit code 2 naming the key', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{}, /configuration error: backend\.driver: is "noop": the consumer reads the stream of the "redis-stream" backend/],
      [{ backend: { driver: 'redis-stream', params: { batch_size: 0 } } }, /configuration error: backend\.params\.batch_size: must be an integer/],
      [{ backend: { driver: 'redis-stream', params: {} }, consumer: { batch_size: 0 } }, /configuration error: consumer\.batch_size: must be at least 1/],
    ];
    for (const [config, reason] of cases) {
      const proc = spawnNode([CONSUMER_CLI, '--config', configFile(config)]);
      const { code } = await proc.exit;
      assert.equal(code, 2, JSON.stringify(config));
      assert.match(proc.stderr(), reason);
    }
  });
});

describe('one exit code for configuration errors', () => {
  it('shoal and shoal-consumer both stop with exit code 2, naming the key, for the same bad configuration or driver parameter', async () => {
    const configs: Array<[Record<string, unknown>, RegExp]> = [
      [
        { backend: { driver: 'redis-stream', params: { batch_size: 0 } } },
        /configuration error: backend\.params\.batch_size: must be an integer from 1 to 10000/,
      ],
      [{ backend: { driver: 'redis-stream', params: { url: 'http://x' } } }, /configuration error: backend\.params\.url: must be a redis/],
      [
        { backend: { driver: 'redis-stream', params: { streams: 'x' } } },
        /configuration error: backend\.params\.streams: unknown parameter of the redis-stream backend/,
      ],
      [{ backend: { driver: 'redis-stream', params: {} }, peer_ttl: '1y' }, /configuration error: peer_ttl: must be a number of seconds or a duration/],
    ];
    const listeners = { http: { addr: '127.0.0.1:0' }, udp: { addr: '' }, metrics: { addr: '' } };
    for (const [config, reason] of configs) {
      for (const cli of [CLI, CONSUMER_CLI]) {
        const proc = spawnNode([cli, '--config', configFile({ ...config, ...listeners })]);
        const { code } = await proc.exit;
        assert.equal(code, 2, `${cli} ${JSON.stringify(config)}: ${proc.stderr()}`);
        assert.match(proc.stderr(), reason);
      }
    }
  });
});

describe('shoal-consumer process', { skip: missing ?? false }, () => {
  let redis: RedisServer;
  let admin: Redis;
  let db: TestDatabase;

  before(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
    db = await createDatabase();
  });
  after(async () => {
    admin.disconnect();
    await redis.kill();
    await db.drop();
  });

  const appliedIds = (): Promise<number> => countRows(db.pool, 'applied_ids');

  function startConsumer(stream: string, name: string): ChildTracker {
    const config = {
      log: { level: 'info' },
      backend: { driver: 'redis-stream', params: { url: redis.url, stream } },
      consumer: { postgres_url: db.url, group: 'accounting', name, batch_size: 20, claim_idle: 1 },
    };
    return spawnNode([CONSUMER_CLI, '--config', configFile(config)]);
  }

  it('killed with SIGKILL mid-stream and started again, leaves totals exactly right', async () => {
    const stream = 'acct:killed';
    const driver = backendDrivers.get('redis-stream')!;
    const backend = await driver.open({ url: redis.url, stream, batch_size: 100, flush_interval: 10 }, { logger: pino({ level: 'silent' }) });
    const records = Array.from({ length: 4000 }, (_, i) => makeRecord(i, 'killed'));
    for (const r of records.slice(0, 2000)) await backend.record(r);
    await backend.flush();

    const first = startConsumer(stream, 'worker');
    await first.waitForLine(isStartLine);
    await waitUntil('some batches applied', async () => (await appliedIds()) >= 200);
    first.child.kill('SIGKILL');
    assert.equal((await first.exit).signal, 'SIGKILL');
    const atKill = await appliedIds();
    assert.ok(atKill < 2000, `killed mid-stream (${atKill} of 2000 applied)`);
    console.log(`killed with ${atKill} of 2000 records applied`);

    // The producer goes on while no consumer runs, and while the next one catches up.
    for (const r of records.slice(2000, 3000)) await backend.record(r);
    const second = startConsumer(stream, 'worker');
    for (const r of records.slice(3000)) await backend.record(r);
    await backend.close();
    await waitUntil('every record applied', async () => (await appliedIds()) === 4000 && (await admin.xlen(stream)) === 0, 20_000);

    second.child.kill('SIGTERM');
    const { code } = await second.exit;
    assert.equal(code, 0, second.stderr());
    assert.ok(
      second.lines.some((l) => l.includes('"consumer stopped"')),
      'says it stopped',
    );
    assert.deepEqual(await databaseTotals(db.pool), expectedTotals(records));
    assert.deepEqual(await admin.xpending(stream, 'accounting'), [0, null, null, null]);
  });

  it('on SIGTERM finishes and exits 0 in under 3 s, even while blocked waiting for entries', async () => {
    const proc = startConsumer('acct:idle', 'idler');
    await proc.waitForLine(isStartLine);
    await waitUntil('the group', async () => (await admin.exists('acct:idle')) === 1);
    const started = Date.now();
    proc.child.kill('SIGTERM');
    const { code } = await proc.exit;
    assert.equal(code, 0, proc.stderr());
    assert.ok(Date.now() - started < 3000, `stopped in ${Date.now() - started} ms`);
  });
});
