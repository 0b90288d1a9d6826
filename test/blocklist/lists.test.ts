/** Loading blocklist files: limits, warnings, failures at start and on a change. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { boot } from '../../src/boot.js';
import { Blocklists, type BlocklistOptions } from '../../src/blocklist/lists.js';

/** A logger whose records land in `records`. */
function capture(): { logger: pino.Logger; records: Array<Record<string, any>> } {
  const records: Array<Record<string, any>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      records.push(JSON.parse(chunk.toString()));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), records };
}

describe('blocklist files', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-lists-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  const options = (files: string[], logger: pino.Logger, more: Partial<BlocklistOptions> = {}): BlocklistOptions => ({
    files,
    maxFileBytes: 1 << 20,
    maxRanges: 1000,
    checkIntervalMs: 0,
    logger,
    ...more,
  });

  it('skips garbage lines with one warning that counts them and shows the first', async () => {
    const path = join(dir, 'mixed.txt');
    await writeFile(path, '10.0.0.0/8\nnot an address\n192.0.2.1\n1.2.3.4/99\n');
    const { logger, records } = capture();
    const lists = await Blocklists.open(options([path], logger));
    assert.equal(lists.match(Buffer.from([10, 9, 9, 9])), 'mixed.txt');
    assert.equal(lists.match(Buffer.from([192, 0, 2, 2])), null);
    const warnings = records.filter((r) => r.level === 40);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]!.garbage, 2);
    assert.equal(warnings[0]!.first_line, 2);
    assert.equal(warnings[0]!.first_text, 'not an address');
  });

  it('refuses at start a missing file, a file over its size limit or its range limit, and one of garbage only', async () => {
    const { logger } = capture();
    await assert.rejects(Blocklists.open(options([join(dir, 'missing.txt')], logger)), /ENOENT/);
    const big = join(dir, 'big.txt');
    await writeFile(big, '1.2.3.4\n'.repeat(200));
    await assert.rejects(Blocklists.open(options([big], logger, { maxFileBytes: 1000 })), /1600 bytes, more than blocklist.max_file_bytes \(1000\)/);
    await assert.rejects(Blocklists.open(options([big], logger, { maxRanges: 100 })), /more than 100 ranges/);
    const junk = join(dir, 'junk.txt');
    await writeFile(junk, '<html>\n<body>\n');
    await assert.rejects(Blocklists.open(options([junk], logger)), /no valid line \(2 unreadable, the first at line 1: "<html>"\)/);
  });

  it('stops the tracker from starting with a configuration error naming the key', async () => {
    await assert.rejects(
      boot({
        config: { http: { addr: '127.0.0.1:0' }, udp: { addr: '' }, metrics: { addr: '' }, blocklist: { files: [join(dir, 'missing.txt')] } },
        env: {},
        logger: pino({ level: 'silent' }),
      }),
      (error: Error) => error.name === 'ConfigError' && /^blocklist.files: .*missing.txt/.test(error.message),
    );
  });

  it('reloads a file once its change has settled, and keeps the list (one warning) when the change cannot be read', async () => {
    const path = join(dir, 'live.txt');
    await writeFile(path, '192.0.2.0/24\n');
    const { logger, records } = capture();
    const lists = await Blocklists.open(options([path], logger));
    let changes = 0;
    lists.onChange(() => changes++);
    await writeFile(path, '198.51.100.0/24\n# and more\n');
    await lists.check();
    assert.equal(lists.match(Buffer.from([198, 51, 100, 1])), null, 'a change is read at the next check that sees it unchanged');
    await lists.check();
    assert.equal(lists.match(Buffer.from([198, 51, 100, 1])), 'live.txt');
    assert.equal(lists.match(Buffer.from([192, 0, 2, 1])), null);
    assert.equal(changes, 1);
    await rm(path);
    for (let i = 0; i < 6; i++) await lists.check();
    assert.equal(lists.match(Buffer.from([198, 51, 100, 1])), 'live.txt', 'a file gone leaves its list in force');
    assert.equal(records.filter((r) => r.level === 40 && /not reloaded/.test(String(r.msg))).length, 1, 'one warning, not one per check');
    assert.equal(changes, 1);
  });
});
