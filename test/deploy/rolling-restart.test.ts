/**
 * A rolling restart without a failed announce: three tracker processes on one real redis-server behind a
 * real nginx running the shipped configuration, under steady HTTP announce load; each replica in turn is
 * stopped with SIGTERM (it drains: stops accepting, finishes what it accepted), started again on its port
 * and waited for on /readyz before the next. nginx retries the next upstream for what never reached a
 * tracker, and is given its fail_timeout to take a restarted replica back before the next one goes. Not one announce may fail or take a second. The Kubernetes manifests do the same: one pod at a
 * time (maxUnavailable 0), readiness on /readyz, a preStop pause before SIGTERM, a grace period that
 * covers the drain.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { parseDuration } from '../../src/config/duration.js';
import { announcePath, decode, httpGet, randomHash, randomPeerId } from '../helpers/http.js';
import { NGINX_CONF, startNginx, type TestNginx } from '../helpers/nginx.js';
import { redisMissing, startRedis, type RedisServer } from '../helpers/redis.js';
import { toolMissing } from '../helpers/tools.js';
import { startTrackerProcess, type ChildTracker, type TestTracker } from '../helpers/tracker.js';
import { waitUntil } from '../helpers/wait.js';

const missing = toolMissing('nginx', 'nginx', [['nginx', ['-v']]]) ?? redisMissing();
const WORKERS = 8;
const SHUTDOWN_TIMEOUT = 10;

interface LoadResult {
  ok: number;
  failed: number;
  slowest: number;
  failures: string[];
}

describe('rolling restart behind nginx', { skip: missing ?? false }, () => {
  let redis: RedisServer;
  let nginx: TestNginx;
  const trackers: Array<TestTracker & { proc: ChildTracker }> = [];
  let env: Record<string, string>;

  before(async () => {
    redis = await startRedis();
    env = {
      TRACKER_TRACKER_DRIVER: 'redis',
      TRACKER_TRACKER_PARAMS: JSON.stringify({ url: redis.url }),
      TRACKER_TRUSTED_PROXIES: '127.0.0.1/32',
      TRACKER_UDP_ADDR: '',
      TRACKER_SHUTDOWN_TIMEOUT: String(SHUTDOWN_TIMEOUT),
    };
    trackers.push(...(await Promise.all([0, 1, 2].map(() => startTrackerProcess({ ...env, TRACKER_HTTP_ADDR: '127.0.0.1:0' })))));
    nginx = await startNginx(trackers.map((t) => t.port));
  });
  after(async () => {
    nginx?.stop();
    await Promise.allSettled(trackers.map((t) => t.close()));
    await redis?.kill();
  });

  it('restarts each replica in turn under load: no failed announce, none slower than 1 s', async () => {
    let running = true;
    const result: LoadResult = { ok: 0, failed: 0, slowest: 0, failures: [] };
    const hashes = Array.from({ length: 50 }, () => randomHash());
    const worker = async (w: number): Promise<void> => {
      for (let i = 0; running; i++) {
        const started = performance.now();
        try {
          const reply = await httpGet(
            '127.0.0.1',
            nginx.port,
            announcePath({ infoHash: hashes[(w * 7 + i) % hashes.length]!, peerId: randomPeerId(), port: 10000 + w }),
          );
          const body = reply.status === 200 ? decode(reply.body) : null;
          if (body && body.interval !== undefined && body['failure reason'] === undefined) result.ok++;
          else {
            result.failed++;
            result.failures.push(`${reply.status} ${reply.body.toString('latin1').slice(0, 120)}`);
          }
        } catch (error) {
          result.failed++;
          result.failures.push(String(error));
        }
        result.slowest = Math.max(result.slowest, performance.now() - started);
      }
    };
    const failTimeoutMs = Number(/fail_timeout=(\d+)s/.exec(readFileSync(NGINX_CONF, 'utf8'))?.[1] ?? 10) * 1000;
    const workers = Array.from({ length: WORKERS }, (_, w) => worker(w));
    const began = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const restarts: string[] = [];
    for (let r = 0; r < trackers.length; r++) {
      const old = trackers[r]!;
      const t0 = Date.now();
      old.proc.child.kill('SIGTERM');
      const { code } = await old.proc.exit;
      assert.equal(code, 0, 'a clean stop');
      const stopped = Date.now();
      const fresh = await startTrackerProcess({ ...env, TRACKER_HTTP_ADDR: `127.0.0.1:${old.port}` });
      assert.equal(fresh.port, old.port);
      await waitUntil('the new replica ready', async () => (await fresh.get('/readyz').catch(() => null))?.status === 200, 15_000, 50);
      trackers[r] = fresh;
      restarts.push(`replica ${r}: drained and exited in ${stopped - t0} ms, back and ready after ${Date.now() - stopped} ms`);
      // nginx counted the stopped replica's refusals (max_fails) and skips it for fail_timeout: wait that
      // long after it is ready, or nginx may still be skipping it when the next one goes (the readiness
      // wait of a Kubernetes rollout, where kube-proxy follows /readyz instead).
      await new Promise((resolve) => setTimeout(resolve, failTimeoutMs + 500));
    }
    running = false;
    await Promise.all(workers);
    const seconds = (Date.now() - began) / 1000;
    console.log(`# ${restarts.join('; ')}`);
    console.log(
      `# rolling restart: ${result.ok + result.failed} announces in ${seconds.toFixed(1)} s through nginx (${WORKERS} clients), ${result.failed} failed, slowest ${result.slowest.toFixed(0)} ms`,
    );
    const nginxLog = () => readFileSync(join(nginx.dir, 'error.log'), 'utf8').split('\n').slice(-8).join('\n');
    assert.equal(result.failed, 0, `${result.failures.slice(0, 3).join('\n')}\nnginx error.log:\n${nginxLog()}`);
    assert.ok(result.ok > 500, `enough load to mean something (${result.ok})`);
    assert.ok(result.slowest < 1000, `slowest answer ${result.slowest.toFixed(0)} ms`);
  });

  it('matches the Kubernetes rollout settings: one pod at a time, readiness on /readyz, preStop, grace over the drain', () => {
    const file = fileURLToPath(new URL('../../../k8s/base/', import.meta.url));
    const docs = (name: string) => parseAllDocuments(readFileSync(file + name, 'utf8')).map((d) => d.toJS() as any);
    const deployment = docs('deployment.yaml').find((d) => d.kind === 'Deployment');
    const pdb = docs('pdb.yaml').find((d) => d.kind === 'PodDisruptionBudget');
    const config = JSON.parse(docs('configmap.yaml').find((d) => d.kind === 'ConfigMap').data['config.json']);
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    // The test stops one replica and waits for its successor's /readyz: a rollout that never has a pod
    // less than wanted, and a disruption budget that lets one go at a time.
    assert.equal(deployment.spec.strategy.rollingUpdate.maxUnavailable, 0);
    assert.equal(pdb.spec.minAvailable, deployment.spec.replicas - 1);
    assert.equal(container.readinessProbe.httpGet.path, '/readyz');
    // Kubernetes has no nginx retry: preStop keeps the pod serving while it leaves the endpoints, then
    // SIGTERM drains as here, within the grace period.
    const preStop = Number(container.lifecycle.preStop.exec.command[1]);
    assert.ok(preStop >= container.readinessProbe.periodSeconds, 'preStop outlasts a readiness period');
    const shutdown = parseDuration(config.shutdown_timeout ?? SHUTDOWN_TIMEOUT)!;
    assert.equal(shutdown, SHUTDOWN_TIMEOUT, 'the test drains as the manifests configure');
    assert.ok(pod.terminationGracePeriodSeconds >= preStop + shutdown, 'the grace period covers preStop and the drain');
  });
});
