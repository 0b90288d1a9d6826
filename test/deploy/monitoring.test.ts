/**
 * Monitoring as shipped: the alert rules pass their promtool unit tests; the Kubernetes copies are current;
 * and a real Prometheus scraping real trackers (three on the redis driver, one real redis-server, plus one
 * on the memory driver for the counters only it keeps) under a short load answers every dashboard panel's
 * queries with data, and fires "Redis unreachable" while Redis is stopped and clears it when it returns.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { renderK8sMonitoring, ALERTS_FILE, DASHBOARD_FILE } from '../../scripts/monitoring-k8s-render.js';
import { announcePath, randomHash } from '../helpers/http.js';
import { prometheusMissing, startPrometheus, type TestPrometheus } from '../helpers/prometheus.js';
import { redisMissing, startRedis, type RedisServer } from '../helpers/redis.js';
import { startTrackerProcess, type ChildTracker, type TestTracker } from '../helpers/tracker.js';
import { announcePacket, udpConnect, udpRequest } from '../helpers/udp.js';
import { waitUntil } from '../helpers/wait.js';

const MONITORING = fileURLToPath(new URL('../../../monitoring/', import.meta.url));
const skip = prometheusMissing() ?? redisMissing();

type Rule = { alert: string; expr: string; for?: string };
type Panel = { title: string; type: string; targets: Array<{ expr: string; refId: string }> };
const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as { panels: Panel[]; templating: { list: Array<{ name: string }> } };
const alertRules = parse(readFileSync(ALERTS_FILE, 'utf8')) as { groups: Array<{ name: string; rules: Rule[] }> };

describe('alert rules and dashboard files', { skip: skip ?? false }, () => {
  it('pass their promtool unit tests (monitoring/alerts.test.yml)', () => {
    const output = execFileSync('promtool', ['test', 'rules', 'alerts.test.yml'], { cwd: MONITORING, encoding: 'utf8' });
    console.log(output.trim().replace(/^/gm, '# '));
    assert.match(output, /SUCCESS/);
    // Every rule has at least one test that expects it to fire.
    const tests = readFileSync(join(MONITORING, 'alerts.test.yml'), 'utf8');
    for (const rule of alertRules.groups.flatMap((g) => g.rules)) {
      assert.match(tests, new RegExp(`alertname: ${rule.alert}\\n\\s+exp_alerts:\\n\\s+- exp_labels`), `${rule.alert} is tested firing`);
    }
  });

  it("are valid for promtool, compose's Prometheus configuration included", () => {
    assert.match(execFileSync('promtool', ['check', 'rules', ALERTS_FILE], { encoding: 'utf8' }), /SUCCESS: 22 rules found/);
    const dir = mkdtempSync(join(tmpdir(), 'shoal-promcheck-'));
    const config = readFileSync(join(MONITORING, 'prometheus.yml'), 'utf8').replace('/etc/prometheus/alerts.yml', ALERTS_FILE);
    writeFileSync(join(dir, 'prometheus.yml'), config);
    assert.match(execFileSync('promtool', ['check', 'config', join(dir, 'prometheus.yml')], { encoding: 'utf8' }), /SUCCESS/);
  });

  it('has Kubernetes copies that are current (npm run monitoring:k8s)', () => {
    for (const [file, text] of Object.entries(renderK8sMonitoring())) assert.equal(readFileSync(file, 'utf8'), text, `${file} is stale`);
    const rule = parse(readFileSync(Object.keys(renderK8sMonitoring())[0]!, 'utf8')) as { kind: string; spec: { groups: unknown } };
    assert.equal(rule.kind, 'PrometheusRule');
    assert.deepEqual(rule.spec.groups, alertRules.groups);
  });

  it('has a dashboard whose panels all query Prometheus through the datasource variable', () => {
    assert.ok(dashboard.templating.list.some((v) => v.name === 'datasource'));
    const titles = dashboard.panels.map((p) => p.title);
    for (const wanted of [
      'Requests by protocol and outcome',
      'Announce latency percentiles',
      'Swarms and peers',
      'Redis (tracker driver) time',
      'Accounting queue',
      'Announces by client',
      'Hot swarms',
    ]) {
      assert.ok(titles.includes(wanted), wanted);
    }
    for (const panel of dashboard.panels) assert.ok(panel.targets.length > 0 && panel.targets.every((t) => t.expr.length > 0), panel.title);
  });
});

describe('a real Prometheus scraping real trackers', { skip: skip ?? false }, () => {
  let redis: RedisServer;
  const trackers: Array<TestTracker & { proc: ChildTracker; metricsPort: number }> = [];
  let prometheus: TestPrometheus;
  let load: { stop(): Promise<{ ok: number; failed: number }> };

  const metricsPortOf = (proc: ChildTracker): number => {
    const line = proc.lines.find((l) => l.includes('"tracker started"'))!;
    const metrics = (JSON.parse(line) as { metrics: string }).metrics;
    return Number(metrics.slice(metrics.lastIndexOf(':') + 1));
  };

  before(async () => {
    redis = await startRedis();
    const common = { TRACKER_METRICS_ADDR: '127.0.0.1:0', TRACKER_UDP_ADDR: '127.0.0.1:0', TRACKER_METRICS_HOT_SWARMS_WINDOW: '2' };
    const redisEnv = { ...common, TRACKER_TRACKER_DRIVER: 'redis', TRACKER_TRACKER_PARAMS: JSON.stringify({ url: redis.url, command_timeout: 500 }) };
    const started = await Promise.all([redisEnv, redisEnv, redisEnv, common].map((env) => startTrackerProcess(env)));
    for (const t of started) trackers.push({ ...t, metricsPort: metricsPortOf(t.proc) });
    // The rules as shipped, with every `for` cut to 2 s so that the test sees alerts fire in seconds.
    const rules = structuredClone(alertRules);
    for (const rule of rules.groups.flatMap((g) => g.rules)) if (rule.for) rule.for = '2s';
    const target = (t: { metricsPort: number }) => `127.0.0.1:${t.metricsPort}`;
    const config = {
      global: { scrape_interval: '1s', evaluation_interval: '1s', scrape_timeout: '900ms' },
      rule_files: ['alerts.yml'],
      scrape_configs: [
        { job_name: 'shoal', static_configs: [{ targets: trackers.slice(0, 3).map(target) }] },
        // Its own job: the alerts are about the redis-backed replicas.
        { job_name: 'shoal-memory', static_configs: [{ targets: [target(trackers[3]!)] }] },
      ],
    };
    prometheus = await startPrometheus(stringify(config), { 'alerts.yml': stringify(rules) });
    load = startLoad(trackers);
  });
  after(async () => {
    await load?.stop();
    await Promise.allSettled([prometheus?.stop(), ...trackers.map((t) => t.close())]);
    await redis?.kill();
  });

  it("answers every dashboard panel's queries with data", async () => {
    const announceInterval = '1800';
    const pending = new Map<string, string>();
    for (const panel of dashboard.panels) {
      for (const target of panel.targets) {
        pending.set(`${panel.title} ${target.refId}`, target.expr.replaceAll('$__rate_interval', '10s').replaceAll('$announce_interval', announceInterval));
      }
    }
    const results = new Map<string, number>();
    await waitUntil(
      'data for every panel query',
      async () => {
        for (const [name, expr] of pending) {
          const result = await prometheus.query(expr);
          if (result.length > 0 && result.every((r) => Number.isFinite(Number(r.value[1])))) {
            results.set(name, result.length);
            pending.delete(name);
          }
        }
        return pending.size === 0;
      },
      45_000,
      1000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; no data for: ${[...pending.keys()].join(', ')}`);
    });
    console.log(`# panel queries with data: ${[...results].map(([name, n]) => `${name} (${n} series)`).join('; ')}`);
    // The per-client and hot-swarm panels show what the load sent.
    const clients = (await prometheus.query('sum by (client) (tracker_announces_by_client_total)')).map((r) => r.metric.client);
    for (const client of ['qBittorrent', 'Transmission', 'other']) assert.ok(clients.includes(client), client);
    const hot = await prometheus.query('topk(1, sum by (info_hash) (tracker_hot_swarm_announces_per_second))');
    assert.equal(hot[0]?.metric.info_hash, HOT.toString('hex'));
  });

  it('fires "Redis unreachable" while Redis is stopped and clears it when Redis is back', async () => {
    const state = async (): Promise<string> => (await prometheus.alerts()).find((a) => a.labels.alertname === 'ShoalRedisUnreachable')?.state ?? 'inactive';
    assert.equal(await state(), 'inactive');
    await redis.kill();
    const stoppedAt = Date.now();
    await waitUntil('ShoalRedisUnreachable firing', async () => (await state()) === 'firing', 30_000, 500);
    console.log(`# ShoalRedisUnreachable firing ${((Date.now() - stoppedAt) / 1000).toFixed(1)} s after Redis stopped (scrape 1 s, for 2 s)`);
    const others = (await prometheus.alerts()).filter((a) => a.labels.alertname === 'ShoalTrackerNotReady' && a.state === 'firing');
    assert.deepEqual(others, [], 'no per-replica alert on top of the outage');
    await redis.start();
    const backAt = Date.now();
    await waitUntil('ShoalRedisUnreachable cleared', async () => (await state()) === 'inactive', 30_000, 500);
    console.log(`# ShoalRedisUnreachable cleared ${((Date.now() - backAt) / 1000).toFixed(1)} s after Redis returned`);
  });
});

const HOT = randomHash();

/** Steady announces over HTTP and UDP with a few client prefixes, a third of them to one hot swarm. */
function startLoad(trackers: TestTracker[]): { stop(): Promise<{ ok: number; failed: number }> } {
  let running = true;
  let ok = 0;
  let failed = 0;
  const prefixes = ['-qB4650-', '-TR4060-', 'XYZ12345'];
  const peerId = (i: number) => Buffer.concat([Buffer.from(prefixes[i % prefixes.length]!), randomBytes(12)]);
  const http = async (worker: number) => {
    for (let i = 0; running; i++) {
      const t = trackers[(worker + i) % trackers.length]!;
      const infoHash = i % 3 === 0 ? HOT : randomHash();
      const reply = await t.get(announcePath({ infoHash, peerId: peerId(i + worker), port: 10000 + (i % 1000) })).catch(() => null);
      if (reply?.status === 200) ok++;
      else failed++;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const udp = async () => {
    for (let i = 0; running; i++) {
      const t = trackers[i % trackers.length]!;
      try {
        const connectionId = await udpConnect('127.0.0.1', t.udpPort);
        await udpRequest('127.0.0.1', t.udpPort, announcePacket({ connectionId, infoHash: randomHash(), peerId: peerId(i) }));
        ok++;
      } catch {
        failed++;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const workers = [http(0), http(1), http(2), udp()];
  return {
    async stop() {
      running = false;
      await Promise.all(workers);
      return { ok, failed };
    },
  };
}
