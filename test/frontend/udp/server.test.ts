/** The UDP frontend's robustness: unanswerable senders and stopping with packets in flight. */
import assert from 'node:assert/strict';
import { createSocket, type RemoteInfo } from 'node:dgram';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { ConnectionIds } from '../../../src/frontend/udp/connection-id.js';
import { UdpFrontend } from '../../../src/frontend/udp/server.js';
import { MemoryStore } from '../../../src/store/memory/store.js';
import type { TrackerStore } from '../../../src/store/driver.js';
import { Tracker } from '../../../src/tracker/tracker.js';
import { announcePacket, connectPacket, readAnnounceReply, udpConnect, udpRequest } from '../../helpers/udp.js';
import { randomHash } from '../../helpers/http.js';
import { loadConfig } from '../../../src/config/config.js';
import { trackerPolicy } from '../../../src/tracker/tracker.js';

const POLICY = { ...trackerPolicy(loadConfig()), intervalJitter: 0 };

function frontend(store: TrackerStore): UdpFrontend {
  return new UdpFrontend({
    tracker: new Tracker(store, null, POLICY),
    logger: pino({ level: 'silent' }),
    ids: new ConnectionIds('unit-test-secret-0123456789', '', 60),
  });
}

describe('UDP frontend', () => {
  it('ignores a packet from source port 0 instead of crashing on the reply', async () => {
    const store = new MemoryStore({ peerTtlMs: 60_000, reapIntervalMs: 1000 });
    const udp = frontend(store);
    const address = await udp.listen('127.0.0.1', 0);
    const socket = createSocket('udp4');
    const rinfo: RemoteInfo = { address: '127.0.0.1', port: 0, family: 'IPv4', size: 16 };
    await udp.handle(connectPacket(), rinfo, socket);
    socket.close();
    assert.ok((await udpConnect('127.0.0.1', address.port)).length === 8, 'still serving');
    await udp.close();
    await store.close();
  });

  it('binds "localhost" in the family it resolves to, and answers IPv4, IPv4-mapped and IPv6 senders (its lookup takes literals only)', async () => {
    const store = new MemoryStore({ peerTtlMs: 60_000, reapIntervalMs: 1000 });
    const named = frontend(store);
    const dual = frontend(store);
    const plain = frontend(store);
    try {
      // "localhost" is 127.0.0.1 alone on some hosts (this one's CI among them) and ::1 first on others.
      const local = await named.listen('localhost', 0);
      assert.ok(['127.0.0.1', '::1'].includes(local.address), local.address);
      assert.equal((await udpConnect(local.address, local.port)).length, 8, 'localhost');
      const both = await dual.listen('::', 0);
      assert.equal((await udpConnect('::1', both.port)).length, 8, 'IPv6');
      assert.equal((await udpConnect('127.0.0.1', both.port)).length, 8, 'IPv4-mapped');
      const v4 = await plain.listen('127.0.0.1', 0);
      const connectionId = await udpConnect('127.0.0.1', v4.port);
      const reply = await udpRequest('127.0.0.1', v4.port, announcePacket({ connectionId, infoHash: randomHash() }));
      assert.equal(readAnnounceReply(reply!).leechers, 1, 'IPv4');
    } finally {
      await Promise.all([named.close(), dual.close(), plain.close()]);
      await store.close();
    }
  });

  it('answers the packets in flight before it stops', async () => {
    const memory = new MemoryStore({ peerTtlMs: 60_000, reapIntervalMs: 1000 });
    const slow: TrackerStore = {
      catalogue: memory.catalogue,
      announce: async (a) => {
        await new Promise((resolve) => setTimeout(resolve, 300));
        return memory.announce(a);
      },
      scrape: (h) => memory.scrape(h),
      ready: () => memory.ready(),
      close: () => memory.close(),
    };
    const udp = frontend(slow);
    const { port } = await udp.listen('127.0.0.1', 0);
    const connectionId = await udpConnect('127.0.0.1', port);
    const client = createSocket('udp4');
    const reply = new Promise<Buffer>((resolve) => client.once('message', resolve));
    client.send(announcePacket({ connectionId, infoHash: randomHash() }), port, '127.0.0.1');
    await new Promise((resolve) => setTimeout(resolve, 50));
    await udp.close();
    assert.equal(readAnnounceReply(await reply).leechers, 1);
    client.close();
    await memory.close();
  });
});
