/**
 * What a full scrape snapshot costs on the `redis` driver: Redis CPU (INFO cpu, user + sys) and wall time
 * of one build over N swarms, at the default full_scrape_rate and unpaced, and the answer's size plain
 * and gzipped. On a redis-server of the benchmark's own:
 *   node dist/bench/full-scrape.js PORT [SWARMS]   -> JSON lines
 */
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { redisDriver } from '../src/store/redis/driver.js';
import { writeScrape } from '../src/frontend/http/writer.js';
import { swarmAnnounce } from '../src/testing/harness.js';

const gzip = promisify(gzipCallback);
const port = Number(process.argv[2]);
const swarms = Number(process.argv[3] ?? 10_000);
const admin = new Redis(port, '127.0.0.1');

async function redisCpu(): Promise<number> {
  const info = await admin.info('cpu');
  return Number(/used_cpu_user:([\d.]+)/.exec(info)![1]) + Number(/used_cpu_sys:([\d.]+)/.exec(info)![1]);
}

const logger = pino({ level: 'silent' });
const fill = await redisDriver.open({ url: `redis://127.0.0.1:${port}`, command_timeout: 10_000 }, { peerTtl: 3600, logger });
await admin.flushall();
for (let from = 0; from < swarms; from += 500) {
  await Promise.all(
    Array.from({ length: Math.min(500, swarms - from) }, async (_, j) => {
      const hash = randomBytes(20);
      const v4 = (i: number) => Buffer.from([10, (from + j) >> 8, (from + j) & 255, i, 0x1a, 0xe1]);
      await fill.announce(swarmAnnounce(hash, { v4: v4(1), seeder: true, event: 'completed' }));
      await fill.announce(swarmAnnounce(hash, { v4: v4(2) }));
    }),
  );
}
await fill.close();
const keys = await admin.dbsize();

for (const rate of [50_000, 10_000_000]) {
  const store = await redisDriver.open({ url: `redis://127.0.0.1:${port}`, command_timeout: 10_000, full_scrape_rate: rate }, { peerTtl: 3600, logger });
  await store.scrape([randomBytes(20)]);
  const cpuBefore = await redisCpu();
  const started = performance.now();
  const files = await store.scrapeAll!(1_000_000);
  const wallMs = performance.now() - started;
  const cpuMs = ((await redisCpu()) - cpuBefore) * 1000;
  const plain = writeScrape({ files, minRequestInterval: 900 });
  const zipped = await gzip(plain);
  console.log(
    JSON.stringify({
      swarms: files.length,
      keys,
      full_scrape_rate: rate,
      wall_ms: Math.round(wallMs),
      redis_cpu_ms: Math.round(cpuMs),
      redis_cpu_share: Number((cpuMs / wallMs).toFixed(3)),
      body_bytes: plain.length,
      gzip_bytes: zipped.length,
    }),
  );
  await store.close();
}
admin.disconnect();
