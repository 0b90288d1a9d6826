import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { PeerTable } from '../../../src/store/memory/peers.js';
import { MemoryStore } from '../../../src/store/memory/store.js';
import type { SwarmAnnounce } from '../../../src/store/driver.js';
import { v4Addr } from '../../../src/testing/index.js';

function announce(store: MemoryStore, infoHash: Buffer, v4: Buffer, extra: Partial<SwarmAnnounce> = {}) {
  return store.announce({
    infoHash,
    peerId: randomBytes(20),
    v4,
    seeder: false,
    event: 'none',
    numwant: 50,
    want4: true,
    want6: false,
    subnet4: 0,
    subnet6: 0,
    withPeerIds: false,
    ...extra,
  });
}

describe('memory store', () => {
  it('drops a swarm from memory when its last peer leaves, but keeps its snatch count', async () => {
    const store = new MemoryStore({ peerTtlMs: 60_000, reapIntervalMs: 1000 });
    const hash = randomBytes(20);
    const a = v4Addr();
    await announce(store, hash, a, { event: 'completed', seeder: true });
    assert.deepEqual(store.counters, { torrents: 1, peers: 1, snatchCounts: 1, totals: 0 });
    await announce(store, hash, a, { event: 'stopped' });
    assert.deepEqual(store.counters, { torrents: 0, peers: 0, snatchCounts: 1, totals: 0 });
    assert.deepEqual(await store.scrape([hash]), [{ complete: 0, incomplete: 0, downloaded: 1 }]);
    await store.close();
  });

  it('expires inline at most a small budget per request, the rest in background slices', async () => {
    let now = 1_000_000;
    const store = new MemoryStore({ peerTtlMs: 10_000, reapIntervalMs: 60_000, now: () => now });
    const hashes = Array.from({ length: 50 }, () => randomBytes(20));
    for (let i = 0; i < 5000; i++) await announce(store, hashes[i % 50]!, v4Addr());
    assert.equal(store.counters.peers, 5000);
    now += 10_001;
    await store.scrape([hashes[0]!]);
    const left = store.counters.peers;
    assert.ok(left >= 5000 - 64 && left < 5000, `one request reaps a bounded number of peers (left ${left})`);
    // Drive the background pass directly (its timer is set far out in this test).
    (store as unknown as { reapInBackground(): void }).reapInBackground();
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(store.counters, { torrents: 0, peers: 0, snatchCounts: 0, totals: 0 });
    await store.close();
  });

  it('selects from a large swarm without touching all of it', async () => {
    const store = new MemoryStore({ peerTtlMs: 60_000, reapIntervalMs: 1000 });
    const hash = randomBytes(20);
    for (let i = 0; i < 20_000; i++) await announce(store, hash, v4Addr(), { numwant: 0 });
    const r = await announce(store, hash, v4Addr(), { numwant: 200 });
    assert.equal(r.peers4.length, 200 * 6);
    const distinct = new Set<string>();
    for (let o = 0; o < r.peers4.length; o += 6) distinct.add(r.peers4.subarray(o, o + 6).toString('hex'));
    assert.equal(distinct.size, 200);
    await store.close();
  });

  it('keeps the packed addresses in step with the peers through random joins, moves and leaves', async () => {
    const store = new MemoryStore({ peerTtlMs: 60_000, reapIntervalMs: 1000 });
    const hash = randomBytes(20);
    const pool = Array.from({ length: 300 }, () => v4Addr());
    const seeders = new Set<string>();
    const leechers = new Set<string>();
    for (let step = 0; step < 3000; step++) {
      const addr = pool[Math.floor(Math.random() * pool.length)]!;
      const key = addr.toString('hex');
      const roll = Math.random();
      seeders.delete(key);
      leechers.delete(key);
      if (roll < 0.3) await announce(store, hash, addr, { event: 'stopped', numwant: 0 });
      else if (roll < 0.6) {
        await announce(store, hash, addr, { seeder: true, numwant: 0 });
        seeders.add(key);
      } else {
        await announce(store, hash, addr, { numwant: 0 });
        leechers.add(key);
      }
      if (step % 100 === 0) {
        const probe = v4Addr();
        const r = await announce(store, hash, probe, { numwant: 1000 });
        const got = new Set<string>();
        for (let o = 0; o < r.peers4.length; o += 6) got.add(r.peers4.subarray(o, o + 6).toString('hex'));
        assert.deepEqual([...got].sort(), [...seeders, ...leechers].sort());
        await announce(store, hash, probe, { event: 'stopped', numwant: 0 });
        const [counts] = await store.scrape([hash]);
        assert.deepEqual([counts!.complete, counts!.incomplete], [seeders.size, leechers.size]);
      }
    }
    await store.close();
  });

  it("expires a churning swarm within a second of its peers' TTL, without scanning it whole on every pass", async () => {
    let now = 1_000_000;
    const store = new MemoryStore({ peerTtlMs: 10_000, reapIntervalMs: 60_000, now: () => now });
    const reap = (): boolean => (store as unknown as { reap(now: number, examine: number, budget: number): boolean }).reap(now, 1e9, 1e9);
    const hash = randomBytes(20);
    const seen = new Map<string, number>();
    // Counts the peer slots that expiry passes examine.
    let examined = 0;
    // eslint-disable-next-line @typescript-eslint/unbound-method -- kept to be called with apply(this) below
    const expire = PeerTable.prototype.expire;
    PeerTable.prototype.expire = function (this: PeerTable, ...args: Parameters<PeerTable['expire']>): number {
      const n = expire.apply(this, args);
      examined += n;
      return n;
    };
    for (let step = 0; step < 400; step++) {
      now += 100;
      // 20 peers join per step and each announces once: one expires about every 5 ms from step 100 on.
      for (let i = 0; i < 20; i++) {
        const addr = v4Addr();
        seen.set(addr.toString('hex'), now);
        await announce(store, hash, addr, { numwant: 0 });
      }
      reap();
      const live = [...seen.values()].filter((t) => t >= now - 10_000).length;
      const lagging = [...seen.values()].filter((t) => t < now - 10_000 && t >= now - 11_000).length;
      assert.ok(store.counters.peers >= live && store.counters.peers <= live + lagging, `step ${step}: ${store.counters.peers} peers held, ${live} live`);
    }
    PeerTable.prototype.expire = expire;
    // About 2000 peers live from step 100 on: a pass over them at most every half second (5 steps), not every step.
    assert.ok(examined < (300 * 2000) / 3, `peer slots examined by expiry: ${examined}`);
    await store.close();
  });

  it('forgets a snatch count torrent_ttl after its torrent was last announced', async () => {
    let now = 1_000_000;
    const store = new MemoryStore({ peerTtlMs: 10_000, reapIntervalMs: 60_000, torrentTtlMs: 100_000, now: () => now });
    const kept = randomBytes(20);
    const dropped = randomBytes(20);
    await announce(store, kept, v4Addr(), { event: 'completed', seeder: true });
    await announce(store, dropped, v4Addr(), { event: 'completed', seeder: true });
    now += 60_000;
    await announce(store, kept, v4Addr()); // keeps its count alive
    now += 50_000;
    await store.scrape([]);
    assert.deepEqual(
      (await store.scrape([kept, dropped])).map((c) => c.downloaded),
      [1, 0],
    );
    assert.equal(store.counters.snatchCounts, 1);
    await store.close();
  });
});
