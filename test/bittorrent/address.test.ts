import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compactPeer, decodeCompactPeers, formatIp, parseIp, samePrefix } from '../../src/bittorrent/address.js';

describe('addresses', () => {
  it('parses IPv4 and IPv6 to bytes, IPv4-mapped as IPv4', () => {
    assert.deepEqual([...parseIp('192.168.1.20')!], [192, 168, 1, 20]);
    assert.equal(parseIp('::1')!.toString('hex'), '00000000000000000000000000000001');
    assert.equal(parseIp('2001:db8::8:800:200c:417a')!.toString('hex'), '20010db8000000000008080020 0c417a'.replace(' ', ''));
    assert.deepEqual([...parseIp('::ffff:10.0.0.1')!], [10, 0, 0, 1]);
    assert.equal(parseIp('fe80::1%eth0')!.length, 16);
    assert.equal(parseIp('1:2:3:4:5:6:7:8')!.toString('hex'), '00010002000300040005000600070008');
    assert.equal(parseIp('::1.2.3.4')!.toString('hex'), '00000000000000000000000001020304');
    for (const bad of ['', '1.2.3', '256.1.1.1', 'example.com', '1::2::3', ':::', '1.2.3.4.5', '12345::']) assert.equal(parseIp(bad), null, bad);
  });

  it('formats addresses in their short form', () => {
    assert.equal(formatIp(Buffer.from([127, 0, 0, 1])), '127.0.0.1');
    assert.equal(formatIp(parseIp('2001:db8:0:0:1:0:0:1')!), '2001:db8::1:0:0:1');
    assert.equal(formatIp(parseIp('::1')!), '::1');
    assert.equal(formatIp(parseIp('1:0:2:0:3:0:4:0')!), '1:0:2:0:3:0:4:0');
    for (const text of ['2001:db8::1', 'fe80::', '::', '1:2:3:4:5:6:7:8']) assert.equal(formatIp(parseIp(text)!), text);
  });

  it('encodes and decodes compact peers (6 and 18 bytes)', () => {
    const v4 = compactPeer(parseIp('10.1.2.3')!, 6881);
    assert.equal(v4.toString('hex'), '0a0102031ae1');
    const v6 = compactPeer(parseIp('2001:db8::1')!, 51413);
    assert.equal(v6.length, 18);
    assert.deepEqual(decodeCompactPeers(Buffer.concat([v4, v4]), 4), [
      { ip: '10.1.2.3', port: 6881 },
      { ip: '10.1.2.3', port: 6881 },
    ]);
    assert.deepEqual(decodeCompactPeers(v6, 6), [{ ip: '2001:db8::1', port: 51413 }]);
  });

  it('compares prefixes bit by bit', () => {
    const a = parseIp('10.1.2.3')!;
    assert.equal(samePrefix(a, 0, parseIp('10.1.2.200')!, 0, 24), true);
    assert.equal(samePrefix(a, 0, parseIp('10.1.3.3')!, 0, 24), false);
    assert.equal(samePrefix(a, 0, parseIp('10.1.3.3')!, 0, 22), true);
    assert.equal(samePrefix(a, 0, parseIp('10.1.4.3')!, 0, 22), false);
    assert.equal(samePrefix(a, 0, parseIp('99.1.4.3')!, 0, 0), true);
  });
});
