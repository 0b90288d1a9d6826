/** The announce fast path: which URLs it serves, and that its answers are the router's, byte for byte but the Date. */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fastAnnouncePasskey } from '../../../src/frontend/http/announce.js';
import { announcePath, decode, randomHash } from '../../helpers/http.js';
import { startTracker, type TestTracker } from '../../helpers/tracker.js';

/** One request on a fresh connection; the raw response with its Date header's value blanked. */
function rawGet(port: number, method: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(`${method} ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    let out = '';
    socket.on('data', (chunk: Buffer) => (out += chunk.toString('latin1')));
    socket.on('close', () => resolve(out.replace(/\r\nDate: [^\r]*\r\n/, '\r\nDate: -\r\n')));
    socket.on('error', reject);
  });
}

describe('HTTP announce fast path', () => {
  it('serves /announce and the passkey forms, and leaves every other target to the router', () => {
    assert.equal(fastAnnouncePasskey('/announce'), undefined);
    assert.equal(fastAnnouncePasskey('/announce?info_hash=x'), undefined);
    assert.equal(fastAnnouncePasskey('/abc123/announce?a=b'), 'abc123');
    assert.equal(fastAnnouncePasskey('/users/abc123/announce?a=b'), 'abc123');
    assert.equal(fastAnnouncePasskey('/users/announce'), 'users', 'as the router: /:passkey/announce with passkey "users"');
    for (const other of [
      '/scrape?info_hash=x',
      '/Announce?a=b',
      '/announce/?a=b',
      '//announce',
      '/a/b/announce',
      '/users//announce',
      '/ab%63/announce',
      'http://host/announce',
      'x/announce',
      '/announcex',
      '/xannounce',
      '/healthz',
      '',
    ]) {
      assert.equal(fastAnnouncePasskey(other), null, other);
    }
  });

  describe('against the router', () => {
    let t: TestTracker;
    before(async () => {
      t = await startTracker({ interval_jitter: 0 });
    });
    after(() => t.close());

    it('answers as the router does, headers and body', async () => {
      const hash = randomHash();
      // A failure reason: the same bytes whichever way it came.
      const failing = '/announce?info_hash=short';
      const fast = await rawGet(t.port, 'GET', failing);
      assert.match(fast, /^HTTP\/1\.1 200 OK\r\nContent-Type: text\/plain\r\nContent-Length: \d+\r\nDate: -\r\nConnection: close\r\n\r\nd14:failure reason/);
      assert.equal(await rawGet(t.port, 'GET', failing.replace('/announce', '/ANNOUNCE')), fast, 'the router (case-insensitive route)');
      assert.equal(await rawGet(t.port, 'GET', failing.replace('/announce', '/announce/')), fast, 'the router (trailing slash)');
      // A real answer (no jitter, so the same announce again gives the same bytes).
      const path = announcePath({ infoHash: hash, port: 7001, left: 0 });
      await rawGet(t.port, 'GET', path);
      const viaFast = await rawGet(t.port, 'GET', path);
      const viaRouter = await rawGet(t.port, 'GET', path.replace('/announce', '/Announce'));
      assert.equal(viaRouter, viaFast);
      const body = Buffer.from(viaFast.slice(viaFast.indexOf('\r\n\r\n') + 4), 'latin1');
      assert.deepEqual([decode(body).complete, decode(body).incomplete], [1, 0]);
      assert.equal(await rawGet(t.port, 'GET', path.replace('/announce', '/pk/announce')), viaFast, 'a passkey is ignored by a public tracker');
      assert.equal(await rawGet(t.port, 'GET', path.replace('/announce', '/users/pk/announce')), viaFast);
      assert.equal(await rawGet(t.port, 'GET', path.replace('/announce', '/p%6b/announce')), viaFast, 'an escaped passkey goes to the router');
    });

    it('leaves HEAD to Koa: headers without a body', async () => {
      const head = await rawGet(t.port, 'HEAD', announcePath({ infoHash: randomHash() }));
      assert.match(head, /^HTTP\/1\.1 200 OK\r\nContent-Type: text\/plain\r\nContent-Length: [1-9]\d*\r\n/);
      assert.ok(head.endsWith('\r\n\r\n'), 'no body');
    });
  });
});
