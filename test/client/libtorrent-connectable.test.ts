/**
 * The connectability check against a real client: a libtorrent session seeding a torrent on
 * 127.0.0.1 is found connectable (with the BitTorrent handshake for its info hash); the same peer
 * announced from another address, where its port is closed (as behind a NAT without a forwarded
 * port), is not. Announces go through the Tracker over the memory store; the records say it.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { AnnounceRequest } from '../../src/bittorrent/announce.js';
import { loadConfig } from '../../src/config/config.js';
import { MemoryStore } from '../../src/store/memory/store.js';
import { probe } from '../../src/tracker/connect-probe.js';
import { Tracker, trackerPolicy } from '../../src/tracker/tracker.js';
import { KeepingBackend } from '../helpers/accounting.js';
import { toolMissing } from '../helpers/tools.js';

const SCRIPT = fileURLToPath(new URL('../../../test/client/libtorrent_listen.py', import.meta.url));
const PYTHON = '/usr/bin/python3';
const missing = toolMissing('python3-libtorrent', 'python3-libtorrent', [[PYTHON, ['-c', 'import libtorrent']]]);

/** A seeding libtorrent session on `ip`: its listen port and info hash, once it seeds. */
function startSeeder(ip: string, dir: string): Promise<{ child: ChildProcess; port: number; infoHash: Buffer }> {
  const child = spawn(PYTHON, [SCRIPT, ip, dir], { stdio: ['pipe', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      if (!out.includes('\n')) return;
      const line = JSON.parse(out.split('\n')[0]!) as { port: number; info_hash: string; state: string };
      if (line.state !== 'seeding') return reject(new Error(`libtorrent did not seed: ${out} ${err}`));
      resolve({ child, port: line.port, infoHash: Buffer.from(line.info_hash, 'hex') });
    });
    child.on('exit', (code) => reject(new Error(`libtorrent exited (${code}): ${err}`)));
  });
}

describe('connectability of a real libtorrent peer', { skip: missing ?? false }, () => {
  let dir: string;
  let seeder: { child: ChildProcess; port: number; infoHash: Buffer };
  let store: MemoryStore;
  let backend: KeepingBackend;
  let tracker: Tracker;
  const passkey = 'd'.repeat(32);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'shoal-lt-conn-'));
    seeder = await startSeeder('127.0.0.1', dir);
    store = new MemoryStore({ peerTtlMs: 60_000, reapIntervalMs: 1000 });
    backend = new KeepingBackend();
    const config = loadConfig({
      config: { private_enabled: true, private: { connectable_check: true, connectable_handshake: true, connectable_private_ranges: true } },
    });
    tracker = new Tracker(store, backend, { ...trackerPolicy(config), minIntervalEnforcement: 'off' });
    await store.catalogue.putUser({ id: 1, passkey, upMultiplier: 1, downMultiplier: 1, enabled: true });
    await store.catalogue.putTorrent({ infoHash: seeder.infoHash, id: 5, upMultiplier: 1, downMultiplier: 1, freeleech: false });
  });
  after(async () => {
    tracker.close();
    await store.close();
    seeder.child.stdin!.end();
    seeder.child.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  const announce = (sourceIp: number[], peerId: Buffer, event: AnnounceRequest['event']) =>
    tracker.announce({
      infoHash: seeder.infoHash,
      peerId,
      port: seeder.port,
      uploaded: 0,
      downloaded: 0,
      left: 0,
      event,
      numwant: 10,
      compact: true,
      noPeerId: true,
      sourceIp: Buffer.from(sourceIp),
      passkey,
    });

  it('reports the listening peer connectable and the one behind a closed port not', { timeout: 30_000 }, async () => {
    const listening = randomBytes(20);
    const behindNat = randomBytes(20);
    await announce([127, 0, 0, 1], listening, 'started');
    await announce([127, 0, 0, 3], behindNat, 'started');
    await tracker.connectability!.idle();
    await announce([127, 0, 0, 1], listening, 'none');
    const open = backend.records.at(-1)!;
    await announce([127, 0, 0, 3], behindNat, 'none');
    const closed = backend.records.at(-1)!;
    assert.equal(open.connectable, true, 'libtorrent answered the handshake for its torrent');
    assert.equal(closed.connectable, false, 'nothing listens at the announced port of 127.0.0.3');
  });

  it('libtorrent does not answer a handshake for a torrent it does not have', { timeout: 30_000 }, async () => {
    const handshake = { infoHash: randomBytes(20), peerId: randomBytes(20) };
    assert.equal(await probe('127.0.0.1', seeder.port, { timeoutMs: 3000, handshake }), false);
    assert.equal(await probe('127.0.0.1', seeder.port, { timeoutMs: 3000 }), true, 'though it accepts the connection');
  });
});
