/**
 * BEP 24 read back by a real client: libtorrent announces over HTTP and reports the `external ip` the
 * tracker answered. libtorrent ignores loopback and private addresses as votes for its external
 * address, so the announce goes through a forwarding proxy on loopback (trusted by the tracker) that
 * adds X-Forwarded-For with a documentation address: the address the tracker credits the peer with.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { toolMissing } from '../helpers/tools.js';
import { startTracker } from '../helpers/tracker.js';

const SCRIPT = fileURLToPath(new URL('../../../test/client/libtorrent_external_ip.py', import.meta.url));
const PYTHON = '/usr/bin/python3';
const FORWARDED = '203.0.113.77';

/** A reverse proxy on 127.0.0.1 that adds `X-Forwarded-For: FORWARDED` to every request. */
async function forwardingProxy(targetPort: number): Promise<Server> {
  const server = createServer((req, res) => {
    const upstream = request(
      { host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: { ...req.headers, 'x-forwarded-for': FORWARDED } },
      (reply) => {
        res.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

function externalIpOf(url: string): Promise<{ code: number | null; result: any; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-lt-ip-'));
  return new Promise((resolve) => {
    const child = spawn(PYTHON, [SCRIPT, url, dir, '20'], { stdio: ['ignore', 'pipe', 'pipe'] });
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

describe('BEP 24 external ip read by a real client (libtorrent)', { skip: missing ?? false }, () => {
  it('libtorrent learns the address the tracker credited it with', { timeout: 60_000 }, async () => {
    const t = await startTracker({ trusted_proxies: ['127.0.0.1/32'] });
    const proxy = await forwardingProxy(t.port);
    try {
      const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/announce`;
      const { code, result, stderr } = await externalIpOf(url);
      assert.equal(code, 0, `${JSON.stringify(result)} ${stderr}`);
      assert.equal(result.external_ip, FORWARDED, JSON.stringify(result));
    } finally {
      proxy.close();
      await t.close();
    }
  });
});
