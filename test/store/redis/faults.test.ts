/** Redis faults: down at start, restarted under load, a Cluster master killed. The tracker never hangs or crashes. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { announcePath, decode, httpGet, randomHash, text } from '../../helpers/http.js';
import { plannedRedis, redisCli, redisMissing, startCluster, startRedis } from '../../helpers/redis.js';
import { startTracker, type TestTracker } from '../../helpers/tracker.js';

const missing = redisMissing();

interface Outcome {
  at: number;
  ok: boolean;
  ms: number;
  reason?: string;
}

async function announceOnce(t: TestTracker, hash: Buffer, port: number): Promise<Outcome> {
  const started = Date.now();
  const reply = await t.get(announcePath({ infoHash: hash, port }));
  assert.equal(reply.status, 200);
  const d = decode(reply.body);
  const reason = d['failure reason'] ? text(d['failure reason']) : undefined;
  return { at: started, ok: reason === undefined, ms: Date.now() - started, reason };
}

/** Announces in `workers` loops until `until`, recording every outcome. */
async function loadUntil(t: TestTracker, hashes: Buffer[], until: number, workers = 8): Promise<Outcome[][]> {
  const outcomes: Outcome[][] = hashes.map(() => []);
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      let i = 0;
      while (Date.now() < until) {
        const h = (w + i++) % hashes.length;
        outcomes[h]!.push(await announceOnce(t, hashes[h]!, 10000 + w));
        await sleep(5);
      }
    }),
  );
  return outcomes;
}

async function waitReady(t: TestTracker, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if ((await t.get('/readyz')).status === 200) return Date.now() - started;
    await sleep(50);
  }
  throw new Error('never became ready');
}

describe('Redis faults', { skip: missing ?? false }, () => {
  it('(a) Redis down at start: the tracker starts, is not ready, fails announces within 1 s, and recovers by itself', async () => {
    const redis = await plannedRedis();
    const t = await startTracker({ tracker: { driver: 'redis', params: { url: redis.url } }, metrics: { addr: '127.0.0.1:0' } });
    try {
      assert.equal((await t.get('/readyz')).status, 503);
      assert.equal((await t.get('/healthz')).status, 200, 'alive all the same');
      for (let i = 0; i < 3; i++) {
        const outcome = await announceOnce(t, randomHash(), 7000);
        assert.equal(outcome.ok, false);
        assert.match(outcome.reason!, /temporarily unavailable/);
        assert.ok(outcome.ms < 1000, `failed in ${outcome.ms} ms`);
      }
      const metrics = (await httpGet('127.0.0.1', t.metricsPort!, '/metrics')).body.toString();
      assert.match(metrics, /tracker_driver_errors_total\{driver="redis",operation="announce"\} 3/);
      assert.match(metrics, /tracker_driver_ready 0/);
      assert.match(metrics, /tracker_requests_total\{protocol="http",action="announce",family="4",outcome="server_error"\} 3/);
      await redis.start();
      const ms = await waitReady(t, 10_000);
      console.log(`# ready ${ms} ms after Redis came up`);
      const outcome = await announceOnce(t, randomHash(), 7001);
      assert.equal(outcome.ok, true, outcome.reason);
    } finally {
      await t.close();
      await redis.kill();
    }
  });

  it('(b) Redis restarted under load: no crash, failures only during the outage, full recovery', async () => {
    const redis = await startRedis();
    // Thousands of announces a second from one address: request budgets would refuse most of them.
    const t = await startTracker({ tracker: { driver: 'redis', params: { url: redis.url } }, budget: { enabled: false } });
    try {
      const hashes = Array.from({ length: 4 }, () => randomHash());
      const start = Date.now();
      const load = loadUntil(t, hashes, start + 7000);
      await sleep(1500);
      const downAt = Date.now();
      await redis.kill();
      await sleep(1500);
      await redis.start();
      const upAt = Date.now();
      const outcomes = (await load).flat();
      const failures = outcomes.filter((o) => !o.ok);
      const worst = Math.max(...outcomes.map((o) => o.ms));
      console.log(`# ${outcomes.length} announces, ${failures.length} failed, Redis down ${upAt - downAt} ms, slowest answer ${worst} ms`);
      assert.ok(failures.length > 0, 'the outage was seen');
      for (const f of failures) {
        assert.ok(f.at >= downAt - 1000 && f.at <= upAt + 3000, `a failure outside the outage: ${f.at - downAt} ms after the kill`);
        assert.match(f.reason!, /temporarily unavailable/);
      }
      assert.ok(worst < 1500, 'no answer waited on the dead Redis for long');
      const tail = outcomes.filter((o) => o.at > upAt + 3000);
      assert.ok(tail.length > 20 && tail.every((o) => o.ok), 'full recovery after the restart');
      assert.equal((await t.get('/readyz')).status, 200);
    } finally {
      await t.close();
      await redis.kill();
    }
  });

  it('(c) a Cluster master killed: its slots fail fast until failover, other slots carry on', { timeout: 120_000 }, async () => {
    const cluster = await startCluster();
    const prefix = `f${randomBytes(2).toString('hex')}:`;
    // Thousands of announces a second from one address: request budgets would refuse most of them.
    const t = await startTracker({ tracker: { driver: 'redis', params: { cluster: cluster.addresses, prefix } }, budget: { enabled: false } });
    try {
      const victim = await cluster.masterOfSlot(0);
      // Two hashes whose keys live on the victim master, two elsewhere.
      const onVictim: Buffer[] = [];
      const elsewhere: Buffer[] = [];
      while (onVictim.length < 2 || elsewhere.length < 2) {
        const hash = randomHash();
        const slot = Number(await redisCli(victim.port, 'cluster', 'keyslot', `${prefix}{${hash.toString('hex')}}:m`));
        const master = await cluster.masterOfSlot(slot);
        (master === victim ? onVictim : elsewhere).push(hash);
      }
      const hashes = [...onVictim.slice(0, 2), ...elsewhere.slice(0, 2)];
      const start = Date.now();
      const load = loadUntil(t, hashes, start + 16_000);
      await sleep(2000);
      const killedAt = Date.now();
      await victim.kill();
      const outcomes = await load;
      const victimOutcomes = outcomes.slice(0, 2).flat();
      const otherOutcomes = outcomes.slice(2).flat();
      const victimFailures = victimOutcomes.filter((o) => !o.ok);
      const lastFailure = Math.max(...victimFailures.map((o) => o.at + o.ms), killedAt);
      console.log(
        `# victim slots: ${victimOutcomes.length} announces, ${victimFailures.length} failed, failing for ${lastFailure - killedAt} ms after the kill; ` +
          `other slots: ${otherOutcomes.length} announces, ${otherOutcomes.filter((o) => !o.ok).length} failed`,
      );
      for (const o of otherOutcomes.filter((x) => !x.ok))
        console.log(`# other-slot failure ${o.at - killedAt} ms after the kill, took ${o.ms} ms: ${o.reason}`);
      assert.ok(victimFailures.length > 0, 'the dead master was noticed');
      const slowest = Math.max(...victimFailures.map((o) => o.ms));
      assert.ok(slowest < 1000, `failures come fast, never a hang (slowest ${slowest} ms)`);
      assert.ok(lastFailure - killedAt < 12_000, 'failover ended the failures');
      assert.ok(victimOutcomes.filter((o) => o.at > lastFailure).length > 10, 'the victim slots serve again');
      assert.ok(
        otherOutcomes.every((o) => o.ok),
        'other slots were not affected',
      );
    } finally {
      await t.close();
      await cluster.stop();
    }
  });
});
