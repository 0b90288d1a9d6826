/**
 * `npm run bench:blocklist`: a blocklist of N random ranges (1,000,000 by default) written to a temp
 * file, loaded as the tracker loads it (loadListFile), and looked up. Prints the load time, the memory the
 * loaded list keeps (heap + array buffers after a full GC, against before the load) and the peak seen
 * while loading, and lookups in ns/op. Run for IPv4 (P2P and CIDR lines, as published lists mix them) and
 * for IPv6 (CIDRs).
 *
 *   npm run bench:blocklist -- [--ranges N] [--lookups N]
 */
import { randomInt } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadListFile } from '../src/blocklist/lists.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(args[i + 1]);
};
const RANGES = option('ranges', 1_000_000);
const LOOKUPS = option('lookups', 1_000_000);

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc (npm run bench:blocklist does)');

const quad = (n: number): string => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
const word = (): number => randomInt(0, 2 ** 32);

function v4Line(i: number): string {
  const start = word();
  if (i % 2 === 0) return `Range ${i}:${quad(start)}-${quad(Math.min(2 ** 32 - 1, start + randomInt(0, 4096)))}`;
  const prefix = randomInt(20, 33);
  return `${quad(start)}/${prefix}`;
}

function v6Line(): string {
  const groups = Array.from({ length: 8 }, () => randomInt(0, 65536).toString(16));
  return `${groups.join(':')}/${randomInt(32, 129)}`;
}

async function writeList(path: string, line: (i: number) => string): Promise<number> {
  const chunks: string[] = [];
  for (let i = 0; i < RANGES; i += 100_000) {
    const lines: string[] = [];
    for (let j = i; j < Math.min(RANGES, i + 100_000); j++) lines.push(line(j));
    chunks.push(lines.join('\n') + '\n');
  }
  const text = chunks.join('');
  await writeFile(path, text);
  return text.length;
}

/** Full collections until memory stops shrinking: array buffers are freed after their views are collected. */
async function settle(): Promise<void> {
  let last = Infinity;
  for (let i = 0; i < 10 && used() < last; i++) {
    last = used();
    gc!();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const used = (): number => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};
const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);

async function run(family: 'IPv4' | 'IPv6', path: string, bytes: number): Promise<void> {
  await settle();
  const before = used();
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, used())), 5);
  const started = performance.now();
  const loaded = await loadListFile(path, 2 ** 30, RANGES);
  const loadMs = performance.now() - started;
  clearInterval(sampler);
  peak = Math.max(peak, used());
  await settle();
  const kept = used() - before;

  const probes = new Uint8Array(LOOKUPS * (family === 'IPv4' ? 4 : 16));
  for (let i = 0; i < probes.length; i += 4) {
    const w = word();
    probes[i] = w >>> 24;
    probes[i + 1] = (w >>> 16) & 255;
    probes[i + 2] = (w >>> 8) & 255;
    probes[i + 3] = w & 255;
  }
  const size = family === 'IPv4' ? 4 : 16;
  let hits = 0;
  for (let i = 0; i < 100_000; i++) if (loaded.set.has(probes, (i % LOOKUPS) * size, size)) hits++; // warm-up
  hits = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < LOOKUPS; i++) if (loaded.set.has(probes, i * size, size)) hits++;
  const ns = Number(process.hrtime.bigint() - t0) / LOOKUPS;

  const merged = loaded.set.size4 + loaded.set.size6;
  console.log(
    `${family}: ${RANGES.toLocaleString('en')} ranges (${mb(bytes)} MB of text), ${merged.toLocaleString('en')} after merging | ` +
      `load ${(loadMs / 1000).toFixed(2)} s | kept ${mb(kept)} MB (the set itself ${mb(loaded.set.bytes)} MB), peak +${mb(peak - before)} MB while loading | ` +
      `lookup ${ns.toFixed(0)} ns/op (${((hits / LOOKUPS) * 100).toFixed(1)}% hits)`,
  );
}

const dir = await mkdtemp(join(tmpdir(), 'shoal-bench-blocklist-'));
try {
  console.log(`node ${process.version}, ${LOOKUPS.toLocaleString('en')} random lookups`);
  const v4 = await writeList(join(dir, 'v4.p2p'), v4Line);
  const v6 = await writeList(join(dir, 'v6.txt'), v6Line);
  await run('IPv4', join(dir, 'v4.p2p'), v4);
  await run('IPv6', join(dir, 'v6.txt'), v6);
} finally {
  await rm(dir, { recursive: true, force: true });
}
