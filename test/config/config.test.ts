import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, defaultTree, loadConfig } from '../../src/config/config.js';
import { parseDuration } from '../../src/config/duration.js';
import { parsePortRange } from '../../src/config/ports.js';
import { CONFIG_KEYS, envName } from '../../src/config/schema.js';

const root = new URL('../../../', import.meta.url);

function fails(options: Parameters<typeof loadConfig>[0], key: string, reason: RegExp): void {
  assert.throws(
    () => loadConfig(options),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.equal(e.key, key);
      assert.match(e.reason, reason);
      return true;
    },
  );
}

describe('configuration', () => {
  it('defaults to the memory driver, noop backend and HTTP on [::]:6969', () => {
    const c = loadConfig();
    assert.deepEqual(c.http.addr, { host: '::', port: 6969 });
    assert.equal(c.tracker.driver, 'memory');
    assert.equal(c.backend.driver, 'noop');
    assert.deepEqual([c.announce_interval, c.min_announce_interval, c.peer_ttl, c.default_numwant, c.max_numwant], [1800, 900, 3600, 50, 200]);
  });

  it('example.json holds every key with its default', () => {
    const example = JSON.parse(readFileSync(new URL('example.json', root), 'utf8'));
    assert.deepEqual(example, defaultTree());
  });

  it("the README's example configurations load as they are", () => {
    const readme = readFileSync(new URL('README.md', root), 'utf8');
    const examples = [...readme.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]!);
    assert.ok(examples.length >= 2, 'a public and a private example');
    const dir = mkdtempSync(join(tmpdir(), 'shoal-readme-'));
    examples.forEach((text, i) => {
      const file = join(dir, `example-${i}.json`);
      writeFileSync(file, text);
      assert.doesNotThrow(() => loadConfig({ config: file, env: {} }), `README example ${i + 1}`);
    });
  });

  it('gives every key a distinct environment variable', () => {
    const names = CONFIG_KEYS.map((s) => envName(s.path));
    assert.equal(new Set(names).size, names.length);
    assert.equal(envName('http.addr'), 'TRACKER_HTTP_ADDR');
  });

  it('reads a JSON file and lets the environment override it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'shoal-config-'));
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ http: { addr: '127.0.0.1:7000' }, peer_ttl: '2h', trusted_proxies: ['10.0.0.0/8'] }));
    const c = loadConfig({ config: file, env: {} });
    assert.deepEqual(c.http.addr, { host: '127.0.0.1', port: 7000 });
    assert.equal(c.peer_ttl, 7200);
    const o = loadConfig({
      config: file,
      env: {
        TRACKER_HTTP_ADDR: '[::1]:7001',
        TRACKER_PEER_TTL: '45m',
        TRACKER_ALLOW_IP_SPOOFING: 'true',
        TRACKER_TRUSTED_PROXIES: '10.0.0.0/8, ::1/128',
        TRACKER_TRACKER_PARAMS: '{"reap_interval":500}',
        TRACKER_MAX_NUMWANT: '100',
      },
    });
    assert.deepEqual(o.http.addr, { host: '::1', port: 7001 });
    assert.equal(o.peer_ttl, 2700);
    assert.equal(o.allow_ip_spoofing, true);
    assert.deepEqual(o.trusted_proxies, ['10.0.0.0/8', '::1/128']);
    assert.deepEqual(o.tracker.params, { reap_interval: 500 });
    assert.equal(o.max_numwant, 100);
  });

  it('refuses bad values naming the key and the reason', () => {
    fails({ config: { http: { addr: 'nowhere' } } }, 'http.addr', /host:port/);
    fails({ config: { http: { addr: '1.2.3.4:70000' } } }, 'http.addr', /host:port/);
    fails({ config: { peer_ttl: 'forever' } }, 'peer_ttl', /duration/);
    fails({ config: { max_numwant: 5000 } }, 'max_numwant', /at most 1000/);
    fails({ config: { default_numwant: 1.5 } }, 'default_numwant', /integer/);
    fails({ config: { respect_af: 'yes' } }, 'respect_af', /true or false/);
    fails({ config: { trusted_proxies: ['10.0.0.0/33'] } }, 'trusted_proxies', /not a CIDR/);
    fails({ config: { trusted_proxies: '10.0.0.0/8' } }, 'trusted_proxies', /list of CIDRs/);
    fails({ config: { log: { level: 'loud' } } }, 'log.level', /one of/);
    fails({ config: { tracker: { driver: '' } } }, 'tracker.driver', /empty/);
    fails({ config: { tracker: { params: [] } } }, 'tracker.params', /object/);
    fails({ config: { announce_intervall: 5 } }, 'announce_intervall', /unknown configuration key/);
    fails({ config: { http: { adr: 'x' } } }, 'http.adr', /unknown configuration key/);
    fails({ config: { peer_ttl: 100, announce_interval: 100, min_announce_interval: 50 } }, 'peer_ttl', /must exceed announce_interval/);
    fails({ config: { min_announce_interval: 2000 } }, 'min_announce_interval', /must not exceed/);
    fails({ config: { default_numwant: 300 } }, 'default_numwant', /must not exceed max_numwant/);
    fails({ config: { real_ip_header: 'X Real' } }, 'real_ip_header', /header name/);
    fails({ env: { TRACKER_MAX_NUMWANT: 'many' } }, 'TRACKER_MAX_NUMWANT (max_numwant)', /integer/);
    fails({ env: { TRACKER_RESPECT_AF: 'perhaps' } }, 'TRACKER_RESPECT_AF', /true or false/);
    fails({ env: { TRACKER_TRACKER_PARAMS: '{' } }, 'TRACKER_TRACKER_PARAMS', /JSON object/);
    fails({ config: '/nonexistent/shoal.json' }, '--config', /cannot read/);
    fails({ config: { announce_interval: '30m0.5s' } }, 'announce_interval', /whole number of seconds/);
    fails({ env: { TRACKER_PEER_TTL: '3600.5' } }, 'TRACKER_PEER_TTL (peer_ttl)', /whole number of seconds/);
    fails({ config: { 'http.addr': '127.0.0.1:80' } }, 'http.addr', /nest it/);
    fails({ config: { udp: { secret: 'short' } } }, 'udp.secret', /at least 16 characters/);
    fails({ config: { udp: { addr: 'somewhere' } } }, 'udp.addr', /host:port/);
    for (const port of ['0', '65536', '6889-6881', '68a1', '1-2-3', '', ' - ']) {
      fails({ config: { private: { denied_ports: [port] } } }, 'private.denied_ports', /is not a port \(1-65535\) or a range/);
    }
    fails({ config: { private: { denied_ports: 6881 } } }, 'private.denied_ports', /list of ports and ranges/);
    fails({ config: { private: { denied_ports: Array.from({ length: 1001 }, () => '1') } } }, 'private.denied_ports', /at most 1000 entries/);
  });

  it('reads denied ports and ranges from a file and from the environment', () => {
    assert.deepEqual(loadConfig({ config: { private: { denied_ports: ['6881-6889', ' 1214 '] } } }).private.denied_ports, ['6881-6889', ' 1214 ']);
    assert.deepEqual(loadConfig({ env: { TRACKER_PRIVATE_DENIED_PORTS: '6881-6889, 1214' } }).private.denied_ports, ['6881-6889', '1214']);
    assert.deepEqual(
      [parsePortRange('6881-6889'), parsePortRange('1214'), parsePortRange('65535'), parsePortRange('1 - 2')],
      [
        [6881, 6889],
        [1214, 1214],
        [65535, 65535],
        [1, 2],
      ],
    );
  });

  it('turns UDP off with an empty address, and needs no key then', () => {
    const c = loadConfig({ config: { tracker: { driver: 'redis' }, udp: { addr: '' } } });
    assert.equal(c.udp.addr, null);
    assert.deepEqual(loadConfig().udp.addr, { host: '::', port: 6969 });
  });

  it('parses durations', () => {
    assert.equal(parseDuration(90), 90);
    assert.equal(parseDuration('90'), 90);
    assert.equal(parseDuration('30m'), 1800);
    assert.equal(parseDuration('1h30m'), 5400);
    assert.equal(parseDuration('1500ms'), 1.5);
    for (const bad of ['', 'm', '5 minutes', '-5', '1h-', -1, null, {}]) assert.equal(parseDuration(bad), null, JSON.stringify(bad));
  });
});
