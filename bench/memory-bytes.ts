/**
 * Memory driver bytes per peer: a fresh process per case loads peers through MemoryStore's public API
 * (constructor and announce) and reports the marginal RSS and heap+external per peer between N and 2N
 * peers (the case's peers, then as many again: more swarms of the same size, or a single swarm grown to
 * twice its size), each taken after a forced GC, after a warm-up in the same process (see measure). The
 * marginal cost leaves out what a process pays once (a heap grown to its working size, code, tables of
 * the store) and shows what each further peer costs. The growth from empty to N is reported too. Only
 * the public API is used, so it measures whichever store is built. The one measure of memory per peer:
 * `npm run bench` prints it.
 *   node dist/bench/memory-bytes.js                      -> runs every case, one child each, one JSON line per case
 *   node --expose-gc dist/bench/memory-bytes.js CASE     -> measures one case (CASE as below)
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { SwarmAnnounce } from '../src/index.js';

export interface MemoryCase {
  name: string;
  swarms: number;
  peersPerSwarm: number;
  family: 4 | 6;
  /** Private mode: every peer its own user, so the store keeps its previous totals too. */
  private?: boolean;
}

export const MEMORY_CASES: MemoryCase[] = [
  { name: '10k-x-100-v4', swarms: 10_000, peersPerSwarm: 100, family: 4 },
  { name: '1-x-1M-v4', swarms: 1, peersPerSwarm: 1_000_000, family: 4 },
  { name: '1k-x-100-v6', swarms: 1_000, peersPerSwarm: 100, family: 6 },
  { name: '1k-x-100-v4-private', swarms: 1_000, peersPerSwarm: 100, family: 4, private: true },
];

export interface MemoryResult {
  case: string;
  peers: number;
  swarms: number;
  family: 4 | 6;
  /** Peers stored at 2N. */
  storedPeers: number;
  /** Marginal: growth between N and 2N peers, divided by N. */
  rssBytesPerPeer: number;
  heapExternalBytesPerPeer: number;
  /** Growth from an empty store to N peers, divided by N. */
  rssBytesPerPeerFromEmpty: number;
  heapExternalBytesPerPeerFromEmpty: number;
  /** Time to load the first N peers. */
  seconds: number;
}

async function settle(): Promise<{ rss: number; heapExternal: number }> {
  const gc = (globalThis as { gc?: () => void }).gc!;
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const m = process.memoryUsage();
  return { rss: m.rss, heapExternal: m.heapUsed + m.external };
}

/** Peer `i` of swarm `s`: a distinct address (and peer id) for every peer of the case. */
function fill(out: SwarmAnnounce, c: MemoryCase, n: number): void {
  const peerId = Buffer.allocUnsafe(20);
  peerId.fill(0x2d, 0, 8);
  peerId.writeUInt32BE(n, 8);
  peerId.writeUInt32BE(n ^ 0x5bd1e995, 12);
  peerId.writeUInt32BE(Math.imul(n, 0x9e3779b1) >>> 0, 16);
  out.peerId = peerId;
  if (c.family === 4) {
    const v4 = Buffer.allocUnsafe(6);
    v4.writeUInt32BE((0x0a000000 + Math.floor(n / 16)) >>> 0, 0);
    v4.writeUInt16BE(6881 + (n % 16), 4);
    out.v4 = v4;
  } else {
    const v6 = Buffer.alloc(18);
    v6.writeUInt32BE(0x20010db8, 0);
    v6.writeUInt32BE(n, 8);
    v6.writeUInt32BE(Math.imul(n, 0x9e3779b1) >>> 0, 12);
    v6.writeUInt16BE(6881 + (n % 16), 16);
    out.v6 = v6;
  }
}

/** Announces every peer of case `c` (peer numbers from `first`, swarm numbers from `firstSwarm`) into `store`. */
async function load(store: { announce(a: SwarmAnnounce): Promise<unknown> }, c: MemoryCase, first = 0, firstSwarm = 0): Promise<void> {
  let n = first;
  for (let s = firstSwarm; s < firstSwarm + c.swarms; s++) {
    const infoHash = Buffer.allocUnsafe(20);
    infoHash.fill(0x11);
    infoHash.writeUInt32BE(s, 0);
    infoHash.writeUInt32BE(Math.imul(s, 0x9e3779b1) >>> 0, 8);
    for (let p = 0; p < c.peersPerSwarm; p++, n++) {
      const a: SwarmAnnounce = {
        infoHash,
        peerId: infoHash,
        seeder: n % 3 === 0,
        event: 'started',
        numwant: 0,
        want4: c.family === 4,
        want6: c.family === 6,
        subnet4: 0,
        subnet6: 0,
        withPeerIds: false,
      };
      if (c.private) a.access = { requireAllowed: false, requireRegistered: false, userId: 1 + n, uploaded: n, downloaded: n, announceId: `a${n}` };
      fill(a, c, n);
      await store.announce(a);
    }
  }
}

async function measure(c: MemoryCase): Promise<MemoryResult> {
  // Imported here, so that importing this module for MEMORY_CASES and runMemoryCase stays light.
  const { MemoryStore } = await import('../src/index.js');
  // The baseline is a process that has already served a stream of announces, as a running tracker has:
  // compiled code and a heap grown to its working size under their garbage would otherwise count as
  // peers. 200,000 announces of the same 2,000 peers into a store of their own, then closed.
  const warm = new MemoryStore({ peerTtlMs: 24 * 3600_000, reapIntervalMs: 24 * 3600_000 });
  for (let round = 0; round < 100; round++) await load(warm, { ...c, swarms: 20, peersPerSwarm: 100 }, 50_000_000);
  await warm.close();
  const store = new MemoryStore({ peerTtlMs: 24 * 3600_000, reapIntervalMs: 24 * 3600_000 });
  const before = await settle();
  const started = performance.now();
  await load(store, c);
  const seconds = (performance.now() - started) / 1000;
  const middle = await settle();
  const peers = c.swarms * c.peersPerSwarm;
  // N more peers: new swarms of the same size, or (one swarm) the same swarm grown to twice its size.
  await load(store, c, peers, c.swarms === 1 ? 0 : c.swarms);
  const after = await settle();
  const stats = await store.stats();
  const result: MemoryResult = {
    case: c.name,
    peers,
    swarms: c.swarms,
    family: c.family,
    storedPeers: stats.peers,
    rssBytesPerPeer: (after.rss - middle.rss) / peers,
    heapExternalBytesPerPeer: (after.heapExternal - middle.heapExternal) / peers,
    rssBytesPerPeerFromEmpty: (middle.rss - before.rss) / peers,
    heapExternalBytesPerPeerFromEmpty: (middle.heapExternal - before.heapExternal) / peers,
    seconds,
  };
  await store.close();
  return result;
}

const here = fileURLToPath(import.meta.url);

/** Runs one case in a child process of its own (a fresh heap), pinned with `command`/`prefix` if given. */
export function runMemoryCase(c: MemoryCase, prefix: string[] = []): Promise<MemoryResult> {
  return new Promise((resolve, reject) => {
    const argv = [...prefix, process.execPath, '--expose-gc', here, c.name];
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.on('exit', (code) => {
      try {
        resolve(JSON.parse(out.trim()) as MemoryResult);
      } catch {
        reject(new Error(`memory-bytes ${c.name} exited (${code}) without a result`));
      }
    });
  });
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const name = process.argv[2];
  if (name) {
    const c = MEMORY_CASES.find((x) => x.name === name);
    if (!c) throw new Error(`unknown case ${name}; one of ${MEMORY_CASES.map((x) => x.name).join(', ')}`);
    if (!(globalThis as { gc?: unknown }).gc) throw new Error('run with node --expose-gc');
    process.stdout.write(JSON.stringify(await measure(c)) + '\n');
  } else {
    for (const c of MEMORY_CASES) process.stdout.write(JSON.stringify(await runMemoryCase(c)) + '\n');
  }
}
