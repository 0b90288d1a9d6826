/**
 * What every group of the tracker driver conformance suite shares: the store under test and its
 * lifecycle, a fresh swarm per test, an announce with defaults, and peer addresses to announce with.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SwarmAccess, SwarmAnnounce, SwarmResult, TrackerStore } from '../store/driver.js';

/** Opens the store under test. The suite asks for `peerTtl` 3 (seconds) and closes the store at the end. */
export type StoreFactory = (options: { peerTtl: number }) => Promise<TrackerStore>;

let portCounter = 1000;

/** A distinct IPv4 peer address (10.x.y.z) with its own port. */
export function v4Addr(a = 10, b = Math.floor(Math.random() * 256), c = Math.floor(Math.random() * 256), d = 1 + Math.floor(Math.random() * 254)): Buffer {
  const buf = Buffer.alloc(6);
  buf[0] = a;
  buf[1] = b;
  buf[2] = c;
  buf[3] = d;
  buf.writeUInt16BE(1024 + (portCounter++ % 60000), 4);
  return buf;
}

/** A random IPv6 peer address under the given first 16 bits, with its own port. */
export function v6Addr(prefix = 0x2001): Buffer {
  const buf = Buffer.alloc(18);
  buf.writeUInt16BE(prefix, 0);
  randomBytes(14).copy(buf, 2);
  buf.writeUInt16BE(1024 + (portCounter++ % 60000), 16);
  return buf;
}

function split(packed: Buffer, size: number): string[] {
  const out: string[] = [];
  for (let o = 0; o < packed.length; o += size) out.push(packed.subarray(o, o + size).toString('hex'));
  return out;
}

/** The compact IPv4 peers of an answer, each as hex. */
export const peersOf = (packed: Buffer): string[] => split(packed, 6);
/** The compact IPv6 peers of an answer, each as hex. */
export const peers6Of = (packed: Buffer): string[] => split(packed, 18);
export const hex = (b: Buffer): string => b.toString('hex');

export type Announce = Partial<SwarmAnnounce> & { v4?: Buffer; v6?: Buffer };

/** The store under test and the swarm of the current test, as one group of the suite sees them. */
/** An announce into `infoHash` by a new peer: a leecher wanting 50 peers of its own family, with `overrides`. */
export function swarmAnnounce(infoHash: Buffer, overrides: Announce): SwarmAnnounce {
  return {
    infoHash,
    peerId: randomBytes(20),
    seeder: false,
    event: 'none',
    numwant: 50,
    want4: overrides.v4 !== undefined || overrides.v6 === undefined,
    want6: overrides.v6 !== undefined,
    subnet4: 0,
    subnet6: 0,
    withPeerIds: false,
    ...overrides,
  };
}

export interface ConformanceContext {
  readonly store: TrackerStore;
  /** The info hash of the current test's swarm; `fresh()` picks a new one. */
  readonly hash: Buffer;
  fresh: () => void;
  /** An announce to the current swarm: a random peer_id, leecher, no event, numwant 50, the families of the addresses given. */
  ann: (overrides: Announce) => Promise<SwarmResult>;
}

/**
 * Opens the store before the tests of the enclosing describe() and closes it after them, and adds the
 * first test: the store becomes ready.
 */
export function storeUnderTest(open: StoreFactory): ConformanceContext {
  let store: TrackerStore | undefined;
  let hash = randomBytes(20);
  const ctx: ConformanceContext = {
    get store(): TrackerStore {
      if (!store) throw new Error('the store under test is not open (did its factory fail?)');
      return store;
    },
    get hash(): Buffer {
      return hash;
    },
    fresh() {
      hash = randomBytes(20);
    },
    ann: (overrides) => ctx.store.announce(swarmAnnounce(hash, overrides)),
  };

  before(async () => {
    store = await open({ peerTtl: 3 });
  });
  after(async () => {
    await store?.close();
  });

  it('becomes ready', async () => {
    const deadline = Date.now() + 10_000;
    while (!(await ctx.store.ready()) && Date.now() < deadline) await sleep(50);
    assert.equal(await ctx.store.ready(), true);
  });

  return ctx;
}

/** A random user id. */
export const uid = (): number => 1 + Math.floor(Math.random() * 0xfffffff0);
/** A random 32-character passkey. */
export const passkey = (): string => randomBytes(16).toString('hex');

/** Waits for a change to reach this store's caches: at most a second, as the contract says. */
export async function eventually(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  const deadline = Date.now() + 1000;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`not seen within 1 s: ${what}`);
    await sleep(20);
  }
}

/** Private-mode access for an announce: registered torrents only, this user reporting these totals. */
export const priv = (userId: number, uploaded: number, downloaded: number): SwarmAccess => ({
  requireRegistered: true,
  requireAllowed: false,
  userId,
  uploaded,
  downloaded,
});
