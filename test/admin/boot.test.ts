/** boot() and the management API: its listener, its line at start-up, its token, its stop. */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { boot } from '../../src/boot.js';
import { ConfigError } from '../../src/config/config.js';
import { ADMIN_TOKEN, adminClient } from '../helpers/admin.js';

const quiet = { http: { addr: '127.0.0.1:0' }, udp: { addr: '' }, metrics: { addr: '' } };

/** A logger whose lines are kept, and the "tracker started" record among them. */
function recordingLogger(): { logger: pino.Logger; startLine: () => Record<string, unknown> } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: pino(sink), startLine: () => JSON.parse(lines.find((line) => line.includes('"tracker started"'))!) };
}

describe('boot() with admin.addr', () => {
  it('listens, names the address in the start-up line, and stops listening on close()', async () => {
    const { logger, startLine } = recordingLogger();
    const running = await boot({ config: { ...quiet, admin: { addr: '127.0.0.1:0', token: ADMIN_TOKEN } }, env: {}, logger });
    const port = running.adminAddress!.port;
    assert.ok(port > 0 && port !== running.httpAddress.port);
    assert.equal(startLine().admin, `127.0.0.1:${port}`);
    assert.equal((await adminClient(port).get('/freeleech')).status, 200);
    await running.close();
    await assert.rejects(adminClient(port).get('/freeleech'), /ECONNREFUSED/);
  });

  it('stays off by default: adminAddress null, admin null in the start-up line', async () => {
    const { logger, startLine } = recordingLogger();
    const running = await boot({ config: quiet, env: {}, logger });
    await running.close();
    assert.equal(running.adminAddress, null);
    assert.equal(startLine().admin, null);
  });

  it('refuses to start with admin.addr but no token, naming admin.token', async () => {
    await assert.rejects(boot({ config: { ...quiet, admin: { addr: '127.0.0.1:0' } }, env: {}, logger: pino({ level: 'silent' }) }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.key, 'admin.token');
      return true;
    });
  });
});
