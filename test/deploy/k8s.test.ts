/**
 * The Kubernetes manifests, checked offline: every object against the Kubernetes schemas
 * (kubernetes-models), every kustomization's files present, the ConfigMap's config.json (with the
 * Secret's overrides) through the tracker's own validation, the operational settings that matter, and
 * a real `kubectl kustomize` rendering of the base and the overlays.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config/config.js';
import { parseStreamParams } from '../../src/backend/stream/params.js';
import { parseRedisParams } from '../../src/store/redis/params.js';
import { toolMissing } from '../helpers/tools.js';

const require = createRequire(import.meta.url);
const K8S = fileURLToPath(new URL('../../../k8s/', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; [key: string]: any };

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? yamlFiles(path) : name.endsWith('.yaml') ? [path] : [];
  });
}

const manifests = new Map<string, Manifest[]>();
for (const file of yamlFiles(K8S)) {
  manifests.set(
    file,
    parseAllDocuments(readFileSync(file, 'utf8'))
      .map((doc) => doc.toJS() as Manifest)
      .filter(Boolean),
  );
}
/** What `kubectl apply -k k8s/` applies: the trackers (base/) and the single-node Redis (redis/). */
const base = [...manifests.entries()]
  .filter(([file]) => file.includes(`${join(K8S, 'base')}/`) || file.includes(`${join(K8S, 'redis')}/`))
  .flatMap(([, docs]) => docs);
const kubectlMissing = toolMissing('kubectl (kustomize)', 'kubernetes-client', [['kubectl', ['version', '--client']]]);
const find = (kind: string, name: string): Manifest => {
  const found = base.find((m) => m.kind === kind && m.metadata?.name === name);
  assert.ok(found, `${kind}/${name} is missing`);
  return found;
};

describe('k8s manifests', () => {
  it('are valid Kubernetes objects', () => {
    let checked = 0;
    for (const [file, docs] of manifests) {
      for (const doc of docs) {
        // Prometheus Operator objects (k8s/monitoring) have no schema in kubernetes-models: monitoring.test.ts checks them.
        // cert-manager's Certificate (k8s/tls) has none either: the TLS overlay's test checks it.
        if (doc.kind === 'Kustomization' || doc.apiVersion === 'monitoring.coreos.com/v1' || doc.apiVersion === 'cert-manager.io/v1') continue;
        const module = require(`kubernetes-models/${doc.apiVersion}`) as Record<string, new (data: unknown) => { validate(): void }>;
        const Model = module[doc.kind];
        assert.ok(Model, `${file}: unknown kind ${doc.apiVersion} ${doc.kind}`);
        assert.doesNotThrow(() => new Model(doc).validate(), `${file}: ${doc.kind}/${doc.metadata?.name}`);
        checked++;
      }
    }
    assert.ok(checked >= 12, `checked ${checked} objects`);
  });

  it('list only files that exist in their kustomizations', () => {
    for (const [file, docs] of manifests) {
      for (const doc of docs.filter((d) => d.kind === 'Kustomization')) {
        const dir = join(file, '..');
        for (const listed of [...(doc.resources ?? []), ...(doc.bases ?? []), ...(doc.patchesStrategicMerge ?? [])]) {
          assert.ok(existsSync(join(dir, listed)), `${file}: ${listed}`);
        }
      }
    }
    const listed = (manifests.get(join(K8S, 'base', 'kustomization.yaml'))![0]!.resources as string[]).sort();
    const present = readdirSync(join(K8S, 'base'))
      .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
      .sort();
    assert.deepEqual(listed, present, 'every manifest is in the kustomization');
  });

  it('use only what every kustomize reads (back to kubectl 1.14: Debian 12 ships kubectl 1.20)', () => {
    // Kustomize 2.0.3 reads `resources` as files only (directories go in `bases`), and no `patches`.
    const known = new Set(['apiVersion', 'kind', 'namespace', 'resources', 'bases', 'patchesStrategicMerge', 'images']);
    let kustomizations = 0;
    for (const [file, docs] of manifests) {
      for (const doc of docs.filter((d) => d.kind === 'Kustomization')) {
        kustomizations++;
        for (const key of Object.keys(doc)) assert.ok(known.has(key), `${file}: ${key} is not read by kubectl 1.20's kustomize`);
        for (const resource of doc.resources ?? [])
          assert.ok(statSync(join(file, '..', resource)).isFile(), `${file}: ${resource} is a directory: list it in bases`);
      }
    }
    assert.equal(kustomizations, 7);
  });

  it('render with kustomize, the base and the Redis Cluster overlay alike', { skip: kubectlMissing ?? false }, () => {
    const render = (dir: string): Manifest[] =>
      parseAllDocuments(execFileSync('kubectl', ['kustomize', join(K8S, dir)], { encoding: 'utf8' })).map((doc) => doc.toJS() as Manifest);
    const kinds = (docs: Manifest[]): string[] => docs.map((d) => `${d.kind}/${d.metadata.name}`).sort();
    const whole = render('.');
    assert.ok(kinds(whole).includes('StatefulSet/redis') && kinds(whole).includes('Deployment/tracker'), kinds(whole).join(' '));
    assert.ok(
      whole.every((d) => d.kind === 'Namespace' || d.metadata.namespace === 'tracker'),
      'every object in the tracker namespace',
    );
    const clustered = render('redis-cluster');
    assert.ok(!kinds(clustered).includes('StatefulSet/redis') && !kinds(clustered).includes('Service/redis'), 'no single-node Redis');
    const secret = clustered.find((d) => d.kind === 'Secret')!;
    assert.equal(parseRedisParams(JSON.parse(secret.stringData.TRACKER_TRACKER_PARAMS)).cluster?.length, 3);
  });

  it('the accounting overlay runs private trackers writing to the stream, and a consumer reading it', { skip: kubectlMissing ?? false }, () => {
    const docs = parseAllDocuments(execFileSync('kubectl', ['kustomize', join(K8S, 'accounting')], { encoding: 'utf8' })).map((doc) => doc.toJS() as Manifest);
    const get = (kind: string, name: string): Manifest => docs.find((d) => d.kind === kind && d.metadata.name === name)!;
    const json = JSON.parse(get('ConfigMap', 'tracker-config').data['config.json']);
    const secrets = get('Secret', 'tracker-secrets').stringData as Record<string, string>;
    const tracker = loadConfig({ config: json, env: secrets });
    assert.equal(tracker.private_enabled, true);
    assert.equal(tracker.backend.driver, 'redis-stream');
    const stream = parseStreamParams(tracker.backend.params);
    assert.equal(stream.url, parseRedisParams(tracker.tracker.params).url, "the stream lives in the trackers' Redis");
    const consumer = get('Deployment', 'consumer');
    const container = consumer.spec.template.spec.containers[0];
    assert.deepEqual(container.command, ['node', 'dist/src/consumer/cli.js']);
    assert.deepEqual(
      container.envFrom.map((e: { secretRef: { name: string } }) => e.secretRef.name),
      ['tracker-secrets', 'consumer-secrets'],
    );
    const consumerConfig = loadConfig({
      config: json,
      env: { ...secrets, ...(get('Secret', 'consumer-secrets').stringData as Record<string, string>), TRACKER_CONSUMER_NAME: 'consumer-0' },
    });
    assert.deepEqual(parseStreamParams(consumerConfig.backend.params), stream, 'the consumer reads the stream the trackers write');
    assert.match(consumerConfig.consumer.postgres_url, /^postgres:\/\//);
    assert.equal(consumer.spec.template.spec.securityContext.runAsNonRoot, true);
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
  });

  it('the TLS overlay serves HTTPS from the Secret cert-manager keeps, mounted so that renewals reach the pods', { skip: kubectlMissing ?? false }, () => {
    const docs = parseAllDocuments(execFileSync('kubectl', ['kustomize', join(K8S, 'tls')], { encoding: 'utf8' })).map((doc) => doc.toJS() as Manifest);
    const get = (kind: string, name: string): Manifest => {
      const found = docs.find((d) => d.kind === kind && d.metadata.name === name);
      assert.ok(found, `${kind}/${name} is missing`);
      return found;
    };
    const certificate = get('Certificate', 'tracker-tls');
    assert.equal(certificate.metadata.namespace, 'tracker');
    assert.ok(certificate.spec.dnsNames.length > 0 && certificate.spec.issuerRef.name);
    const pod = get('Deployment', 'tracker').spec.template.spec;
    const container = pod.containers[0];
    const env = Object.fromEntries(container.env.map((e: { name: string; value: string }) => [e.name, e.value])) as Record<string, string>;
    const config = loadConfig({
      config: JSON.parse(get('ConfigMap', 'tracker-config').data['config.json']),
      env: { ...(get('Secret', 'tracker-secrets').stringData as Record<string, string>), ...env },
    });
    assert.ok(config.http.https_addr, 'HTTPS beside the plain listener the probes use');
    assert.equal(container.readinessProbe.httpGet.port, 'http');
    const volume = pod.volumes.find((v: { secret?: { secretName: string } }) => v.secret?.secretName === certificate.spec.secretName);
    assert.ok(volume, "the Certificate's Secret is a volume");
    const mount = container.volumeMounts.find((m: { name: string }) => m.name === volume.name);
    assert.equal(mount.subPath, undefined, 'a subPath mount never sees a renewal');
    for (const file of [config.http.tls.cert, config.http.tls.key]) assert.equal(join(file, '..'), mount.mountPath, file);
    const port = container.ports.find((p: { name: string }) => p.name === 'https');
    assert.equal(port.containerPort, config.http.https_addr.port);
    const service = get('Service', 'tracker-https');
    assert.equal(service.spec.ports[0].targetPort, 'https');
    assert.equal(service.spec.externalTrafficPolicy, 'Local', "TLS ends in the pod: the client's address must reach it");
  });

  it("the ConfigMap's config.json, with the Secret's overrides, passes the tracker's own validation", () => {
    const json = JSON.parse(find('ConfigMap', 'tracker-config').data['config.json']);
    const secret = find('Secret', 'tracker-secrets').stringData as Record<string, string>;
    const config = loadConfig({ config: json, env: secret });
    assert.equal(config.tracker.driver, 'redis');
    assert.ok(config.udp.secret.length >= 16);
    assert.ok(config.admin.addr && config.admin.token.length >= 16, 'the management API is on, with its token from the Secret');
    parseRedisParams(config.tracker.params);
    const overlay = manifests.get(join(K8S, 'redis-cluster', 'tracker-params.yaml'))![0]!;
    const clustered = loadConfig({ config: json, env: { ...secret, ...overlay.stringData } });
    assert.equal(parseRedisParams(clustered.tracker.params).cluster?.length, 3);
  });

  it('the Deployment probes, drains and runs locked down', () => {
    const deployment = find('Deployment', 'tracker');
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    assert.ok(deployment.spec.replicas >= 3);
    assert.equal(container.readinessProbe.httpGet.path, '/readyz');
    assert.equal(container.livenessProbe.httpGet.path, '/healthz');
    assert.deepEqual(container.lifecycle.preStop.exec.command, ['sleep', '5']);
    const config = loadConfig({
      config: JSON.parse(find('ConfigMap', 'tracker-config').data['config.json']),
      env: find('Secret', 'tracker-secrets').stringData,
    });
    assert.ok(pod.terminationGracePeriodSeconds > 5 + config.shutdown_timeout, 'grace covers preStop and the drain');
    assert.deepEqual(
      container.ports.map((p: { containerPort: number; protocol: string }) => `${p.containerPort}/${p.protocol}`),
      [`${config.http.addr.port}/TCP`, `${config.udp.addr!.port}/UDP`, `${config.metrics.addr!.port}/TCP`, `${config.admin.addr!.port}/TCP`],
    );
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.ok(container.resources.requests.cpu && container.resources.limits.memory);
  });

  it('keeps UDP source addresses and scales on CPU with a disruption budget', () => {
    const udp = find('Service', 'tracker-udp');
    assert.equal(udp.spec.externalTrafficPolicy, 'Local');
    assert.equal(udp.spec.ports[0].protocol, 'UDP');
    assert.equal(find('HorizontalPodAutoscaler', 'tracker').spec.metrics[0].resource.name, 'cpu');
    assert.ok(find('PodDisruptionBudget', 'tracker').spec.minAvailable >= 1);
  });

  it("ships the repository's redis.conf to the Redis StatefulSet", () => {
    assert.equal(find('ConfigMap', 'redis-config').data['redis.conf'], readFileSync(join(ROOT, 'redis.conf'), 'utf8'));
    find('StatefulSet', 'redis');
  });
});
