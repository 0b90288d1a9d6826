/**
 * The image without a Docker engine: the final stage's files, laid out as the Dockerfile copies them,
 * must be enough to run the tracker (with the Redis driver, which reads lua/) and the consumer (which
 * reads sql/), and the stages must be what the README promises (multi-stage, non-root).
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { announcePath, decode, httpGet, randomHash } from '../helpers/http.js';
import { createDatabase, postgresMissing, type TestDatabase } from '../helpers/postgres.js';
import { redisMissing, startRedis, type RedisServer } from '../helpers/redis.js';
import { portFromStartLine, spawnNode, TEST_UDP_SECRET } from '../helpers/tracker.js';
import { waitUntil } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const stages = dockerfile.split(/^FROM /m).slice(1);
const final = stages.at(-1)!;

/** Lays out the final stage's COPY lines in `dir`: build-stage paths from this checkout's build. */
function layOutImage(dir: string): void {
  const fromBuild: Record<string, string> = { '/app/node_modules': 'node_modules', '/app/dist/src': 'dist/src' };
  for (const line of final.split('\n').filter((l) => l.startsWith('COPY '))) {
    const words = line.split(/\s+/).slice(1);
    if (words[0] === '--from=build') {
      const [source, target] = [words[1]!, words[2]!];
      const local = fromBuild[source];
      assert.ok(local, `unexpected build-stage path ${source}`);
      if (local === 'node_modules') symlinkSync(join(ROOT, local), join(dir, target));
      else cpSync(join(ROOT, local), join(dir, target), { recursive: true });
      continue;
    }
    const target = words.at(-1)!;
    for (const source of words.slice(0, -1))
      cpSync(join(ROOT, source), target.endsWith('/') ? join(dir, target, source) : join(dir, target), { recursive: true });
  }
}

describe('Dockerfile', { skip: redisMissing() ?? postgresMissing() ?? false }, () => {
  let image: string;
  let redis: RedisServer;
  let db: TestDatabase;
  before(async () => {
    image = mkdtempSync(join(tmpdir(), 'shoal-image-'));
    layOutImage(image);
    redis = await startRedis();
    db = await createDatabase();
  });
  after(async () => {
    rmSync(image, { recursive: true, force: true });
    await redis?.kill();
    await db?.drop();
  });

  it('is multi-stage and runs as the unprivileged node user, with the tracker as its entry point', () => {
    assert.ok(stages.length >= 2, 'a build stage and a runtime stage');
    assert.match(final, /^USER node$/m);
    assert.match(final, /^ENTRYPOINT \["node", "dist\/src\/cli\.js"\]$/m);
    assert.doesNotMatch(final, /typescript|npm ci/, 'no build tools in the runtime stage');
  });

  it('holds what the tracker needs: it starts from the image layout and announces through the Redis scripts', async () => {
    const proc = spawnNode([join(image, 'dist/src/cli.js')], {
      TRACKER_HTTP_ADDR: '127.0.0.1:0',
      TRACKER_UDP_ADDR: '127.0.0.1:0',
      TRACKER_UDP_SECRET: TEST_UDP_SECRET,
      TRACKER_METRICS_ADDR: '',
      TRACKER_LOG_LEVEL: 'info',
      TRACKER_TRACKER_DRIVER: 'redis',
      TRACKER_TRACKER_PARAMS: JSON.stringify({ url: redis.url }),
    });
    try {
      const port = portFromStartLine(await proc.waitForLine((l) => l.includes('"tracker started"')));
      const answer = decode((await httpGet('127.0.0.1', port, announcePath({ infoHash: randomHash() }))).body);
      assert.equal(answer['failure reason'], undefined);
      assert.equal(answer.incomplete, 1);
    } finally {
      proc.child.kill('SIGTERM');
      await proc.exit;
    }
  });

  it('holds what the consumer needs: it starts from the image layout and creates its schema', async () => {
    const config = join(image, 'consumer.json');
    writeFileSync(config, JSON.stringify({ backend: { driver: 'redis-stream', params: { url: redis.url } }, consumer: { postgres_url: db.url } }));
    const proc = spawnNode([join(image, 'dist/src/consumer/cli.js'), '--config', config]);
    try {
      await proc.waitForLine((l) => l.includes('"consumer started"'));
      const tables = async (): Promise<number> =>
        Number(
          (
            await db.pool.query(
              "SELECT count(*) AS n FROM information_schema.tables WHERE table_name IN ('users', 'torrents', 'user_torrents', 'applied_ids', 'dead_letters')",
            )
          ).rows[0].n,
        );
      await waitUntil('the schema from sql/schema.sql', async () => (await tables()) === 5);
    } finally {
      proc.child.kill('SIGTERM');
      await proc.exit;
    }
  });
});
