/**
 * How many peers an announce asks the store for, per transport: one rule (tracker.ts peersWanted),
 * HTTP without a cap of its own, UDP capped per family (200 over IPv4, 66 over IPv6).
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:dgram';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { parseIp } from '../../src/bittorrent/address.js';
import { parseAnnounce } from '../../src/frontend/http/parser.js';
import { ConnectionIds } from '../../src/frontend/udp/connection-id.js';
import { UdpFrontend } from '../../src/frontend/udp/server.js';
import type { TrackerStore } from '../../src/store/driver.js';
import { MemoryStore } from '../../src/store/memory/store.js';
import { loadConfig } from '../../src/config/config.js';
import { peersWanted, Tracker, trackerPolicy, type TrackerPolicy } from '../../src/tracker/tracker.js';
import { escapeBytes, randomHash } from '../helpers/http.js';
import { announcePacket } from '../helpers/udp.js';

const POLICY: TrackerPolicy = { ...trackerPolicy(loadConfig()), intervalJitter: 0, maxNumwant: 300 };

describe('peersWanted', () => {
  it('HTTP (no transport cap): the default when not asked, at most max_numwant, none on stopped', () => {
    assert.equal(peersWanted(undefined, 'none', POLICY, Infinity), 50);
    assert.equal(peersWanted(0, 'started', POLICY, Infinity), 0);
    assert.equal(peersWanted(250, 'none', POLICY, Infinity), 250);
    assert.equal(peersWanted(5000, 'completed', POLICY, Infinity), 300);
    assert.equal(peersWanted(undefined, 'stopped', POLICY, Infinity), 0);
    assert.equal(peersWanted(10, 'stopped', POLICY, Infinity), 0);
    assert.equal(peersWanted(undefined, 'none', { ...POLICY, defaultNumwant: 400 }, Infinity), 300, 'the default is capped too');
  });

  it('UDP: the transport cap bounds the default, the request and max_numwant alike', () => {
    assert.equal(peersWanted(undefined, 'none', POLICY, 200), 50);
    assert.equal(peersWanted(250, 'none', POLICY, 200), 200);
    assert.equal(peersWanted(250, 'none', POLICY, 66), 66);
    assert.equal(peersWanted(undefined, 'none', { ...POLICY, defaultNumwant: 100 }, 66), 66);
    assert.equal(peersWanted(1000, 'none', { ...POLICY, maxNumwant: 30 }, 200), 30);
    assert.equal(peersWanted(1000, 'stopped', POLICY, 66), 0);
  });
});

/** A memory store that remembers the numwant of every announce it is asked. */
function recording(): { store: TrackerStore; asked: number[]; close: () => Promise<void> } {
  const memory = new MemoryStore({ peerTtlMs: 60_000, reapIntervalMs: 1000 });
  const asked: number[] = [];
  const store: TrackerStore = {
    catalogue: memory.catalogue,
    announce: (a) => {
      asked.push(a.numwant);
      return memory.announce(a);
    },
    scrape: (h) => memory.scrape(h),
    ready: () => memory.ready(),
    close: () => memory.close(),
  };
  return { store, asked, close: () => memory.close() };
}

describe('numwant through each frontend', () => {
  const { store, asked, close } = recording();
  const tracker = new Tracker(store, null, POLICY);
  after(close);

  it('HTTP: absent, empty and -1 take the default; no cap below max_numwant', async () => {
    const base = `info_hash=${escapeBytes(randomHash())}&peer_id=${'p'.repeat(20)}&port=6881&uploaded=0&downloaded=0&left=1`;
    asked.length = 0;
    for (const extra of ['', '&numwant=', '&numwant=-1', '&numwant=0', '&numwant=250', '&numwant=999999999', '&numwant=10&event=stopped']) {
      await tracker.announce({ ...parseAnnounce(base + extra), sourceIp: Buffer.from([10, 0, 0, 1]) });
    }
    assert.deepEqual(asked, [50, 50, 50, 0, 250, 300, 0]);
  });

  it('UDP: negative numwant takes the default; 200 peers at most over IPv4, 66 over IPv6', async () => {
    const ids = new ConnectionIds('unit-test-secret-0123456789', '', 60);
    const udp = new UdpFrontend({ tracker, logger: pino({ level: 'silent' }), ids });
    // Not listening: handle() answers into a socket it does not own, so nothing is sent.
    const socket = {} as Socket;
    const send = async (address: string, numwant: number, event = 0): Promise<void> => {
      const packet = announcePacket({ connectionId: ids.issue(parseIp(address)!), infoHash: randomHash(), numwant, event });
      await udp.handle(packet, { address, port: 6881, family: address.includes(':') ? 'IPv6' : 'IPv4', size: packet.length }, socket);
    };
    asked.length = 0;
    for (const numwant of [-1, -5, 0, 150, 250, 1000]) await send('192.0.2.1', numwant);
    assert.deepEqual(asked, [50, 50, 0, 150, 200, 200]);
    asked.length = 0;
    for (const numwant of [-1, 60, 250]) await send('2001:db8::1', numwant);
    await send('::ffff:192.0.2.1', 1000);
    await send('192.0.2.1', 1000, 3);
    assert.deepEqual(asked, [50, 60, 66, 200, 0], 'IPv4-mapped counts as IPv4; stopped wants none');
  });
});
