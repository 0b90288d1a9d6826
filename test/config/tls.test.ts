/** http.tls and http.https_addr: what the schema refuses, and what a bad certificate file does at start (exit 2, a sentence, no trace). */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { makeCertificate } from '../helpers/tls.js';
import { CLI, spawnNode } from '../helpers/tracker.js';

const dir = mkdtempSync(join(tmpdir(), 'shoal-tls-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function fails(http: Record<string, unknown>, key: string, reason: RegExp): void {
  assert.throws(
    () => loadConfig({ config: { http } }),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.equal(e.key, key);
      assert.match(e.reason, reason);
      return true;
    },
  );
}

describe('http.tls in the schema', () => {
  it('is off by default, and takes a certificate, its key and a handshake timeout', () => {
    const off = loadConfig();
    assert.deepEqual(off.http.tls, { cert: '', key: '', handshake_timeout: 10 });
    assert.equal(off.http.https_addr, null);
    const on = loadConfig({ config: { http: { https_addr: '127.0.0.1:8443', tls: { cert: '/c', key: '/k', handshake_timeout: '30s' } } } });
    assert.deepEqual(on.http.tls, { cert: '/c', key: '/k', handshake_timeout: 30 });
    assert.deepEqual(on.http.https_addr, { host: '127.0.0.1', port: 8443 });
    const env = loadConfig({ env: { TRACKER_HTTP_TLS_CERT: '/c', TRACKER_HTTP_TLS_KEY: '/k', TRACKER_HTTP_HTTPS_ADDR: '[::]:443' } });
    assert.deepEqual([env.http.tls.cert, env.http.tls.key, env.http.https_addr?.port], ['/c', '/k', 443]);
  });

  it('refuses a certificate without its key, a key without its certificate, and https_addr without either', () => {
    fails({ tls: { cert: '/c' } }, 'http.tls.key', /required when http\.tls\.cert is set/);
    fails({ tls: { key: '/k' } }, 'http.tls.cert', /required when http\.tls\.key is set/);
    fails({ https_addr: '[::]:443' }, 'http.https_addr', /needs http\.tls\.cert and http\.tls\.key/);
    fails({ https_addr: 'nope', tls: { cert: '/c', key: '/k' } }, 'http.https_addr', /must be "host:port"/);
    fails({ tls: { cert: '/c', key: '/k', handshake_timeout: 0 } }, 'http.tls.handshake_timeout', /must be at least 1/);
  });
});

describe('a bad certificate file at start', () => {
  const good = makeCertificate(dir, 'good');
  const other = makeCertificate(dir, 'other');
  const garbage = join(dir, 'garbage.pem');
  writeFileSync(garbage, 'not pem\n');
  const huge = join(dir, 'huge.pem');
  writeFileSync(huge, Buffer.alloc(1024 * 1024 + 1, 0x41));
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    [
      'a missing certificate',
      { cert: join(dir, 'missing.crt'), key: good.keyPath },
      /configuration error: http\.tls\.cert: cannot read .*missing\.crt: ENOENT/,
    ],
    ['a missing key', { cert: good.certPath, key: join(dir, 'missing.key') }, /configuration error: http\.tls\.key: cannot read .*missing\.key: ENOENT/],
    ['a directory as the key', { cert: good.certPath, key: dir }, /configuration error: http\.tls\.key: cannot read .*EISDIR/],
    ['a file over the size limit', { cert: huge, key: good.keyPath }, /configuration error: http\.tls\.cert: .*huge\.pem is larger than 1048576 bytes/],
    ['no certificate in the file', { cert: garbage, key: good.keyPath }, /configuration error: http\.tls\.cert: .*garbage\.pem holds no PEM certificate/],
    ['the key of another certificate', { cert: good.certPath, key: other.keyPath }, /configuration error: http\.tls: .* are not a certificate and its key/],
  ];
  for (const [what, files, reason] of cases) {
    it(`stops the CLI with exit code 2 and one line: ${what}`, async () => {
      const proc = spawnNode([CLI], {
        TRACKER_HTTP_ADDR: '127.0.0.1:0',
        TRACKER_UDP_ADDR: '',
        TRACKER_METRICS_ADDR: '',
        TRACKER_HTTP_TLS_CERT: files.cert!,
        TRACKER_HTTP_TLS_KEY: files.key!,
      });
      const { code } = await proc.exit;
      assert.equal(code, 2, proc.stderr());
      assert.match(proc.stderr(), reason);
      assert.doesNotMatch(proc.stderr(), /\n\s+at /, 'no stack trace');
    });
  }
});
