/** The memory driver's snapshot across a SIGTERM and a restart of the real CLI process. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { announcePath, decode, decodedKey, randomHash, scrapePath } from '../helpers/http.js';
import { startTrackerProcess } from '../helpers/tracker.js';

describe('memory driver snapshot across a restart of the CLI', () => {
  it('writes on SIGTERM and loads at start: scrape counts are the same before and after', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shoal-snapshot-cli-'));
    const path = join(dir, 'peers.snapshot');
    const env = { TRACKER_TRACKER_PARAMS: JSON.stringify({ snapshot_file: path }) };
    try {
      const first = await startTrackerProcess(env);
      const hashes = [randomHash(), randomHash(), randomHash()];
      let before: Record<string, unknown>;
      try {
        for (let i = 0; i < 12; i++) await first.get(announcePath({ infoHash: hashes[i % 3]!, port: 7000 + i, left: i % 4 === 0 ? 0 : 100 }));
        await first.get(announcePath({ infoHash: hashes[0]!, port: 7100, left: 0, event: 'completed' }));
        await first.get(announcePath({ infoHash: hashes[2]!, port: 7101 }), {}, '::1');
        before = decode((await first.get(scrapePath(hashes))).body).files;
      } finally {
        await first.close();
      }
      assert.equal((await first.proc.exit).code, 0);
      assert.ok(existsSync(path), 'the snapshot was written on SIGTERM');
      assert.ok(first.proc.lines.some((l) => l.includes('"snapshot written"')));
      assert.deepEqual(before[decodedKey(hashes[0]!)], { complete: 2, downloaded: 1, incomplete: 3 });

      const second = await startTrackerProcess(env);
      try {
        const after = decode((await second.get(scrapePath(hashes))).body).files;
        assert.deepEqual(after, before);
        assert.ok(second.proc.lines.some((l) => l.includes('"snapshot loaded"')));
        assert.equal(second.proc.lines.filter((l) => l.includes('"level":40')).length, 0, 'no warning');
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
