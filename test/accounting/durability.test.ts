/**
 * What a tracker process owes the accounting queue when it stops: SIGTERM flushes everything it
 * accepted; SIGKILL loses at most what one flush interval buffered. Real CLI processes, a real Redis.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { adminClient, ADMIN_TOKEN } from '../helpers/admin.js';
import { announcePath, decode, randomHash } from '../helpers/http.js';
import { redisCli, redisMissing, startRedis, type RedisServer } from '../helpers/redis.js';
import { startTrackerProcess, type TestTracker, type ChildTracker } from '../helpers/tracker.js';

const FLUSH_INTERVAL_MS = 250;
const CONCURRENCY = 8;

describe('accounting durability of a tracker process', { skip: redisMissing() ?? false }, () => {
  let redis: RedisServer;
  before(async () => {
    redis = await startRedis();
  });
  after(() => redis?.kill());

  /** A private tracker process writing to `stream`, with one user and one torrent registered. */
  async function privateTracker(stream: string): Promise<{ tracker: TestTracker & { proc: ChildTracker }; passkey: string; infoHash: Buffer }> {
    const tracker = await startTrackerProcess({
      TRACKER_PRIVATE_ENABLED: 'true',
      // Each peer re-announces at once: min interval enforcement would hold its deltas back.
      TRACKER_MIN_INTERVAL_ENFORCEMENT: 'off',
      TRACKER_ADMIN_ADDR: '127.0.0.1:0',
      TRACKER_ADMIN_TOKEN: ADMIN_TOKEN,
      TRACKER_BACKEND_DRIVER: 'redis-stream',
      // Flushes go by the interval only: a batch size above what the test sends in one interval.
      TRACKER_BACKEND_PARAMS: JSON.stringify({ url: redis.url, stream, flush_interval: FLUSH_INTERVAL_MS, batch_size: 10_000 }),
    });
    const admin = adminClient(tracker.adminPort!);
    const passkey = randomBytes(16).toString('hex');
    const infoHash = randomHash();
    assert.equal((await admin.put('/users/1', { passkey })).status, 201);
    assert.equal((await admin.put(`/torrents/${infoHash.toString('hex')}`, { id: 1 })).status, 201);
    return { tracker, passkey, infoHash };
  }

  /** Announces from CONCURRENCY peers until `stop()`; counts the answers that were not failures. */
  function announceUntil(t: TestTracker, passkey: string, infoHash: Buffer): { stop: () => Promise<{ answered: number; seconds: number; times: number[] }> } {
    let running = true;
    let answered = 0;
    const times: number[] = [];
    const started = Date.now();
    const worker = async (w: number): Promise<void> => {
      for (let round = 1; running; round++) {
        try {
          const reply = await t.get(
            announcePath({ infoHash, port: 7000 + w, peerId: Buffer.from(`-qB4630-${String(w).padStart(12, '0')}`), uploaded: round * 1000 }, `/${passkey}`),
          );
          if (decode(reply.body)['failure reason'] === undefined) {
            answered++;
            times.push(Date.now());
          }
        } catch {
          return; // the process is gone
        }
      }
    };
    const workers = Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => worker(w)));
    return {
      async stop() {
        running = false;
        await workers;
        return { answered, seconds: (Date.now() - started) / 1000, times };
      },
    };
  }

  const streamLength = async (stream: string): Promise<number> => Number(await redisCli(redis.port, 'XLEN', stream));

  it('SIGTERM: every accepted record reaches the stream', async () => {
    const stream = `term:${randomBytes(3).toString('hex')}`;
    const { tracker, passkey, infoHash } = await privateTracker(stream);
    const load = announceUntil(tracker, passkey, infoHash);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const { answered } = await load.stop();
    tracker.proc.child.kill('SIGTERM');
    assert.equal((await tracker.proc.exit).code, 0);
    assert.ok(answered > 50, `enough traffic (${answered})`);
    assert.equal(await streamLength(stream), answered, 'one entry per answered private announce, none lost');
  });

  it('SIGKILL: loses at most one flush interval of records, and says how many', async () => {
    const stream = `kill:${randomBytes(3).toString('hex')}`;
    const { tracker, passkey, infoHash } = await privateTracker(stream);
    const load = announceUntil(tracker, passkey, infoHash);
    await new Promise((resolve) => setTimeout(resolve, 1000 + Math.random() * FLUSH_INTERVAL_MS));
    const killedAt = Date.now();
    tracker.proc.child.kill('SIGKILL');
    const { answered, times } = await load.stop();
    await tracker.proc.exit;
    const written = await streamLength(stream);
    const lost = answered - written;
    // What one flush interval held at the end: the announces answered in the interval before the kill,
    // plus the time one write and a busy event loop take (the timer of the next batch starts after it).
    const window = FLUSH_INTERVAL_MS + 100;
    const lastInterval = times.filter((t) => t >= killedAt - window).length;
    console.log(
      `# SIGKILL: ${answered} announces answered, ${written} records in the stream, ${lost} lost; ${lastInterval} were answered in the last ${window} ms (flush_interval ${FLUSH_INTERVAL_MS} ms)`,
    );
    assert.ok(lost >= 0, 'never more records than answered announces');
    assert.ok(lost <= lastInterval + CONCURRENCY, `lost ${lost} > the ${lastInterval} answered in the last flush interval + ${CONCURRENCY} in flight`);
  });
});
