/**
 * Private totals restored from a snapshot stay packed until their peer announces (packed-totals.ts):
 * the ones taken keep their totals and sessions, the untouched ones expire on time and are written by
 * the next snapshot. Real files; the stores' clocks are set by the test where expiry is what is tested.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import type { SwarmAnnounce, SwarmResult } from '../../../src/store/driver.js';
import { loadSnapshot, SnapshotWriter, type SnapshotFileOptions } from '../../../src/store/memory/snapshot-file.js';
import { MemoryStore } from '../../../src/store/memory/store.js';
import { v4Addr } from '../../../src/testing/index.js';

const dir = mkdtempSync(join(tmpdir(), 'shoal-snapshot-totals-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

function fileOptions(peerTtlMs: number): SnapshotFileOptions {
  return {
    path: join(dir, `snapshot-${files++}.bin`),
    intervalMs: 0,
    maxBytes: 1 << 26,
    peerTtlMs,
    torrentTtlMs: 0,
    maxPeers: 0,
    logger: pino({ level: 'silent' }),
  };
}

interface Peer {
  hash: Buffer;
  peerId: Buffer;
  userId: number;
  addr: Buffer;
}

const newPeer = (userId: number, hash = randomBytes(20)): Peer => ({ hash, peerId: randomBytes(20), userId, addr: v4Addr() });

function announce(store: MemoryStore, p: Peer, uploaded: number, id: string, event: SwarmAnnounce['event'] = 'none', peerLimit?: number): Promise<SwarmResult> {
  return store.announce({
    infoHash: p.hash,
    peerId: p.peerId,
    v4: p.addr,
    seeder: false,
    event,
    numwant: 0,
    want4: true,
    want6: false,
    subnet4: 0,
    subnet6: 0,
    withPeerIds: false,
    access: {
      requireAllowed: false,
      requireRegistered: false,
      userId: p.userId,
      uploaded,
      downloaded: 2 * uploaded,
      announceId: id,
      ...(peerLimit ? { peerLimit } : {}),
    },
  });
}

async function saveAndLoad(from: MemoryStore, o: SnapshotFileOptions, now?: () => number): Promise<MemoryStore> {
  await new SnapshotWriter(from, o).save('close');
  const to = new MemoryStore({ peerTtlMs: o.peerTtlMs, reapIntervalMs: 3600_000, ...(now ? { now } : {}) });
  await loadSnapshot(to, o);
  return to;
}

describe('private totals restored from a snapshot', () => {
  it('a restored peer keeps its totals and session on its next announce, and the others stay restored', async () => {
    const o = fileOptions(600_000);
    const first = new MemoryStore({ peerTtlMs: o.peerTtlMs, reapIntervalMs: 3600_000 });
    const peers = Array.from({ length: 20 }, (_, i) => newPeer(100 + i));
    for (const [i, p] of peers.entries()) {
      await announce(first, p, 10 * i, `s-${i}`, 'started');
      await announce(first, p, 10 * i + 5, `n-${i}`);
    }
    const second = await saveAndLoad(first, o);
    await first.close();
    assert.equal(second.counters.totals, 20);
    const p = peers[7]!;
    const next = await announce(second, p, 200, 'x-1');
    assert.deepEqual(next.previous, { uploaded: 75, downloaded: 150 });
    assert.deepEqual({ epoch: next.session?.epoch, seq: next.session?.seq }, { epoch: 's-7', seq: 3 });
    assert.equal(second.counters.totals, 20, 'taken, not added');
    // Live from now on: its next announce swaps with what it just reported.
    const after = await announce(second, p, 260, 'x-2');
    assert.deepEqual(after.previous, { uploaded: 200, downloaded: 400 });
    assert.equal(after.session?.seq, 4);
    // A stop drops it for good; a restored peer's stop too.
    await announce(second, p, 270, 'x-3', 'stopped');
    const stopped = await announce(second, peers[3]!, 40, 'x-4', 'stopped');
    assert.deepEqual(stopped.previous, { uploaded: 35, downloaded: 70 });
    assert.equal(second.counters.totals, 18);
    const again = await announce(second, peers[3]!, 50, 'x-5', 'started');
    assert.equal(again.previous, null, 'stopped: unknown again');
    await second.close();
  });

  it('a restored peer that counted its snatch counts no other, and its retry answers from the packed record', async () => {
    const o = fileOptions(600_000);
    const first = new MemoryStore({ peerTtlMs: o.peerTtlMs, reapIntervalMs: 3600_000 });
    const p = newPeer(5);
    await announce(first, p, 1, 'c-1', 'started');
    const done = await announce(first, p, 9, 'c-2', 'completed');
    assert.equal((await first.scrape([p.hash]))[0]!.downloaded, 1);
    const second = await saveAndLoad(first, o);
    await first.close();
    const retried = await announce(second, p, 9, 'c-2', 'completed');
    assert.deepEqual(
      { previous: retried.previous, seq: retried.session?.seq, snatched: retried.snatched },
      { previous: done.previous, seq: done.session?.seq, snatched: true },
    );
    assert.equal(second.counters.totals, 1);
    // From another address, a leecher in the swarm's table: only its totals know it completed.
    p.addr = v4Addr();
    await announce(second, p, 12, 'c-3', 'completed');
    assert.equal((await second.scrape([p.hash]))[0]!.downloaded, 1, 'its snatch was counted before the save');
    await second.close();
  });

  it('a restored peer counts against its user peer limit until it expires or stops', async () => {
    const o = fileOptions(600_000);
    const first = new MemoryStore({ peerTtlMs: o.peerTtlMs, reapIntervalMs: 3600_000 });
    const hash = randomBytes(20);
    const mine = [newPeer(9, hash), newPeer(9, hash)];
    for (const p of mine) await announce(first, p, 1, 'a', 'started', 2);
    const second = await saveAndLoad(first, o);
    await first.close();
    const third = newPeer(9, hash);
    assert.equal((await announce(second, third, 1, 'b', 'started', 2)).refused, 'peer_limit');
    await announce(second, mine[0]!, 1, 'c', 'stopped', 2);
    assert.notEqual((await announce(second, third, 1, 'd', 'started', 2)).refused, 'peer_limit');
    await second.close();
  });

  it('an untouched restored record expires when its time runs out, not before', async () => {
    const o = fileOptions(600_000);
    const real = Date.now();
    let clock = real - 400_000;
    const first = new MemoryStore({ peerTtlMs: o.peerTtlMs, reapIntervalMs: 3600_000, now: () => clock });
    const older = newPeer(1);
    const newer = newPeer(2);
    await announce(first, older, 5, 'o-1', 'started');
    clock = real - 100_000;
    await announce(first, newer, 5, 'n-1', 'started');
    let later = real;
    // Saved at about `real`: ages 400 s and 100 s of 600.
    const second = await saveAndLoad(first, o, () => later);
    await first.close();
    assert.equal(second.counters.totals, 2);
    const poke = (): Promise<SwarmResult> => announce(second, newPeer(3), 0, `p-${later}`, 'started');
    later = real + 150_000;
    await poke();
    assert.equal(second.counters.totals, 3, 'neither expired 150 s after the load');
    later = real + 250_000;
    await poke();
    assert.equal(second.counters.totals, 3, 'the older one expired (the two pokes are live)');
    assert.equal((await announce(second, older, 6, 'o-2')).previous, null, 'expired: unknown');
    assert.deepEqual((await announce(second, newer, 6, 'n-2')).previous, { uploaded: 5, downloaded: 10 });
    await second.close();
  });

  it('a second snapshot after a load without announces holds every record, aged by the time in between', { timeout: 20_000 }, async () => {
    const o = fileOptions(3000);
    const first = new MemoryStore({ peerTtlMs: o.peerTtlMs, reapIntervalMs: 3600_000 });
    const peers = Array.from({ length: 10 }, (_, i) => newPeer(50 + i));
    for (const [i, p] of peers.entries()) await announce(first, p, i + 1, `f-${i}`, i % 2 === 0 ? 'started' : 'none');
    const second = await saveAndLoad(first, o);
    await first.close();
    const third = await saveAndLoad(second, { ...o, path: join(dir, `snapshot-${files++}.bin`) });
    await second.close();
    assert.equal(third.counters.totals, 10);
    for (const [i, p] of peers.entries()) {
      const next = await announce(third, p, i + 10, `t-${i}`);
      assert.deepEqual(next.previous, { uploaded: i + 1, downloaded: 2 * (i + 1) }, `peer ${i}`);
      assert.deepEqual({ epoch: next.session?.epoch, seq: next.session?.seq }, { epoch: `f-${i}`, seq: 2 }, `peer ${i}`);
    }
    await third.close();

    // The ages go on: 1.6 s before the first save, 1 s between the load and the second save, 0.6 s on
    // disk make 3.2 s, past the 3 s TTL (the first save's ages alone would make 2.2 s).
    const aging = new MemoryStore({ peerTtlMs: o.peerTtlMs, reapIntervalMs: 3600_000 });
    await announce(aging, peers[0]!, 1, 'g-1', 'started');
    await new Promise((resolve) => setTimeout(resolve, 1600));
    const loaded = await saveAndLoad(aging, { ...o, path: join(dir, `snapshot-${files++}.bin`) });
    await aging.close();
    assert.equal(loaded.counters.totals, 1);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const last = { ...o, path: join(dir, `snapshot-${files++}.bin`) };
    await new SnapshotWriter(loaded, last).save('close');
    await loaded.close();
    await new Promise((resolve) => setTimeout(resolve, 600));
    const reloaded = new MemoryStore({ peerTtlMs: o.peerTtlMs, reapIntervalMs: 3600_000 });
    await loadSnapshot(reloaded, last);
    assert.equal(reloaded.counters.totals, 0);
    await reloaded.close();
  });
});
