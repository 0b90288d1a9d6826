/**
 * Configuration reloads of real tracker processes (the CLI): SIGHUP on the memory driver, and
 * POST /config/reload?all=true on two replicas sharing one real redis-server, each with its own file.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ADMIN_TOKEN, adminClient } from '../helpers/admin.js';
import { announcePath, decode, httpGet, randomHash, text } from '../helpers/http.js';
import { redisMissing, startRedis, type RedisServer } from '../helpers/redis.js';
import { CLI, portFromStartLine, spawnNode, type ChildTracker } from '../helpers/tracker.js';

const OVER_BUDGET = 'too many requests from your address: slow down and retry later';

const failure = (answer: Record<string, any>): string | undefined => (answer['failure reason'] === undefined ? undefined : text(answer['failure reason']));

interface Replica {
  proc: ChildTracker;
  file: string;
  port: number;
  adminPort: number;
  write(extra?: Record<string, unknown>): Promise<void>;
  announce(from?: string): Promise<Record<string, any>>;
  /** The next log record with this message after `skip` earlier ones. */
  logged(message: string, skip?: number): Promise<Record<string, any>>;
  count(message: string): number;
  stop(): Promise<void>;
}

async function startReplica(dir: string, name: string, base: Record<string, unknown>): Promise<Replica> {
  const file = join(dir, `${name}.json`);
  const write = (extra: Record<string, unknown> = {}): Promise<void> =>
    writeFile(
      file,
      JSON.stringify({
        http: { addr: '127.0.0.1:0' },
        udp: { addr: '', secret: 'test-secret-0123456789abcdef' },
        metrics: { addr: '' },
        admin: { addr: '127.0.0.1:0', token: ADMIN_TOKEN },
        interval_jitter: 0,
        budget: { per_address: 0, per_subnet: 0 },
        ...base,
        ...extra,
      }),
    );
  await write();
  const proc = spawnNode([CLI, '--config', file]);
  const line = await proc.waitForLine((l) => l.includes('"tracker started"'), 15_000);
  const port = portFromStartLine(line);
  const admin = (JSON.parse(line) as { admin: string }).admin;
  const records = (message: string) => proc.lines.filter((l) => l.includes(`"msg":"${message}"`)).map((l) => JSON.parse(l) as Record<string, any>);
  return {
    proc,
    file,
    port,
    adminPort: Number(admin.slice(admin.lastIndexOf(':') + 1)),
    write,
    announce: async (from = '127.0.0.1') => decode((await httpGet('127.0.0.1', port, announcePath({ infoHash: randomHash(), port: 7001 }), {}, from)).body),
    async logged(message, skip = 0) {
      let seen = 0;
      await proc.waitForLine((l) => l.includes(`"msg":"${message}"`) && seen++ >= skip);
      return records(message)[skip]!;
    },
    count: (message) => records(message).length,
    async stop() {
      proc.child.kill('SIGTERM');
      await proc.exit;
    },
  };
}

describe('configuration reload of tracker processes', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-reload-e2e-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('SIGHUP applies a changed interval, budget and list, logs the keys, and refuses an invalid file without change', async () => {
    const list = join(dir, 'blocked.txt');
    await writeFile(list, '127.0.0.2\n');
    const t = await startReplica(dir, 'signal', {});
    try {
      assert.equal((await t.announce()).interval, 1800);
      await t.write({
        announce_interval: 1200,
        budget: { per_address: 1, per_subnet: 0 },
        blocklist: { files: [list] },
        udp: { addr: '', secret: 'test-secret-0123456789abcdef', ban_threshold: 5 },
      });
      t.proc.child.kill('SIGHUP');
      const record = await t.logged('configuration reloaded; some changed keys need a restart and keep their old value');
      assert.equal(record.cause, 'signal');
      assert.deepEqual(record.changed.sort(), ['announce_interval', 'blocklist.files', 'budget.per_address']);
      assert.deepEqual(record.restart, ['udp.ban_threshold']);
      assert.equal((await t.announce('127.0.0.3')).interval, 1200);
      assert.equal(failure(await t.announce('127.0.0.3')), OVER_BUDGET);
      assert.equal(failure(await t.announce('127.0.0.2')), 'your address is blocked on this tracker (blocked.txt)');
      // An invalid file: logged with its errors, and nothing changes.
      await t.write({ announce_interval: 5, budget: { per_address: 100, per_subnet: 0 } });
      t.proc.child.kill('SIGHUP');
      const refused = await t.logged('configuration not reloaded: invalid, nothing changed');
      assert.equal(refused.errors[0].key, 'announce_interval');
      assert.equal((await t.announce('127.0.0.4')).interval, 1200);
      assert.equal(failure(await t.announce('127.0.0.4')), OVER_BUDGET, 'the budget of 1 is still in force');
      assert.equal(t.proc.child.exitCode, null, 'still running');
    } finally {
      await t.stop();
    }
  });

  describe('two replicas on one redis-server', { skip: redisMissing() ?? false }, () => {
    let redis: RedisServer;
    let a: Replica;
    let b: Replica;
    before(async () => {
      redis = await startRedis();
      const base = { tracker: { driver: 'redis', params: { url: redis.url } } };
      [a, b] = await Promise.all([startReplica(dir, 'a', base), startReplica(dir, 'b', base)]);
    });
    after(async () => {
      await Promise.all([a?.stop(), b?.stop()]);
      await redis?.kill();
    });

    it('?all=true reloads every replica, each from its own file, and says how many received it', async () => {
      const base = { tracker: { driver: 'redis', params: { url: redis.url } } };
      assert.equal((await b.announce()).interval, 1800);
      // Each replica's own file: a gets 1200, b 1500 and a budget.
      await a.write({ ...base, announce_interval: 1200 });
      await b.write({ ...base, announce_interval: 1500, budget: { per_address: 1, per_subnet: 0 } });
      const before = b.count('configuration reloaded');
      const reply = await adminClient(a.adminPort).send('POST', '/config/reload?all=true');
      assert.equal(reply.status, 200, reply.body.toString());
      assert.deepEqual([reply.json.outcome, reply.json.changed], ['applied', ['announce_interval']]);
      assert.deepEqual(reply.json.published, { subscribers: 2 });
      const record = await b.logged('configuration reloaded', before);
      assert.equal(record.cause, 'published');
      assert.deepEqual(record.changed.sort(), ['announce_interval', 'budget.per_address']);
      assert.equal((await b.announce('127.0.0.5')).interval, 1500);
      assert.equal(failure(await b.announce('127.0.0.5')), OVER_BUDGET);
      assert.equal((await a.announce('127.0.0.5')).interval, 1200, 'a reloaded its own file, once');
      // The asking replica hears its own message too (as b did by now): it must not reload a second time.
      await sleep(300);
      const reloads = a.proc.lines.filter((l) => l.includes('"msg":"configuration reloaded')).length;
      assert.equal(reloads, 1, 'the asking replica does not reload twice');
    });
  });
});
