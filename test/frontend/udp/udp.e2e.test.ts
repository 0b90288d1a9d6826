/** The UDP tracker over real sockets on 127.0.0.1 and ::1. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { ConnectionIds } from '../../../src/frontend/udp/connection-id.js';
import { announcePath, peerList, randomHash } from '../../helpers/http.js';
import { startTracker, TEST_UDP_SECRET, type TestTracker } from '../../helpers/tracker.js';
import { announcePacket, connectPacket, readAnnounceReply, readError, scrapePacket, udpConnect, udpRequest } from '../../helpers/udp.js';

const V4 = '127.0.0.1';
const V6 = '::1';

describe('UDP tracker, end to end', () => {
  let t: TestTracker;
  before(async () => {
    t = await startTracker({ announce_interval: 1800, interval_jitter: 0 });
  });
  after(() => t.close());

  const announce = async (host: string, fields: Omit<Parameters<typeof announcePacket>[0], 'connectionId'>) => {
    const connectionId = await udpConnect(host, t.udpPort);
    const reply = await udpRequest(host, t.udpPort, announcePacket({ connectionId, ...fields }));
    assert.ok(reply, 'an answer');
    return reply;
  };

  it('connects over IPv4 and IPv6, echoing the transaction id', async () => {
    for (const host of [V4, V6]) {
      const reply = await udpRequest(host, t.udpPort, connectPacket(0xdeadbeef));
      assert.equal(reply!.length, 16);
      assert.deepEqual([reply!.readUInt32BE(0), reply!.readUInt32BE(4)], [0, 0xdeadbeef]);
    }
  });

  it('announces over IPv4: 6-byte peers, counts and interval', async () => {
    const hash = randomHash();
    readAnnounceReply(await announce(V4, { infoHash: hash, port: 4001, left: 0n, event: 2 }));
    const r = readAnnounceReply(await announce(V4, { infoHash: hash, port: 4002, transactionId: 77 }));
    assert.equal(r.interval, 1800);
    assert.deepEqual([r.seeders, r.leechers], [1, 1]);
    assert.deepEqual(peerList(r.peers, 4), ['127.0.0.1:4001']);
  });

  it('announces over IPv6 with 18-byte peers of IPv6 only', async () => {
    const hash = randomHash();
    await announce(V4, { infoHash: hash, port: 4101 });
    await announce(V6, { infoHash: hash, port: 4102 });
    const r = readAnnounceReply(await announce(V6, { infoHash: hash, port: 4103 }));
    assert.deepEqual(peerList(r.peers, 6), ['[0:0:0:0:0:0:0:1]:4102']);
    assert.equal(r.leechers, 3);
  });

  it('shares swarms with HTTP', async () => {
    const hash = randomHash();
    await t.get(announcePath({ infoHash: hash, port: 4201, left: 0 }));
    const r = readAnnounceReply(await announce(V4, { infoHash: hash, port: 4202 }));
    assert.deepEqual(peerList(r.peers, 4), ['127.0.0.1:4201']);
  });

  it('counts a snatch on completed, removes on stopped, and scrapes several hashes', async () => {
    const a = randomHash();
    const b = randomHash();
    await announce(V4, { infoHash: a, port: 4301, event: 2 });
    await announce(V4, { infoHash: a, port: 4301, event: 1, left: 0n });
    await announce(V4, { infoHash: a, port: 4302 });
    const stopped = readAnnounceReply(await announce(V4, { infoHash: a, port: 4302, event: 3 }));
    assert.equal(stopped.peers.length, 0);
    const connectionId = await udpConnect(V4, t.udpPort);
    const reply = (await udpRequest(V4, t.udpPort, scrapePacket(connectionId, [a, b], 55)))!;
    assert.deepEqual([reply.readUInt32BE(0), reply.readUInt32BE(4), reply.length], [2, 55, 8 + 24]);
    assert.deepEqual([reply.readUInt32BE(8), reply.readUInt32BE(12), reply.readUInt32BE(16)], [1, 1, 0], 'seeders, completed, leechers');
    assert.deepEqual([reply.readUInt32BE(20), reply.readUInt32BE(24), reply.readUInt32BE(28)], [0, 0, 0]);
  });

  it('uses the default numwant for -1 and keeps replies under 1,500 bytes', async () => {
    const hash = randomHash();
    for (let p = 0; p < 260; p++) await announce(V4, { infoHash: hash, port: 5000 + p, numwant: 0 });
    const dflt = readAnnounceReply(await announce(V4, { infoHash: hash, port: 6000 }));
    assert.equal(dflt.peers.length, 50 * 6);
    const big = await announce(V4, { infoHash: hash, port: 6000, numwant: 1000 });
    assert.equal(readAnnounceReply(big).peers.length, 200 * 6);
    assert.ok(big.length <= 1500);
  });

  it('accepts BEP 41 options after the announce', async () => {
    const hash = randomHash();
    const options = Buffer.concat([Buffer.from([2, 9]), Buffer.from('/announce'), Buffer.from([1, 0])]);
    const r = readAnnounceReply(await announce(V4, { infoHash: hash, port: 4401, options }));
    assert.equal(r.leechers, 1);
  });

  it('ignores the IP field without allow_ip_spoofing', async () => {
    const hash = randomHash();
    await announce(V4, { infoHash: hash, port: 4501, ip: 0xc0000201 });
    const r = readAnnounceReply(await announce(V4, { infoHash: hash, port: 4502 }));
    assert.deepEqual(peerList(r.peers, 4), ['127.0.0.1:4501']);
  });

  describe('bad input', () => {
    it('stays silent for short packets and connects with a wrong protocol id', async () => {
      assert.equal(await udpRequest(V4, t.udpPort, Buffer.alloc(15), 300), null);
      assert.equal(await udpRequest(V4, t.udpPort, Buffer.alloc(0), 300), null);
      const wrong = connectPacket();
      wrong.writeUInt32BE(1, 0);
      assert.equal(await udpRequest(V4, t.udpPort, wrong, 300), null);
    });

    it('refuses wrong and expired connection ids without amplifying', async () => {
      const bogus = announcePacket({ connectionId: randomBytes(8), infoHash: randomHash() });
      const reply = (await udpRequest(V4, t.udpPort, bogus))!;
      assert.equal(readError(reply), 'invalid connection id');
      const expired = new ConnectionIds(TEST_UDP_SECRET, '', 60).issue(Buffer.from([127, 0, 0, 1]), Math.floor(Date.now() / 1000) - 400);
      assert.equal(readError((await udpRequest(V4, t.udpPort, announcePacket({ connectionId: expired, infoHash: randomHash() })))!), 'invalid connection id');
      const tiny = Buffer.alloc(16);
      tiny.writeUInt32BE(9, 8);
      const small = (await udpRequest(V4, t.udpPort, tiny))!;
      assert.ok(small.length <= 16, 'no reply larger than the request without a valid id');
    });

    it('answers errors for unknown actions, short announces, bad events, port 0 and empty scrapes', async () => {
      const connectionId = await udpConnect(V4, t.udpPort);
      const unknown = Buffer.concat([connectionId, Buffer.from([0, 0, 0, 9, 0, 0, 0, 1])]);
      assert.match(readError((await udpRequest(V4, t.udpPort, unknown))!), /unknown action 9/);
      const short = announcePacket({ connectionId, infoHash: randomHash() }).subarray(0, 60);
      assert.match(readError((await udpRequest(V4, t.udpPort, short))!), /announce packet too short/);
      assert.match(readError((await udpRequest(V4, t.udpPort, announcePacket({ connectionId, infoHash: randomHash(), event: 7 })))!), /unknown event/);
      assert.match(readError((await udpRequest(V4, t.udpPort, announcePacket({ connectionId, infoHash: randomHash(), port: 0 })))!), /invalid port/);
      assert.match(
        readError((await udpRequest(V4, t.udpPort, announcePacket({ connectionId, infoHash: randomHash(), left: -1n })))!),
        /must be from 0 to 2\^53-1/,
      );
      assert.match(
        readError((await udpRequest(V4, t.udpPort, announcePacket({ connectionId, infoHash: randomHash(), uploaded: 2n ** 60n })))!),
        /must be from 0 to 2\^53-1/,
      );
      assert.match(readError((await udpRequest(V4, t.udpPort, scrapePacket(connectionId, [])))!), /no info_hash in scrape/);
      const many = scrapePacket(
        connectionId,
        Array.from({ length: 75 }, () => randomHash()),
      );
      assert.match(readError((await udpRequest(V4, t.udpPort, many))!), /too many info_hash/);
    });

    it('survives random packets, never answering more than it was sent without a valid id', async () => {
      // All at once, each from a socket of its own: one wait for them all instead of one per packet (most
      // get no answer, and the wait for each was 22 of the suite's seconds).
      const packets = fc.sample(fc.uint8Array({ minLength: 0, maxLength: 300 }), 150).map((bytes) => Buffer.from(bytes));
      const replies = await Promise.all(packets.map((packet) => udpRequest(V4, t.udpPort, packet, 1000)));
      replies.forEach((reply, i) => {
        const packet = packets[i]!;
        if (reply) assert.ok(reply.length <= Math.max(packet.length, 16), `${reply.length} > ${packet.length} for ${packet.toString('hex')}`);
      });
      const connectionId = await udpConnect(V4, t.udpPort);
      assert.equal(connectionId.length, 8, 'still serving');
    });
  });
});

describe('UDP connection ids across processes', () => {
  let x: TestTracker;
  let y: TestTracker;
  let z: TestTracker;
  before(async () => {
    [x, y, z] = await Promise.all([startTracker(), startTracker(), startTracker({ udp: { secret: 'a-different-secret-0123456' } })]);
  });
  after(() => Promise.all([x, y, z].map((t) => t.close())));

  it('an id from one tracker is accepted by another with the same secret, refused by one with another', async () => {
    const connectionId = await udpConnect(V4, x.udpPort);
    const packet = announcePacket({ connectionId, infoHash: randomHash() });
    readAnnounceReply((await udpRequest(V4, y.udpPort, packet))!);
    assert.equal(readError((await udpRequest(V4, z.udpPort, packet))!), 'invalid connection id');
    const v6Id = await udpConnect(V6, y.udpPort);
    readAnnounceReply((await udpRequest(V6, x.udpPort, announcePacket({ connectionId: v6Id, infoHash: randomHash() })))!);
  });
});

describe('UDP with allow_ip_spoofing', () => {
  it('registers the address in the IP field', async () => {
    const t = await startTracker({ allow_ip_spoofing: true });
    try {
      const hash = randomHash();
      const connectionId = await udpConnect(V4, t.udpPort);
      await udpRequest(V4, t.udpPort, announcePacket({ connectionId, infoHash: hash, port: 4601, ip: 0xc0000201 }));
      const r = readAnnounceReply((await udpRequest(V4, t.udpPort, announcePacket({ connectionId, infoHash: hash, port: 4602 })))!);
      assert.deepEqual(peerList(r.peers, 4), ['192.0.2.1:4601']);
    } finally {
      await t.close();
    }
  });
});
