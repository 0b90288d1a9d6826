/** Client addresses behind trusted proxies, over real sockets. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { announcePath, decode, peerList, randomHash } from '../../helpers/http.js';
import { startTracker } from '../../helpers/tracker.js';

describe('client address behind proxies', () => {
  it('takes the rightmost untrusted X-Forwarded-For entry from a trusted proxy', async () => {
    const t = await startTracker({ trusted_proxies: ['127.0.0.0/8', '10.0.0.0/8'] });
    try {
      const hash = randomHash();
      await t.get(announcePath({ infoHash: hash, port: 5001 }), { 'X-Forwarded-For': '192.0.2.66, 203.0.113.7, 10.2.3.4' });
      await t.get(announcePath({ infoHash: hash, port: 5002 }), { 'X-Forwarded-For': '2001:db8::99' });
      const d = decode((await t.get(announcePath({ infoHash: hash, port: 5003 }), { 'X-Forwarded-For': '198.51.100.1' })).body);
      assert.deepEqual(peerList(d.peers, 4), ['203.0.113.7:5001']);
      const d6 = decode((await t.get(announcePath({ infoHash: hash, port: 5004 }), { 'X-Forwarded-For': '2001:db8::98' })).body);
      assert.deepEqual(peerList(d6.peers6, 6), ['[2001:db8:0:0:0:0:0:99]:5002']);
    } finally {
      await t.close();
    }
  });

  it('ignores X-Forwarded-For from an untrusted peer', async () => {
    const t = await startTracker({ trusted_proxies: ['10.0.0.0/8'] });
    try {
      const hash = randomHash();
      await t.get(announcePath({ infoHash: hash, port: 5101 }), { 'X-Forwarded-For': '203.0.113.7' });
      const d = decode((await t.get(announcePath({ infoHash: hash, port: 5102 }))).body);
      assert.deepEqual(peerList(d.peers, 4), ['127.0.0.1:5101']);
    } finally {
      await t.close();
    }
  });

  it('ignores X-Forwarded-For entirely without trusted proxies', async () => {
    const t = await startTracker();
    try {
      const hash = randomHash();
      await t.get(announcePath({ infoHash: hash, port: 5201 }), { 'X-Forwarded-For': '203.0.113.7' });
      const d = decode((await t.get(announcePath({ infoHash: hash, port: 5202 }))).body);
      assert.deepEqual(peerList(d.peers, 4), ['127.0.0.1:5201']);
    } finally {
      await t.close();
    }
  });

  it('reads real_ip_header when configured', async () => {
    const t = await startTracker({ trusted_proxies: ['::1/128', '127.0.0.1/32'], real_ip_header: 'X-Real-IP' });
    try {
      const hash = randomHash();
      await t.get(announcePath({ infoHash: hash, port: 5301 }), { 'X-Real-IP': '198.51.100.23', 'X-Forwarded-For': '203.0.113.1' }, '::1');
      const d = decode((await t.get(announcePath({ infoHash: hash, port: 5302 }), { 'X-Real-IP': '198.51.100.24' })).body);
      assert.deepEqual(peerList(d.peers, 4), ['198.51.100.23:5301']);
    } finally {
      await t.close();
    }
  });

  it('answers external ip (BEP 24): the address the tracker credits, 4 bytes for IPv4, 16 for IPv6', async () => {
    const t = await startTracker({ trusted_proxies: ['10.0.0.0/8', '::1/128'] });
    try {
      const hash = randomHash();
      // The listener is [::]: 127.0.0.1 arrives as ::ffff:127.0.0.1 and is answered as 4 bytes.
      const v4 = decode((await t.get(announcePath({ infoHash: hash, port: 5401 }))).body);
      assert.equal(Buffer.from(v4['external ip']).toString('hex'), '7f000001');
      const plainV6 = await startTracker();
      try {
        const v6 = decode((await plainV6.get(announcePath({ infoHash: hash, port: 5402 }), {}, '::1')).body);
        assert.equal(Buffer.from(v6['external ip']).toString('hex'), '00000000000000000000000000000001');
      } finally {
        await plainV6.close();
      }
      const proxied = decode((await t.get(announcePath({ infoHash: hash, port: 5403 }), { 'X-Forwarded-For': '203.0.113.9' }, '::1')).body);
      assert.equal(Buffer.from(proxied['external ip']).toString('hex'), 'cb007109', 'the forwarded address, not the proxy');
      const proxied6 = decode((await t.get(announcePath({ infoHash: hash, port: 5404, compact: 0 }), { 'X-Forwarded-For': '2001:db8::7' }, '::1')).body);
      assert.equal(Buffer.from(proxied6['external ip']).toString('hex'), '20010db8000000000000000000000007');
    } finally {
      await t.close();
    }
  });

  it('leaves external ip out when http.external_ip is false', async () => {
    const t = await startTracker({ http: { external_ip: false } });
    try {
      const d = decode((await t.get(announcePath({ infoHash: randomHash(), port: 5501 }))).body);
      assert.equal(d['failure reason'], undefined);
      assert.equal('external ip' in d, false);
    } finally {
      await t.close();
    }
  });
});
