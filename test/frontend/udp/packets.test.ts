import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ConnectionIds } from '../../../src/frontend/udp/connection-id.js';
import { parseAnnounce, parseUrlData, passkeyOf, writeAnnounce, writeConnect, writeError, writeScrape } from '../../../src/frontend/udp/packets.js';
import { announcePacket } from '../../helpers/udp.js';

const ip4 = Buffer.from([192, 0, 2, 1]);

describe('UDP packets', () => {
  it('parses an announce with every field in BEP 15 order', () => {
    const infoHash = Buffer.alloc(20, 0xab);
    const peerId = Buffer.alloc(20, 0xcd);
    const a = parseAnnounce(
      announcePacket({
        connectionId: Buffer.alloc(8),
        infoHash,
        peerId,
        downloaded: 5n,
        left: 6n,
        uploaded: 7n,
        event: 2,
        ip: 0x01020304,
        numwant: 30,
        port: 51413,
      }),
    );
    assert.ok(a.infoHash.equals(infoHash) && a.peerId.equals(peerId));
    assert.deepEqual([a.downloaded, a.left, a.uploaded, a.event, a.ip, a.numwant, a.port, a.urlData], [5, 6, 7, 'started', 0x01020304, 30, 51413, '']);
    assert.equal(parseAnnounce(announcePacket({ connectionId: Buffer.alloc(8), infoHash, event: 9 })).event, null);
  });

  it('reads BEP 41 URL data: concatenated, NOPs skipped, stops at end or unknown options', () => {
    const opts = Buffer.concat([
      Buffer.from([1, 2, 5]),
      Buffer.from('/abcd'),
      Buffer.from([2, 9]),
      Buffer.from('/announce'),
      Buffer.from([0, 2, 3]),
      Buffer.from('xyz'),
    ]);
    assert.equal(parseUrlData(Buffer.concat([Buffer.alloc(98), opts]), 98), '/abcd/announce');
    assert.equal(parseUrlData(Buffer.concat([Buffer.alloc(98), Buffer.from([2, 4]), Buffer.from('/a?b'), Buffer.from([7, 2, 1])]), 98), '/a?b');
    assert.equal(
      parseUrlData(Buffer.concat([Buffer.alloc(98), Buffer.from([2, 50]), Buffer.from('/short')]), 98),
      '/short',
      'truncated data is taken as far as it goes',
    );
    assert.equal(passkeyOf('/0123abcd/announce'), '0123abcd');
    assert.equal(passkeyOf('/0123abcd/announce?x=1'), '0123abcd');
    assert.equal(passkeyOf('/announce'), undefined);
  });

  it('writes connect, announce, scrape and error replies', () => {
    assert.equal(writeConnect(5, Buffer.alloc(8, 1)).toString('hex'), '00000000' + '00000005' + '01'.repeat(8));
    const a = writeAnnounce(6, 1800, 3, 4, Buffer.alloc(12, 9));
    assert.deepEqual([a.readUInt32BE(0), a.readUInt32BE(4), a.readUInt32BE(8), a.readUInt32BE(12), a.readUInt32BE(16), a.length], [1, 6, 1800, 3, 4, 32]);
    const s = writeScrape(7, [{ complete: 1, downloaded: 2, incomplete: 3 }]);
    assert.deepEqual([s.readUInt32BE(0), s.readUInt32BE(4), s.readUInt32BE(8), s.readUInt32BE(12), s.readUInt32BE(16)], [2, 7, 1, 2, 3]);
    const e = writeError(8, 'nope');
    assert.deepEqual([e.readUInt32BE(0), e.readUInt32BE(4), e.subarray(8).toString()], [3, 8, 'nope']);
  });

  it('never throws on random bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 98, maxLength: 400 }), (bytes) => {
        const packet = Buffer.from(bytes);
        const a = parseAnnounce(packet);
        assert.equal(a.infoHash.length, 20);
        assert.ok(typeof a.urlData === 'string');
      }),
      { numRuns: 3000 },
    );
  });
});

describe('UDP connection ids', () => {
  const ids = new ConnectionIds('first-secret-0123456789', '', 60);
  it('are accepted for the issuing address within about two minutes', () => {
    const now = 1_800_000_000;
    const id = ids.issue(ip4, now);
    assert.equal(ids.verify(id, 0, ip4, now), true);
    assert.equal(ids.verify(id, 0, ip4, now + 179), true, 'two minutes plus the grace');
    assert.equal(ids.verify(id, 0, ip4, now + 181), false, 'expired');
    assert.equal(ids.verify(id, 0, ip4, now - 60), false, 'from the future');
    assert.equal(ids.verify(id, 0, Buffer.from([192, 0, 2, 2]), now), false, 'another address');
    const forged = Buffer.from(id);
    forged[7] ^= 1;
    assert.equal(ids.verify(forged, 0, ip4, now), false, 'a forged MAC');
    const moved = Buffer.from(id);
    moved.writeUInt32BE(now + 1, 0);
    assert.equal(ids.verify(moved, 0, ip4, now + 1), false, 'the time is under the MAC');
  });

  it('survive a key rotation, and no other key accepts them', () => {
    const now = 1_800_000_000;
    const old = ids.issue(ip4, now);
    const rotated = new ConnectionIds('second-secret-0123456789', 'first-secret-0123456789', 60);
    assert.equal(rotated.verify(old, 0, ip4, now + 10), true);
    assert.equal(rotated.verify(rotated.issue(ip4, now), 0, ip4, now), true);
    assert.equal(new ConnectionIds('other-secret-0123456789', '', 60).verify(old, 0, ip4, now), false);
  });
});
