/**
 * A real client: libtorrent (Debian python3-libtorrent) seeds and leeches a file on loopback, with this
 * tracker as its only peer source (no DHT, LSD, UPnP, NAT-PMP or peer exchange).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { decode, decodedKey, scrapePath } from '../helpers/http.js';
import { toolMissing } from '../helpers/tools.js';
import { startTracker } from '../helpers/tracker.js';

const SCRIPT = fileURLToPath(new URL('../../../test/client/libtorrent_transfer.py', import.meta.url));
const PYTHON = '/usr/bin/python3';

function runTransfer(url: string, host: string): Promise<{ code: number | null; result: any; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-lt-'));
  return new Promise((resolve) => {
    const child = spawn(PYTHON, [SCRIPT, url, host, dir, '60'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    child.on('exit', (code) => {
      rmSync(dir, { recursive: true, force: true });
      let result: any;
      try {
        result = JSON.parse(out.trim().split('\n').at(-1) ?? '');
      } catch {
        result = { raw: out };
      }
      resolve({ code, result, stderr: err });
    });
  });
}

const missing = toolMissing('python3-libtorrent', 'python3-libtorrent', [[PYTHON, ['-c', 'import libtorrent']]]);

describe('a real BitTorrent client (libtorrent)', { skip: missing ?? false }, () => {
  const cases = [
    ['HTTP', 'IPv4', '127.0.0.1'],
    ['HTTP', 'IPv6', '[::1]'],
    ['UDP', 'IPv4', '127.0.0.1'],
    ['UDP', 'IPv6', '[::1]'],
  ] as const;
  for (const [protocol, family, host] of cases) {
    it(`seeder and leecher complete a transfer over ${protocol} announces (${family})`, { timeout: 90_000 }, async () => {
      const t = await startTracker({ announce_interval: 30, min_announce_interval: 1, interval_jitter: 0, peer_ttl: 120 });
      try {
        const url = protocol === 'HTTP' ? `http://${host}:${t.port}/announce` : `udp://${host}:${t.udpPort}/announce`;
        const { code, result, stderr } = await runTransfer(url, host);
        assert.equal(code, 0, `transfer failed: ${JSON.stringify(result)} ${stderr}`);
        assert.deepEqual(result.peer_sources, ['tracker'], 'the leecher found its peer through the tracker only');
        const hash = Buffer.from(result.info_hash, 'hex');
        const s = decode((await t.get(scrapePath([hash]))).body);
        const counts = s.files[decodedKey(hash)];
        if (protocol === 'HTTP') {
          assert.deepEqual(counts, { complete: 0, downloaded: 1, incomplete: 0 }, 'the leecher reported completed, and both sent stopped as they quit');
        } else {
          // libtorrent quits before a UDP "stopped" (which needs a connect round trip first) goes out.
          assert.equal(counts.downloaded, 1, 'the leecher reported completed');
          assert.equal(counts.incomplete, 0, 'nobody is left leeching');
        }
      } finally {
        await t.close();
      }
    });
  }
});
