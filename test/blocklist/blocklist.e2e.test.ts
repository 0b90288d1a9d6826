/**
 * IP blocklists on a real tracker: clients from loopback addresses other than 127.0.0.1 (the socket bound
 * to 127.0.0.2 and so on), over HTTP, UDP and WebSocket; a changed file picked up without a restart; a
 * broken change that keeps the previous list; blocklist.peers; the metrics by list.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { announcePath, decode, decodedKey, httpGet, peerList, randomHash, scrapePath, text } from '../helpers/http.js';
import { startTracker, type TestTracker } from '../helpers/tracker.js';
import { connectPacket } from '../helpers/udp.js';
import { waitUntil } from '../helpers/wait.js';
import { announce, binaryId, isAnnounceReply, WsClient } from '../helpers/ws.js';

const BLOCKED = (list: string): string => `your address is blocked on this tracker (${list})`;

/** A decoded answer's failure reason as text; undefined when it has none. */
const failure = (answer: Record<string, any>): string | undefined => (answer['failure reason'] === undefined ? undefined : text(answer['failure reason']));

/** One datagram from `localAddress`; the answer, or null after `timeoutMs` of silence. */
function udpFrom(localAddress: string, port: number, packet: Buffer, timeoutMs = 500): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const v6 = localAddress.includes(':');
    const socket = createSocket(v6 ? 'udp6' : 'udp4');
    socket.once('error', reject);
    const timer = setTimeout(() => {
      socket.close();
      resolve(null);
    }, timeoutMs);
    socket.once('message', (reply) => {
      clearTimeout(timer);
      socket.close();
      resolve(reply);
    });
    socket.bind({ address: localAddress, port: 0 }, () => socket.send(packet, port, v6 ? '::1' : '127.0.0.1'));
  });
}

async function metricsText(t: TestTracker): Promise<string> {
  return (await httpGet('127.0.0.1', t.metricsPort!, '/metrics')).body.toString();
}

/** An announce from `from` (the client socket bound there); the decoded answer. */
async function announceFrom(t: TestTracker, from: string, infoHash: Buffer, port: number, extra?: string): Promise<Record<string, any>> {
  return decode((await httpGet('127.0.0.1', t.port, announcePath({ infoHash, port, left: 0, extra }), {}, from)).body);
}

describe('blocklists', () => {
  let dir: string;
  let tracker: TestTracker;
  let bad: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-blocklist-'));
    bad = join(dir, 'bad.txt');
    await writeFile(bad, '# test list\n127.0.0.2/32\n2001:db8::/32\n');
    await writeFile(join(dir, 'other.p2p'), 'Someone:127.0.0.8-127.0.0.9\n::1\n');
    tracker = await startTracker({
      metrics: { addr: '127.0.0.1:0' },
      trusted_proxies: ['127.0.0.10/32'],
      blocklist: { files: [bad, join(dir, 'other.p2p')], check_interval: 0.05 },
    });
  });
  after(async () => {
    await tracker.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers an HTTP announce and scrape from a blocked address with the failure reason, and serves others', async () => {
    const hash = randomHash();
    assert.equal(failure(await announceFrom(tracker, '127.0.0.2', hash, 7001)), BLOCKED('bad.txt'));
    assert.equal(failure(await announceFrom(tracker, '127.0.0.9', hash, 7002)), BLOCKED('other.p2p'));
    const fromV6 = decode((await httpGet('::1', tracker.port, announcePath({ infoHash: hash, port: 7005 }), {}, '::1')).body);
    assert.equal(failure(fromV6), BLOCKED('other.p2p'), 'a client on ::1');
    const scrape = decode((await httpGet('127.0.0.1', tracker.port, scrapePath([hash]), {}, '127.0.0.2')).body);
    assert.equal(failure(scrape), BLOCKED('bad.txt'));
    // Behind a trusted proxy (127.0.0.10) the forwarded address counts: IPv6, and IPv4-mapped IPv6 as IPv4.
    const viaProxy = async (forwarded: string): Promise<string | undefined> =>
      failure(
        decode((await httpGet('127.0.0.1', tracker.port, announcePath({ infoHash: hash, port: 7004 }), { 'X-Forwarded-For': forwarded }, '127.0.0.10')).body),
      );
    assert.equal(await viaProxy('2001:db8::5'), BLOCKED('bad.txt'));
    assert.equal(await viaProxy('::ffff:127.0.0.2'), BLOCKED('bad.txt'));
    assert.equal(await viaProxy('2001:db9::5'), undefined);
    const ok = await announceFrom(tracker, '127.0.0.3', hash, 7003);
    assert.equal(failure(ok), undefined);
    assert.deepEqual([ok.complete, ok.incomplete], [1, 1], 'the refused announces added no peer (this one and 2001:db9::5 are in)');
    const text = await metricsText(tracker);
    assert.match(text, /tracker_blocklist_refusals_total\{list="bad.txt",protocol="http"\} 4\n/);
    assert.match(text, /tracker_blocklist_refusals_total\{list="other.p2p",protocol="http"\} 2\n/);
    assert.match(text, /tracker_blocklist_ranges\{list="bad.txt"\} 2\n/);
  });

  it('gives a UDP connect from a blocked address no connection id, and one from another address one', async () => {
    assert.equal(await udpFrom('127.0.0.2', tracker.udpPort, connectPacket(7)), null);
    assert.equal(await udpFrom('::1', tracker.udpPort, connectPacket(7)), null, 'IPv6 too');
    const reply = await udpFrom('127.0.0.3', tracker.udpPort, connectPacket(7));
    assert.ok(reply, 'an unblocked address is answered');
    assert.equal(reply.length, 16);
    const text = await metricsText(tracker);
    assert.match(text, /tracker_blocklist_refusals_total\{list="bad.txt",protocol="udp"\} 1\n/);
    assert.match(text, /tracker_blocklist_refusals_total\{list="other.p2p",protocol="udp"\} 1\n/);
  });

  it('closes a WebSocket from a blocked address with 1008 and the reason', async () => {
    const client = await WsClient.open(`ws://127.0.0.1:${tracker.port}/announce`, {}, '127.0.0.2');
    assert.deepEqual(await client.closed, { code: 1008, reason: BLOCKED('bad.txt') });
    assert.match(await metricsText(tracker), /tracker_blocklist_refusals_total\{list="bad.txt",protocol="webtorrent"\} 1\n/);
  });

  it('picks up a changed file without a restart, closes the sockets it now blocks, and keeps the list when a change is broken', async () => {
    const hash = randomHash();
    assert.equal(failure(await announceFrom(tracker, '127.0.0.4', hash, 7101)), undefined);
    const seen = decode((await httpGet('127.0.0.1', tracker.port, announcePath({ infoHash: hash, port: 7102 }))).body);
    assert.deepEqual(peerList(seen.peers, 4), ['127.0.0.4:7101']);
    const socket = await WsClient.open(`ws://127.0.0.1:${tracker.port}/announce`, {}, '127.0.0.4');
    assert.ok(isAnnounceReply(await socket.request(announce(binaryId(), binaryId()), isAnnounceReply)));

    await writeFile(bad, '127.0.0.2\n127.0.0.4\n');
    await waitUntil('the changed list', async () => failure(await announceFrom(tracker, '127.0.0.4', hash, 7101)) === BLOCKED('bad.txt'));
    const timeout = new Promise((resolve) => setTimeout(() => resolve('still open after 2 s'), 2000).unref());
    assert.deepEqual(await Promise.race([socket.closed, timeout]), { code: 1008, reason: BLOCKED('bad.txt') });
    assert.equal(failure(await announceFrom(tracker, '127.0.0.2', hash, 7103)), BLOCKED('bad.txt'));
    // Without blocklist.peers, a peer already in the swarm is still handed out (until it expires).
    const again = decode((await httpGet('127.0.0.1', tracker.port, announcePath({ infoHash: hash, port: 7102 }))).body);
    assert.deepEqual(peerList(again.peers, 4), ['127.0.0.4:7101']);

    // A change that leaves nothing readable: the previous list stays in force.
    await writeFile(bad, 'this is not a blocklist\n');
    await waitUntil('the failed reload', async () => /tracker_blocklist_reloads_total\{list="bad.txt",result="failed"\} 1\n/.test(await metricsText(tracker)));
    assert.equal(failure(await announceFrom(tracker, '127.0.0.4', hash, 7101)), BLOCKED('bad.txt'));
    assert.match(await metricsText(tracker), /tracker_blocklist_reloads_total\{list="bad.txt",result="ok"\} 1\n/);

    // Emptied (comments only): nothing is blocked any more.
    await writeFile(bad, '# nothing\n');
    await waitUntil('the emptied list', async () => failure(await announceFrom(tracker, '127.0.0.4', hash, 7101)) === undefined);
    assert.equal(failure(await announceFrom(tracker, '127.0.0.2', hash, 7103)), undefined);
  });
});

describe('blocklist.peers', () => {
  let dir: string;
  let tracker: TestTracker;
  let list: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-blocklist-'));
    list = join(dir, 'peers.txt');
    await writeFile(list, '127.0.0.2\n');
    tracker = await startTracker({
      metrics: { addr: '127.0.0.1:0' },
      allow_ip_spoofing: true,
      blocklist: { files: [list], peers: true, check_interval: 0.05 },
    });
  });
  after(async () => {
    await tracker.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses an announce that claims a blocked address', async () => {
    const hash = randomHash();
    const claimed = await announceFrom(tracker, '127.0.0.1', hash, 7201, 'ip=127.0.0.2');
    assert.equal(failure(claimed), BLOCKED('peers.txt'));
    const scrape = decode((await tracker.get(scrapePath([hash]))).body);
    assert.equal(scrape.files[decodedKey(hash)]?.complete ?? 0, 0);
  });

  it('leaves a peer whose address became blocked out of peer lists, though it is still in the swarm', async () => {
    const hash = randomHash();
    await announceFrom(tracker, '127.0.0.5', hash, 7301);
    await announceFrom(tracker, '127.0.0.6', hash, 7302);
    const before = decode((await tracker.get(announcePath({ infoHash: hash, port: 7303 }))).body);
    assert.deepEqual(peerList(before.peers, 4).sort(), ['127.0.0.5:7301', '127.0.0.6:7302']);

    await writeFile(list, '127.0.0.2\n127.0.0.5\n');
    await waitUntil('the changed list', async () => failure(await announceFrom(tracker, '127.0.0.5', hash, 7301)) === BLOCKED('peers.txt'));
    for (const compact of [1, 0] as const) {
      const answer = decode((await tracker.get(announcePath({ infoHash: hash, port: 7303, compact }))).body);
      assert.equal(answer.complete, 2, 'the blocked peer is still in the swarm');
      const peers = compact ? peerList(answer.peers, 4) : answer.peers.map((p: any) => `${text(p.ip)}:${p.port}`);
      assert.deepEqual(peers, ['127.0.0.6:7302'], `compact=${compact}`);
    }
    assert.match(await metricsText(tracker), /tracker_blocklist_peers_withheld_total\{list="peers.txt"\} 2\n/);
  });
});
