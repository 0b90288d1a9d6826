import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { trustedProxyList } from '../../../src/config/config.js';
import { formatIp } from '../../../src/bittorrent/address.js';
import { resolveClientIp } from '../../../src/frontend/http/client-ip.js';

const trusted = trustedProxyList(['127.0.0.0/8', '10.0.0.0/8', '::1/128', 'fd00::/8']);
const xff = { trusted, header: 'x-forwarded-for' };
const resolve = (socket: string, header?: string, options = xff): string | null => {
  const ip = resolveClientIp(socket, header === undefined ? {} : { [options.header]: header }, options);
  return ip && formatIp(ip);
};

describe('client address', () => {
  it('is the socket address without trusted proxies, whatever the headers say', () => {
    assert.equal(resolve('::ffff:203.0.113.5', '1.1.1.1', { trusted: null as never, header: 'x-forwarded-for' }), '203.0.113.5');
    assert.equal(resolve('203.0.113.5', '1.1.1.1'), '203.0.113.5', 'an untrusted socket is not believed');
  });

  it('is the rightmost untrusted X-Forwarded-For entry behind trusted proxies', () => {
    assert.equal(resolve('127.0.0.1', '198.51.100.1, 203.0.113.9, 10.1.1.1'), '203.0.113.9');
    assert.equal(resolve('::1', '2001:db8::5'), '2001:db8::5');
    assert.equal(resolve('::ffff:127.0.0.1', ' 198.51.100.7 '), '198.51.100.7');
    assert.equal(resolve('127.0.0.1', '10.0.0.5, 10.0.0.6'), '10.0.0.5', 'all trusted: the leftmost');
    assert.equal(resolve('127.0.0.1', 'garbage, 10.0.0.6'), '10.0.0.6', 'a malformed hop stops the walk');
    assert.equal(resolve('127.0.0.1'), '127.0.0.1', 'no header: the socket');
    assert.equal(resolve('127.0.0.1', '198.51.100.4:5555'), '198.51.100.4', 'a hop with a port');
    assert.equal(resolve('127.0.0.1', '[2001:db8::1]:443'), '2001:db8::1', 'a bracketed IPv6 hop');
    assert.equal(resolve('127.0.0.1', '[2001:db8::2]'), '2001:db8::2');
  });

  it('reads a configured header instead', () => {
    const realIp = { trusted, header: 'x-real-ip' };
    assert.equal(resolve('127.0.0.1', '198.51.100.3', realIp), '198.51.100.3');
  });
});
