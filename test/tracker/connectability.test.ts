/**
 * The connectability check: the probe against real sockets on loopback (a listener, a closed port, a
 * silent server, handshakes right and wrong), and the policy around it (dedupe per ttl, the caps,
 * ranges refused, results shared through the store), then an announce's record through the Tracker.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, BlockList, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { AnnounceRequest } from '../../src/bittorrent/announce.js';
import { loadConfig } from '../../src/config/config.js';
import { MemoryStore } from '../../src/store/memory/store.js';
import type { ConnectableResults } from '../../src/store/driver.js';
import { answersHandshake, handshakeBytes, HANDSHAKE_LENGTH, probe } from '../../src/tracker/connect-probe.js';
import { Connectability, MAX_QUEUED, NOT_CONNECTABLE, type CheckResult, type ConnectablePolicy, type Probe } from '../../src/tracker/connectability.js';
import { Tracker, trackerPolicy } from '../../src/tracker/tracker.js';
import { KeepingBackend } from '../helpers/accounting.js';

async function listen(onConnection: (socket: Socket) => void): Promise<{ server: Server; port: number }> {
  const server = createServer(onConnection);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port };
}

/** A port nothing listens on: one just closed. */
async function closedPort(): Promise<number> {
  const { server, port } = await listen(() => undefined);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const POLICY: ConnectablePolicy = {
  ttlSeconds: 1800,
  timeoutMs: 500,
  handshake: false,
  concurrency: 4,
  ratePerSecond: 1000,
  privateRanges: true,
  warning: false,
};

describe('connectability probe', () => {
  const infoHash = randomBytes(20);
  const servers: Server[] = [];
  after(() => servers.forEach((s) => s.close()));
  const serve = async (onConnection: (socket: Socket) => void) => {
    const { server, port } = await listen((socket) => {
      socket.on('error', () => undefined);
      onConnection(socket);
    });
    servers.push(server);
    return port;
  };

  it('finds a listening port connectable and a closed one not', async () => {
    const port = await serve((socket) => socket.end());
    assert.equal(await probe('127.0.0.1', port, { timeoutMs: 1000 }), true);
    assert.equal(await probe('127.0.0.1', await closedPort(), { timeoutMs: 1000 }), false);
  });

  it('with the handshake: a peer answering one for the same hash is connectable; silence (timeout), a wrong hash or garbage is not', async () => {
    const peerId = randomBytes(20);
    let asked: Buffer | null = null;
    const echo = await serve((socket) =>
      socket.once('data', (data: Buffer) => {
        asked = data;
        socket.write(handshakeBytes(infoHash, randomBytes(20)));
      }),
    );
    assert.equal(await probe('127.0.0.1', echo, { timeoutMs: 1000, handshake: { infoHash, peerId } }), true);
    assert.equal(asked!.length, HANDSHAKE_LENGTH);
    assert.ok(answersHandshake(asked!, infoHash), 'we sent a well-formed handshake for the hash');
    assert.ok(asked!.subarray(48, 68).equals(peerId));

    const silent = await serve(() => undefined);
    const started = Date.now();
    assert.equal(await probe('127.0.0.1', silent, { timeoutMs: 300, handshake: { infoHash, peerId } }), false);
    assert.ok(Date.now() - started < 2000, 'the timeout ends it');
    assert.equal(await probe('127.0.0.1', silent, { timeoutMs: 300 }), true, 'without the handshake, accepting is enough');

    const otherHash = await serve((socket) => socket.once('data', () => socket.write(handshakeBytes(randomBytes(20), randomBytes(20)))));
    assert.equal(await probe('127.0.0.1', otherHash, { timeoutMs: 1000, handshake: { infoHash, peerId } }), false);
    const garbage = await serve((socket) => socket.once('data', () => socket.write('HTTP/1.1 400 Bad Request\r\n\r\n')));
    assert.equal(await probe('127.0.0.1', garbage, { timeoutMs: 1000, handshake: { infoHash, peerId } }), false);
  });
});

/** A probe that answers `result` after `ms`, recording each call and the most running at once. */
function fakeProbe(result: boolean, ms = 0) {
  const calls: Array<{ ip: string; port: number; at: number }> = [];
  let running = 0;
  let most = 0;
  const fn: Probe = async (ip, port) => {
    calls.push({ ip, port, at: Date.now() });
    most = Math.max(most, ++running);
    await new Promise((resolve) => setTimeout(resolve, ms));
    running--;
    return result;
  };
  return { fn, calls, most: () => most };
}

describe('connectability policy', () => {
  const infoHash = randomBytes(20);

  it('checks a real listener and a closed port once per ttl: unknown first, the result at the next announce', async () => {
    const { server, port } = await listen((socket) => socket.end());
    const closed = await closedPort();
    const seen: CheckResult[] = [];
    const checker = new Connectability(POLICY, undefined, (r) => seen.push(r));
    assert.equal(checker.note('127.0.0.1', port, infoHash), undefined, 'unknown until checked');
    assert.equal(checker.note('127.0.0.1', closed, infoHash), undefined);
    await checker.idle();
    assert.equal(checker.note('127.0.0.1', port, infoHash), true);
    assert.equal(checker.note('127.0.0.1', closed, infoHash), false);
    assert.deepEqual(seen.sort(), ['connectable', 'not_connectable']);
    server.close();
    checker.close();
  });

  it('makes at most one check per (ip, port) within the ttl, however many announces', async () => {
    const fake = fakeProbe(true, 20);
    const checker = new Connectability(POLICY, undefined, undefined, fake.fn);
    for (let i = 0; i < 50; i++) checker.note('203.0.113.5', 51413, infoHash);
    await checker.idle();
    for (let i = 0; i < 50; i++) assert.equal(checker.note('203.0.113.5', 51413, infoHash), true);
    checker.note('203.0.113.5', 51414, infoHash);
    await checker.idle();
    assert.deepEqual(
      fake.calls.map((c) => c.port),
      [51413, 51414],
      'another port of the same address is its own check',
    );
    checker.close();
  });

  it('checks again once the ttl has passed', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
    const fake = fakeProbe(false);
    const checker = new Connectability({ ...POLICY, ttlSeconds: 60 }, undefined, undefined, fake.fn);
    checker.note('203.0.113.5', 1, infoHash);
    await checker.idle();
    t.mock.timers.tick(59_000);
    assert.equal(checker.note('203.0.113.5', 1, infoHash), false);
    t.mock.timers.tick(2_000);
    checker.note('203.0.113.5', 1, infoHash);
    await checker.idle();
    assert.equal(fake.calls.length, 2);
    checker.close();
  });

  it('never checks private ranges unless configured, a trusted proxy, a non-address, or port 0', async () => {
    const fake = fakeProbe(true);
    const seen: CheckResult[] = [];
    const trusted = new BlockList();
    trusted.addSubnet('8.8.4.0', 24, 'ipv4');
    const checker = new Connectability({ ...POLICY, privateRanges: false, trustedProxies: trusted }, undefined, (r) => seen.push(r), fake.fn);
    for (const ip of [
      '127.0.0.1',
      '10.1.2.3',
      '192.168.1.1',
      '172.20.0.1',
      '169.254.1.1',
      '100.64.0.1',
      '::1',
      'fd00::1',
      'fe80::1',
      '::ffff:10.0.0.1',
      '8.8.4.4',
      'nope',
    ])
      checker.note(ip, 6881, infoHash);
    checker.note('8.8.8.8', 0, infoHash);
    await checker.idle();
    assert.equal(fake.calls.length, 0, 'nothing probed');
    assert.equal(seen.length, 12);
    assert.ok(seen.every((r) => r === 'skipped'));
    checker.note('8.8.8.8', 6881, infoHash);
    checker.note('2001:4860::8888', 6881, infoHash);
    await checker.idle();
    assert.deepEqual(
      fake.calls.map((c) => c.ip),
      ['8.8.8.8', '2001:4860::8888'],
      'public addresses are checked',
    );
    const open = new Connectability({ ...POLICY, privateRanges: true }, undefined, undefined, fake.fn);
    open.note('10.1.2.3', 6881, infoHash);
    await open.idle();
    assert.equal(fake.calls.at(-1)!.ip, '10.1.2.3', 'configured: private ranges too');
    checker.close();
    open.close();
  });

  it('runs at most `concurrency` checks at once', async () => {
    const fake = fakeProbe(true, 50);
    const checker = new Connectability({ ...POLICY, concurrency: 3 }, undefined, undefined, fake.fn);
    for (let i = 1; i <= 20; i++) checker.note('203.0.113.9', i, infoHash);
    await checker.idle();
    assert.equal(fake.calls.length, 20);
    assert.equal(fake.most(), 3);
    checker.close();
  });

  it('skips an announce past the full queue without remembering it: a later one is checked', async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const probes: number[] = [];
    const blocked: Probe = async (_ip, port) => {
      probes.push(port);
      await held;
      return true;
    };
    const seen: CheckResult[] = [];
    const checker = new Connectability({ ...POLICY, concurrency: 1 }, undefined, (r) => seen.push(r), blocked);
    // One running, MAX_QUEUED waiting: the next is skipped.
    for (let port = 1; port <= MAX_QUEUED + 1; port++) checker.note('203.0.113.9', port, infoHash);
    assert.equal(checker.note('203.0.113.9', 60000, infoHash), undefined);
    assert.deepEqual(seen, ['skipped']);
    release();
    await checker.idle();
    checker.note('203.0.113.9', 60000, infoHash);
    await checker.idle();
    assert.equal(probes.at(-1), 60000, 'checked at the announce after the queue drained');
    assert.equal(checker.note('203.0.113.9', 60000, infoHash), true);
    checker.close();
  });

  it('starts at most `rate` checks per second', async () => {
    const fake = fakeProbe(true);
    const checker = new Connectability({ ...POLICY, ratePerSecond: 5, concurrency: 100 }, undefined, undefined, fake.fn);
    const started = Date.now();
    for (let i = 1; i <= 12; i++) checker.note('203.0.113.9', i, infoHash);
    await checker.idle();
    const inFirstSecond = fake.calls.filter((c) => c.at - started < 1000).length;
    assert.ok(inFirstSecond <= 10, `at most the bucket (5) and a second's refill (5) in the first second, got ${inFirstSecond}`);
    assert.ok(Date.now() - started >= 1000, 'the last ones waited for tokens');
    assert.equal(fake.calls.length, 12);
    checker.close();
  });

  it('shares results through the store: a known one is not checked again, a claimed one is left to its claimant', async () => {
    const kept = new Map<string, string>();
    const shared: ConnectableResults = {
      get: async (key) => (kept.get(key) === '1' ? true : kept.get(key) === '0' ? false : null),
      claim: async (key) => (kept.has(key) ? false : (kept.set(key, '?'), true)),
      set: async (key, value) => void kept.set(key, value ? '1' : '0'),
    };
    kept.set('203.0.113.1:1', '0');
    kept.set('203.0.113.2:2', '?');
    const fake = fakeProbe(true);
    const a = new Connectability(POLICY, shared, undefined, fake.fn);
    a.note('203.0.113.1', 1, infoHash);
    a.note('203.0.113.2', 2, infoHash);
    a.note('203.0.113.3', 3, infoHash);
    await a.idle();
    assert.deepEqual(
      fake.calls.map((c) => c.port),
      [3],
      'only the address nobody knew nor claimed',
    );
    assert.equal(a.note('203.0.113.1', 1, infoHash), false, "another replica's result");
    assert.equal(a.note('203.0.113.2', 2, infoHash), undefined, 'still unknown while claimed');
    assert.equal(kept.get('203.0.113.3:3'), '1', 'the result is stored for the other replicas');
    const b = new Connectability(POLICY, shared, undefined, fake.fn);
    b.note('203.0.113.3', 3, infoHash);
    await b.idle();
    assert.equal(b.note('203.0.113.3', 3, infoHash), true);
    assert.equal(fake.calls.length, 1, 'the second replica did not check again');
    a.close();
    b.close();
  });
});

describe('connectability through the Tracker (memory store)', () => {
  let store: MemoryStore;
  let backend: KeepingBackend;
  let tracker: Tracker;
  let server: Server;
  let port: number;
  const infoHash = randomBytes(20);
  const passkey = 'c'.repeat(32);

  before(async () => {
    ({ server, port } = await listen((socket) => socket.end()));
    store = new MemoryStore({ peerTtlMs: 60_000, reapIntervalMs: 1000 });
    backend = new KeepingBackend();
    const config = loadConfig({
      config: { private_enabled: true, private: { connectable_check: true, connectable_private_ranges: true, connectable_warning: true } },
    });
    tracker = new Tracker(store, backend, { ...trackerPolicy(config), minIntervalEnforcement: 'off' });
    await store.catalogue.putUser({ id: 7, passkey, upMultiplier: 1, downMultiplier: 1, enabled: true });
    await store.catalogue.putTorrent({ infoHash, id: 99, upMultiplier: 1, downMultiplier: 1, freeleech: false });
  });
  after(async () => {
    tracker.close();
    server.close();
    await store.close();
  });

  const request = (overrides: Partial<AnnounceRequest>): AnnounceRequest => ({
    infoHash,
    peerId: randomBytes(20),
    port,
    uploaded: 0,
    downloaded: 0,
    left: 1000,
    event: 'started',
    numwant: 10,
    compact: true,
    noPeerId: true,
    sourceIp: Buffer.from([127, 0, 0, 1]),
    passkey,
    ...overrides,
  });

  it("carries the check's result in the next announce's record, and warns a peer that is not connectable", async () => {
    const peerId = randomBytes(20);
    await tracker.announce(request({ peerId }));
    assert.equal('connectable' in backend.records.at(-1)!, false, 'unknown at the first announce');
    await tracker.connectability!.idle();
    const answer = await tracker.announce(request({ peerId, event: 'none' }));
    assert.equal(backend.records.at(-1)!.connectable, true);
    assert.equal(answer.warning, undefined);

    const closed = await closedPort();
    await tracker.announce(request({ port: closed }));
    await tracker.connectability!.idle();
    const warned = await tracker.announce(request({ port: closed, event: 'none' }));
    assert.equal(backend.records.at(-1)!.connectable, false);
    assert.equal(warned.warning, NOT_CONNECTABLE);
  });
});
