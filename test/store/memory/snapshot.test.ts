/** The memory driver's snapshot file, through the driver as the tracker opens it (real files, real clock). */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import type { SwarmAnnounce, SwarmResult, TrackerStore } from '../../../src/store/driver.js';
import { memoryDriver } from '../../../src/store/memory/driver.js';
import { SNAPSHOT_VERSION } from '../../../src/store/memory/snapshot.js';
import { v4Addr, v6Addr } from '../../../src/testing/index.js';

const dir = mkdtempSync(join(tmpdir(), 'shoal-snapshot-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const newPath = (): string => join(dir, `snapshot-${files++}.bin`);

/** A logger whose records the test reads. */
function recordingLogger(): { logger: pino.Logger; records: Array<{ level: number; msg: string; reason?: string }> } {
  const records: Array<{ level: number; msg: string; reason?: string }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) records.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), records };
}

async function open(params: Record<string, unknown>, peerTtl = 600) {
  const { logger, records } = recordingLogger();
  const store = await memoryDriver.open(params, { peerTtl, logger });
  const warnings = () => records.filter((r) => r.level === 40);
  return { store, records, warnings };
}

function announce(store: TrackerStore, infoHash: Buffer, addr: Buffer, extra: Partial<SwarmAnnounce> = {}): Promise<SwarmResult> {
  const v6 = addr.length === 18;
  return store.announce({
    infoHash,
    peerId: randomBytes(20),
    ...(v6 ? { v6: addr } : { v4: addr }),
    seeder: false,
    event: 'started',
    numwant: 200,
    want4: !v6,
    want6: v6,
    subnet4: 0,
    subnet6: 0,
    withPeerIds: false,
    ...extra,
  });
}

const sortedPeers = (packed: Buffer, size: number): string[] => {
  const out: string[] = [];
  for (let o = 0; o < packed.length; o += size) out.push(packed.subarray(o, o + size).toString('hex'));
  return out.sort();
};

describe('memory driver snapshot', () => {
  it('keeps peers (both families, seeders and leechers) and snatch counts across a close and an open', async () => {
    const path = newPath();
    const first = await open({ snapshot_file: path });
    assert.equal(first.warnings().length, 1, 'no file yet: one warning');
    const hashes = [randomBytes(20), randomBytes(20)];
    const v4 = Array.from({ length: 30 }, () => v4Addr());
    const v6 = Array.from({ length: 10 }, () => v6Addr());
    for (const [i, addr] of v4.entries()) await announce(first.store, hashes[i % 2]!, addr, { seeder: i % 3 === 0 });
    for (const addr of v6) await announce(first.store, hashes[0]!, addr);
    await announce(first.store, hashes[1]!, v4Addr(), { event: 'completed', seeder: true });
    const before = await first.store.scrape(hashes);
    await first.store.close();
    assert.ok(existsSync(path), 'written on close');

    const second = await open({ snapshot_file: path });
    assert.deepEqual(second.warnings(), []);
    assert.ok(second.records.some((r) => r.msg === 'snapshot loaded'));
    assert.deepEqual(await second.store.scrape(hashes), before);
    assert.equal(before[1]!.downloaded, 1);
    // A seeder gets every leecher back, from the restored tables.
    const answer = await announce(second.store, hashes[0]!, v4Addr(), { seeder: true, numwant: 200, event: 'none' });
    const leechers = v4.filter((_, i) => i % 2 === 0 && i % 3 !== 0).map((a) => a.toString('hex'));
    assert.deepEqual(sortedPeers(answer.peers4, 6), leechers.sort());
    const answer6 = await announce(second.store, hashes[0]!, v6Addr(), { seeder: true, numwant: 200, event: 'none' });
    assert.deepEqual(sortedPeers(answer6.peers6, 18), v6.map((a) => a.toString('hex')).sort());
    await second.store.close();
  });

  it('drops the peers whose time ran out, the downtime included', { timeout: 20_000 }, async () => {
    const path = newPath();
    const hash = randomBytes(20);
    const old = v4Addr();
    const fresh = v4Addr();
    const first = await open({ snapshot_file: path }, 3);
    await announce(first.store, hash, old);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    await announce(first.store, hash, fresh);
    await first.store.close();
    // old: 2 s before the save; 1.5 s on disk make 3.5 s, past the 3 s TTL. fresh: 1.5 s.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const second = await open({ snapshot_file: path }, 3);
    assert.deepEqual(await second.store.scrape([hash]), [{ complete: 0, incomplete: 1, downloaded: 0 }]);
    const answer = await announce(second.store, hash, v4Addr(), { seeder: true, event: 'none' });
    assert.deepEqual(sortedPeers(answer.peers4, 6), [fresh.toString('hex')]);
    // ...and the one loaded still expires on time: its remaining 1.5 s, not a new TTL.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    assert.deepEqual(await second.store.scrape([hash]), [{ complete: 1, incomplete: 0, downloaded: 0 }]);
    await second.store.close();
  });

  it('keeps private totals and accounting sessions: the next announce continues the session', async () => {
    const path = newPath();
    const hash = randomBytes(20);
    const addr = v4Addr();
    const peerId = randomBytes(20);
    const access = (uploaded: number, id: string) => ({ requireRegistered: false, requireAllowed: false, userId: 7, uploaded, downloaded: 0, announceId: id });
    const first = await open({ snapshot_file: path });
    await announce(first.store, hash, addr, { peerId, event: 'started', access: access(100, 'r-1') });
    const second = await announce(first.store, hash, addr, { peerId, event: 'none', access: access(250, 'r-2') });
    await first.store.close();
    const reopened = await open({ snapshot_file: path });
    // The same announce again (a retry) answers as it did, from the restored record.
    const retried = await announce(reopened.store, hash, addr, { peerId, event: 'none', access: access(250, 'r-2') });
    assert.deepEqual(retried.previous, second.previous);
    const next = await announce(reopened.store, hash, addr, { peerId, event: 'none', access: access(400, 'r-3') });
    assert.deepEqual(next.previous, { uploaded: 250, downloaded: 0 });
    assert.deepEqual({ epoch: next.session?.epoch, seq: next.session?.seq }, { epoch: 'r-1', seq: 3 });
    await reopened.store.close();
  });

  it('writes every snapshot_interval while running', { timeout: 10_000 }, async () => {
    const path = newPath();
    const hash = randomBytes(20);
    const running = await open({ snapshot_file: path, snapshot_interval: 1 });
    await announce(running.store, hash, v4Addr());
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.ok(existsSync(path), 'written before any close');
    assert.ok(running.records.some((r) => r.msg === 'snapshot written'));
    const copy = newPath();
    writeFileSync(copy, readFileSync(path));
    const reader = await open({ snapshot_file: copy });
    assert.deepEqual(await reader.store.scrape([hash]), [{ complete: 0, incomplete: 1, downloaded: 0 }]);
    await reader.store.close();
    await running.store.close();
  });

  describe('a file it cannot use starts the store empty with one warning', () => {
    /** A valid snapshot of one peer, to spoil. */
    async function validFile(): Promise<{ path: string; hash: Buffer; bytes: Buffer }> {
      const path = newPath();
      const hash = randomBytes(20);
      const s = await open({ snapshot_file: path });
      await announce(s.store, hash, v4Addr());
      await s.store.close();
      return { path, hash, bytes: readFileSync(path) };
    }

    async function expectEmpty(path: string, hash: Buffer, reason: RegExp, params: Record<string, unknown> = {}): Promise<void> {
      const s = await open({ snapshot_file: path, ...params });
      const warnings = s.warnings();
      assert.equal(warnings.length, 1, JSON.stringify(warnings));
      assert.match(`${warnings[0]!.msg} ${warnings[0]!.reason ?? ''}`, reason);
      assert.deepEqual(await s.store.scrape([hash]), [{ complete: 0, incomplete: 0, downloaded: 0 }]);
      // ...and works: an announce is stored.
      await announce(s.store, hash, v4Addr());
      assert.deepEqual(await s.store.scrape([hash]), [{ complete: 0, incomplete: 1, downloaded: 0 }]);
      await s.store.close();
    }

    it('a missing file', async () => {
      await expectEmpty(join(dir, 'never-written.bin'), randomBytes(20), /no snapshot file/);
    });

    it('a corrupt file (one byte flipped)', async () => {
      const { path, hash, bytes } = await validFile();
      bytes[bytes.length - 30]! ^= 0x01;
      writeFileSync(path, bytes);
      await expectEmpty(path, hash, /checksum/);
    });

    it('a truncated file', async () => {
      const { path, hash, bytes } = await validFile();
      writeFileSync(path, bytes.subarray(0, bytes.length - 7));
      await expectEmpty(path, hash, /truncated/);
    });

    it('a header alone, and an empty file', async () => {
      const { path, hash, bytes } = await validFile();
      writeFileSync(path, bytes.subarray(0, 40));
      await expectEmpty(path, hash, /not a snapshot/);
      writeFileSync(path, Buffer.alloc(0));
      await expectEmpty(path, hash, /not a snapshot/);
    });

    it('another version', async () => {
      const { path, hash, bytes } = await validFile();
      bytes.writeUInt32LE(SNAPSHOT_VERSION + 1, 8);
      writeFileSync(path, bytes);
      await expectEmpty(path, hash, /version/);
    });

    it('a table holding one address twice (checksum right)', async () => {
      const path = newPath();
      const hash = randomBytes(20);
      const s = await open({ snapshot_file: path });
      await announce(s.store, hash, v4Addr());
      await announce(s.store, hash, v4Addr());
      await s.store.close();
      const bytes = readFileSync(path);
      // Body: u32 tables, u8 key length, 20-byte key, u8 address size, u32 count, u32 seeders, u8 has users, u32 ages[2], addresses.
      const addrs = 64 + 4 + 1 + 20 + 1 + 4 + 4 + 1 + 2 * 4;
      assert.equal(bytes[64 + 4 + 1 + 20], 6);
      assert.equal(bytes.readUInt32LE(64 + 4 + 1 + 20 + 1), 2);
      bytes.copy(bytes, addrs + 6, addrs, addrs + 6);
      createHash('sha256').update(bytes.subarray(0, 24)).update(bytes.subarray(64)).digest().copy(bytes, 32);
      writeFileSync(path, bytes);
      await expectEmpty(path, hash, /a peer twice/);
    });

    it('private totals holding a number that is not finite (checksum right)', async () => {
      const path = newPath();
      const hash = randomBytes(20);
      const s = await open({ snapshot_file: path });
      const access = { requireRegistered: false, requireAllowed: false, userId: 3, uploaded: 123456789, downloaded: 0, announceId: 'x' };
      await announce(s.store, hash, v4Addr(), { access });
      await s.store.close();
      const bytes = readFileSync(path);
      const uploaded = Buffer.alloc(8);
      uploaded.writeDoubleLE(123456789);
      const at = bytes.indexOf(uploaded, 64);
      assert.ok(at > 0 && bytes.indexOf(uploaded, at + 1) === -1, 'the uploaded total, once');
      bytes.writeDoubleLE(Infinity, at);
      createHash('sha256').update(bytes.subarray(0, 24)).update(bytes.subarray(64)).digest().copy(bytes, 32);
      writeFileSync(path, bytes);
      await expectEmpty(path, hash, /not finite/);
    });

    it('a foreign file', async () => {
      const path = newPath();
      writeFileSync(path, randomBytes(5000));
      await expectEmpty(path, randomBytes(20), /not a snapshot/);
    });

    it('a file larger than snapshot_max_bytes', async () => {
      const { path, hash } = await validFile();
      writeFileSync(path, Buffer.concat([readFileSync(path), Buffer.alloc(2048)]));
      await expectEmpty(path, hash, /snapshot_max_bytes/, { snapshot_max_bytes: 1024 });
    });
  });
});
