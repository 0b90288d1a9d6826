/** The tracker as a process: custom programs, start-up, configuration errors, graceful stop. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { announcePath, decode, httpGet, peerList, randomHash, text } from '../helpers/http.js';
import { CLI, portFromStartLine, spawnNode } from '../helpers/tracker.js';

const FIXTURE = fileURLToPath(new URL('../../../test/fixtures/custom-driver.mjs', import.meta.url));
const isStartLine = (line: string): boolean => line.includes('"tracker started"');

describe('a custom program with its own driver', () => {
  it('registers the driver, boots, and serves announces from it', async () => {
    const proc = spawnNode([FIXTURE], {
      TRACKER_HTTP_ADDR: '127.0.0.1:0',
      TRACKER_UDP_ADDR: '',
      TRACKER_METRICS_ADDR: '',
      TRACKER_TRACKER_PARAMS: '{"peer":"10.9.8.7:4242"}',
    });
    try {
      const startLine = await proc.waitForLine(isStartLine);
      const port = portFromStartLine(startLine);
      // The start line, not the first line: boot may warn before it (the WebTorrent frontend does for a driver without WebRTC swarms).
      assert.match(startLine, /"tracker":"fixed"/);
      const d = decode((await httpGet('127.0.0.1', port, announcePath({ infoHash: randomHash() }))).body);
      assert.deepEqual(peerList(d.peers, 4), ['10.9.8.7:4242']);
      assert.deepEqual([d.complete, d.incomplete, d.downloaded], [7, 1, 1]);
    } finally {
      proc.child.kill('SIGKILL');
    }
  });
});

describe('graceful stop', () => {
  it('on SIGTERM stops accepting, finishes the request in flight, and exits 0', async () => {
    const proc = spawnNode([FIXTURE], {
      TRACKER_HTTP_ADDR: '127.0.0.1:0',
      TRACKER_UDP_ADDR: '',
      TRACKER_METRICS_ADDR: '',
      TRACKER_TRACKER_PARAMS: '{"peer":"10.0.0.1:1","delay_ms":800}',
    });
    const port = portFromStartLine(await proc.waitForLine(isStartLine));
    const inFlight = httpGet('127.0.0.1', port, announcePath({ infoHash: randomHash() }));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const stoppedAt = Date.now();
    proc.child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 100));
    await assert.rejects(httpGet('127.0.0.1', port, '/healthz'), /ECONNREFUSED/, 'no new connections once stopping');
    const reply = await inFlight;
    assert.deepEqual(peerList(decode(reply.body).peers, 4), ['10.0.0.1:1'], 'the request in flight was answered');
    const { code } = await proc.exit;
    assert.equal(code, 0);
    assert.ok(Date.now() - stoppedAt < 5000, 'exits within a few seconds');
  });
});

describe('the CLI', () => {
  it('runs with no configuration: memory driver on port 6969, IPv4 and IPv6, one start-up line and no line per request', async () => {
    const proc = spawnNode([CLI]);
    try {
      const line = await proc.waitForLine(isStartLine);
      const record = JSON.parse(line);
      assert.deepEqual([record.http, record.udp, record.metrics, record.tracker, record.backend], ['[::]:6969', '[::]:6969', '[::]:6880', 'memory', 'noop']);
      const hash = randomHash();
      await httpGet('127.0.0.1', 6969, announcePath({ infoHash: hash, port: 1111 }));
      const d = decode((await httpGet('::1', 6969, announcePath({ infoHash: hash, port: 2222 }))).body);
      assert.deepEqual([d.complete, d.incomplete], [0, 2]);
      for (let i = 0; i < 10; i++) await httpGet('127.0.0.1', 6969, announcePath({ infoHash: hash }));
      await httpGet('127.0.0.1', 6969, '/announce?info_hash=bad');
      const metrics = (await httpGet('127.0.0.1', 6880, '/metrics')).body.toString();
      assert.match(metrics, /tracker_requests_total\{protocol="http",action="announce",family="4",outcome="ok"\} 11/);
      assert.match(metrics, /tracker_requests_total\{protocol="http",action="announce",family="6",outcome="ok"\} 1/);
      assert.match(metrics, /tracker_requests_total\{protocol="http",action="announce",family="4",outcome="client_error"\} 1/);
      proc.child.kill('SIGTERM');
      assert.equal((await proc.exit).code, 0);
      const infoLines = proc.lines.filter((l) => l.includes('"level":30'));
      assert.deepEqual(infoLines.map((l) => JSON.parse(l).msg).sort(), ['stopping', 'tracker started', 'tracker stopped'], proc.lines.join('\n'));
    } finally {
      proc.child.kill('SIGKILL');
    }
  });

  it('prints --help and --version', async () => {
    const help = spawnNode([CLI, '--help']);
    assert.equal((await help.exit).code, 0);
    assert.match(help.lines.join('\n'), /--config PATH/);
    const version = spawnNode([CLI, '--version']);
    assert.equal((await version.exit).code, 0);
    assert.match(version.lines[0]!, /^\d+\.\d+\.\d+$/);
  });

  const dir = mkdtempSync(join(tmpdir(), 'shoal-cli-'));
  const file = (name: string, content: string): string => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };
  const refusals: Array<[string, string[], Record<string, string>, number, RegExp]> = [
    ['a bad value in the file', ['--config', file('bad.json', '{"max_numwant": -1}')], {}, 2, /max_numwant: must be at least 0/],
    ['an unknown key', ['--config', file('typo.json', '{"peer_tll": 60}')], {}, 2, /peer_tll: unknown configuration key/],
    ['a file that is not JSON', ['--config', file('broken.json', '{')], {}, 2, /--config: .* is not valid JSON/],
    ['a missing file', ['--config', join(dir, 'missing.json')], {}, 2, /--config: cannot read/],
    ['a bad environment override', [], { TRACKER_HTTP_ADDR: 'everywhere' }, 2, /TRACKER_HTTP_ADDR \(http\.addr\): must be "host:port"/],
    ['an unknown driver', [], { TRACKER_TRACKER_DRIVER: 'postgres' }, 2, /tracker\.driver: unknown driver "postgres" \(registered: memory, redis\)/],
    [
      'bad driver parameters',
      [],
      { TRACKER_TRACKER_PARAMS: '{"reap_interval":1}' },
      2,
      /configuration error: tracker\.params\.reap_interval: must be an integer/,
    ],
    [
      'a bad redis driver parameter',
      [],
      { TRACKER_TRACKER_DRIVER: 'redis', TRACKER_TRACKER_PARAMS: '{"retries":9}' },
      2,
      /configuration error: tracker\.params\.retries: must be an integer from 0 to 5/,
    ],
    [
      'an unknown redis driver parameter',
      [],
      { TRACKER_TRACKER_DRIVER: 'redis', TRACKER_TRACKER_PARAMS: '{"hosts":[]}' },
      2,
      /configuration error: tracker\.params\.hosts: unknown parameter of the redis driver/,
    ],
    [
      'a bad backend parameter',
      [],
      { TRACKER_BACKEND_DRIVER: 'redis-stream', TRACKER_BACKEND_PARAMS: '{"batch_size":0}' },
      2,
      /configuration error: backend\.params\.batch_size: must be an integer/,
    ],
    ['an unknown argument', ['--verbose'], {}, 2, /--verbose: unknown argument/],
    ['a short UDP key', [], { TRACKER_UDP_SECRET: 'short' }, 2, /TRACKER_UDP_SECRET \(udp\.secret\): must be at least 16 characters/],
  ];
  for (const [name, args, env, exitCode, message] of refusals) {
    it(`refuses to start with ${name}, naming the key`, async () => {
      const proc = spawnNode([CLI, ...args], {
        TRACKER_HTTP_ADDR: '127.0.0.1:0',
        TRACKER_UDP_ADDR: '127.0.0.1:0',
        TRACKER_METRICS_ADDR: '',
        TRACKER_UDP_SECRET: 'a-secret-of-16-chars-or-more',
        ...env,
      });
      const { code } = await proc.exit;
      assert.equal(code, exitCode, proc.stderr());
      assert.match(proc.stderr(), message);
      assert.equal(proc.lines.some(isStartLine), false, 'nothing listened');
    });
  }

  it('refuses to start when its port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const proc = spawnNode([CLI], { TRACKER_HTTP_ADDR: `127.0.0.1:${port}`, TRACKER_UDP_ADDR: '', TRACKER_METRICS_ADDR: '' });
      assert.equal((await proc.exit).code, 1);
      assert.match(proc.stderr(), /EADDRINUSE/);
    } finally {
      blocker.close();
    }
  });

  it('reports failure reasons, not crashes, for garbage', async () => {
    const proc = spawnNode([CLI], { TRACKER_HTTP_ADDR: '127.0.0.1:0', TRACKER_UDP_ADDR: '127.0.0.1:0', TRACKER_METRICS_ADDR: '' });
    try {
      const port = portFromStartLine(await proc.waitForLine(isStartLine));
      const reply = await httpGet('127.0.0.1', port, '/announce?%%%%&&&==');
      assert.match(text(decode(reply.body)['failure reason']), /missing info_hash/);
      assert.equal((await httpGet('127.0.0.1', port, '/healthz')).status, 200);
    } finally {
      proc.child.kill('SIGKILL');
    }
  });
});
