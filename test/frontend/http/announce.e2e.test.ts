/** End to end over real sockets on 127.0.0.1 and ::1: every announce and scrape rule a client sees. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { announcePath, decode, decodedKey, peerList, randomHash, randomPeerId, scrapePath, text } from '../../helpers/http.js';
import { startTracker, type TestTracker } from '../../helpers/tracker.js';

const V4 = '127.0.0.1';
const V6 = '::1';

describe('HTTP announce and scrape, end to end', () => {
  let t: TestTracker;
  before(async () => {
    t = await startTracker({ announce_interval: 1800, interval_jitter: 60, min_announce_interval: 600 });
  });
  after(() => t.close());

  it('answers a compact announce over IPv4 with intervals and counts', async () => {
    const hash = randomHash();
    const reply = await t.get(announcePath({ infoHash: hash, port: 7001, event: 'started' }));
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['content-type'], 'text/plain');
    const d = decode(reply.body);
    assert.equal(d['failure reason'], undefined);
    assert.ok(d.interval >= 1800 && d.interval <= 1860, `interval with jitter: ${d.interval}`);
    assert.equal(d['min interval'], 600);
    assert.deepEqual([d.complete, d.incomplete, d.downloaded], [0, 1, 0]);
    assert.equal(Buffer.from(d.peers).length, 0);
    const second = decode((await t.get(announcePath({ infoHash: hash, port: 7002 }))).body);
    assert.deepEqual(peerList(second.peers, 4), ['127.0.0.1:7001'], 'IPv4-mapped socket addresses count as IPv4');
  });

  it('jitters the interval', async () => {
    const hash = randomHash();
    const intervals = new Set<number>();
    for (let i = 0; i < 20; i++) intervals.add(decode((await t.get(announcePath({ infoHash: hash }))).body).interval);
    assert.ok(intervals.size > 1, 'not every client is told the same interval');
  });

  it('answers IPv6 announcers with peers6 and keeps the families apart', async () => {
    const hash = randomHash();
    await t.get(announcePath({ infoHash: hash, port: 7101 }), {}, V4);
    await t.get(announcePath({ infoHash: hash, port: 7102 }), {}, V6);
    const d = decode((await t.get(announcePath({ infoHash: hash, port: 7103 }), {}, V6)).body);
    assert.deepEqual(peerList(d.peers6, 6), ['[0:0:0:0:0:0:0:1]:7102']);
    assert.equal(Buffer.from(d.peers).length, 0, 'respect_af: no IPv4 peers for an IPv6-only announcer');
    assert.deepEqual([d.complete, d.incomplete], [0, 3]);
    const d4 = decode((await t.get(announcePath({ infoHash: hash, port: 7104 }))).body);
    assert.deepEqual(peerList(d4.peers, 4), ['127.0.0.1:7101']);
    assert.equal(d4.peers6, undefined);
  });

  it('ignores ip, ipv4 and ipv6 parameters without allow_ip_spoofing', async () => {
    const hash = randomHash();
    await t.get(announcePath({ infoHash: hash, port: 7201, extra: 'ip=203.0.113.1&ipv6=2001%3Adb8%3A%3A1' }));
    const d = decode((await t.get(announcePath({ infoHash: hash, port: 7202 }))).body);
    assert.deepEqual(peerList(d.peers, 4), ['127.0.0.1:7201']);
    const d6 = decode((await t.get(announcePath({ infoHash: hash, port: 7203 }), {}, V6)).body);
    assert.equal(Buffer.from(d6.peers6 ?? []).length, 0);
  });

  it('gives a seeder leechers only and a leecher seeders first', async () => {
    const hash = randomHash();
    await t.get(announcePath({ infoHash: hash, port: 7301, left: 0 }));
    await t.get(announcePath({ infoHash: hash, port: 7302, left: 0 }));
    for (let p = 7310; p < 7320; p++) await t.get(announcePath({ infoHash: hash, port: p, left: 10 }));
    const seeder = decode((await t.get(announcePath({ infoHash: hash, port: 7301, left: 0 }))).body);
    const seederPeers = peerList(seeder.peers, 4);
    assert.equal(seederPeers.length, 10);
    assert.ok(!seederPeers.includes('127.0.0.1:7302') && !seederPeers.includes('127.0.0.1:7301'));
    const leecher = decode((await t.get(announcePath({ infoHash: hash, port: 7310, numwant: 4 }))).body);
    const got = peerList(leecher.peers, 4);
    assert.equal(got.length, 4);
    assert.deepEqual(got.slice(0, 2).sort(), ['127.0.0.1:7301', '127.0.0.1:7302']);
    assert.ok(!got.includes('127.0.0.1:7310'));
  });

  it('counts a snatch on completed, moves on left=0 without one, and stopped removes and returns nothing', async () => {
    const hash = randomHash();
    const a = randomPeerId();
    await t.get(announcePath({ infoHash: hash, peerId: a, port: 7401, event: 'started', left: 5 }));
    let d = decode((await t.get(announcePath({ infoHash: hash, peerId: a, port: 7401, event: 'completed', left: 0 }))).body);
    assert.deepEqual([d.complete, d.incomplete, d.downloaded], [1, 0, 1]);
    d = decode((await t.get(announcePath({ infoHash: hash, port: 7402, left: 0 }))).body);
    assert.deepEqual([d.complete, d.incomplete, d.downloaded], [2, 0, 1]);
    await t.get(announcePath({ infoHash: hash, port: 7403, left: 9 }));
    d = decode((await t.get(announcePath({ infoHash: hash, peerId: a, port: 7401, event: 'stopped', left: 0 }))).body);
    assert.equal(Buffer.from(d.peers).length, 0, 'stopped gets no peers');
    assert.deepEqual([d.complete, d.incomplete, d.downloaded], [1, 1, 1]);
    const s = decode((await t.get(scrapePath([hash]))).body);
    assert.deepEqual(s.files[decodedKey(hash)], { complete: 1, downloaded: 1, incomplete: 1 });
  });

  it('answers non-compact requests with peer dicts, with or without peer ids', async () => {
    const hash = randomHash();
    const id = Buffer.from('-LT2080-abcdefghijkl');
    await t.get(announcePath({ infoHash: hash, peerId: id, port: 7501 }));
    await t.get(announcePath({ infoHash: hash, port: 7502 }), {}, V6);
    const d = decode((await t.get(announcePath({ infoHash: hash, port: 7503, compact: 0 }))).body);
    assert.equal(d.peers.length, 1);
    assert.equal(text(d.peers[0].ip), '127.0.0.1');
    assert.equal(d.peers[0].port, 7501);
    assert.equal(text(d.peers[0]['peer id']), id.toString());
    const bare = decode((await t.get(announcePath({ infoHash: hash, port: 7503, compact: 0, noPeerId: 1 }))).body);
    assert.equal(bare.peers[0]['peer id'], undefined);
    const v6 = decode((await t.get(announcePath({ infoHash: hash, port: 7504, compact: 0 }), {}, V6)).body);
    assert.deepEqual(
      v6.peers.map((p: { ip: Uint8Array; port: number }) => `${text(p.ip)}:${p.port}`),
      ['::1:7502'],
    );
  });

  it('caps numwant at max_numwant and honours numwant=0', async () => {
    const hash = randomHash();
    for (let p = 8000; p < 8210; p++) await t.get(announcePath({ infoHash: hash, port: p, numwant: 0 }));
    const big = decode((await t.get(announcePath({ infoHash: hash, port: 9000, numwant: 500 }))).body);
    assert.equal(peerList(big.peers, 4).length, 200);
    const dflt = decode((await t.get(announcePath({ infoHash: hash, port: 9000 }))).body);
    assert.equal(peerList(dflt.peers, 4).length, 50, 'default_numwant');
    const zero = decode((await t.get(announcePath({ infoHash: hash, port: 9000, numwant: 0 }))).body);
    assert.equal(peerList(zero.peers, 4).length, 0);
  });

  it('decodes binary info hashes byte for byte, "+" included', async () => {
    const hash = Buffer.from('2b2b2b00ff20253d26ff2b2b2b00ff20253d26ff', 'hex');
    const raw = `info_hash=+++%00%ff%20%25%3d%26%ff+++%00%ff%20%25%3d%26%ff&peer_id=${'x'.repeat(20)}&port=7601&uploaded=0&downloaded=0&left=1`;
    await t.get(`/announce?${raw}`);
    const s = decode((await t.get(scrapePath([hash]))).body);
    assert.deepEqual(s.files[decodedKey(hash)], { complete: 0, downloaded: 0, incomplete: 1 });
  });

  it('scrapes several hashes over IPv6, keyed by the raw hash, with min_request_interval', async () => {
    const a = Buffer.alloc(20, 0xfe);
    const b = randomHash();
    await t.get(announcePath({ infoHash: a, port: 7701, left: 0 }), {}, V6);
    await t.get(announcePath({ infoHash: a, port: 7702 }));
    const reply = await t.get(scrapePath([a, b]), {}, V6);
    assert.ok(reply.body.includes(Buffer.concat([Buffer.from('20:'), a])), 'the key is the 20 raw bytes');
    const s = decode(reply.body);
    assert.deepEqual(s.files[decodedKey(a)], { complete: 1, downloaded: 0, incomplete: 1 });
    assert.deepEqual(s.files[decodedKey(b)], { complete: 0, downloaded: 0, incomplete: 0 });
    assert.equal(s.flags.min_request_interval, 600);
  });

  it('refuses a full scrape unless enabled, and too many hashes', async () => {
    const none = decode((await t.get('/scrape')).body);
    assert.match(text(none['failure reason']), /full scrape is not allowed/);
    const many = Array.from({ length: 75 }, () => randomHash());
    const d = decode((await t.get(scrapePath(many))).body);
    assert.match(text(d['failure reason']), /too many info_hash values in one scrape \(at most 74\)/);
    const ok = decode((await t.get(scrapePath(many.slice(0, 74)))).body);
    assert.equal(Object.keys(ok.files).length, 74);
  });

  it('serves health and readiness, and 404 elsewhere', async () => {
    assert.equal((await t.get('/healthz')).status, 200);
    assert.equal((await t.get('/readyz', {}, V6)).status, 200);
    assert.equal((await t.get('/announce/extra')).status, 404);
    assert.equal((await t.get('/')).status, 404);
    assert.equal((await t.get('/favicon.ico')).status, 404);
  });
});

describe('HTTP options', () => {
  it('registers both families with allow_ip_spoofing (BEP 7 dual stack)', async () => {
    const t = await startTracker({ allow_ip_spoofing: true });
    try {
      const hash = randomHash();
      await t.get(announcePath({ infoHash: hash, port: 7801, extra: 'ipv6=2001%3Adb8%3A%3A7' }));
      const d6 = decode((await t.get(announcePath({ infoHash: hash, port: 7802 }), {}, V6)).body);
      assert.deepEqual(peerList(d6.peers6, 6), ['[2001:db8:0:0:0:0:0:7]:7801']);
      const d4 = decode((await t.get(announcePath({ infoHash: hash, port: 7803 }))).body);
      assert.deepEqual(peerList(d4.peers, 4), ['127.0.0.1:7801']);
      await t.get(announcePath({ infoHash: hash, port: 7804, extra: 'ip=198.51.100.4' }));
      const again = decode((await t.get(announcePath({ infoHash: hash, port: 7805, numwant: 10 }))).body);
      assert.ok(peerList(again.peers, 4).includes('198.51.100.4:7804'), 'ip= replaces the address of its family');
    } finally {
      await t.close();
    }
  });

  it('returns both families to everyone with respect_af off', async () => {
    const t = await startTracker({ respect_af: false });
    try {
      const hash = randomHash();
      await t.get(announcePath({ infoHash: hash, port: 7901 }), {}, V4);
      await t.get(announcePath({ infoHash: hash, port: 7902 }), {}, V6);
      const d = decode((await t.get(announcePath({ infoHash: hash, port: 7903 }), {}, V6)).body);
      assert.deepEqual(peerList(d.peers6, 6), ['[0:0:0:0:0:0:0:1]:7902']);
      assert.deepEqual(peerList(d.peers, 4), ['127.0.0.1:7901']);
    } finally {
      await t.close();
    }
  });

  it('answers a full scrape when enabled', async () => {
    const t = await startTracker({ allow_full_scrape: true });
    try {
      const a = randomHash();
      const b = randomHash();
      await t.get(announcePath({ infoHash: a }));
      await t.get(announcePath({ infoHash: b, left: 0 }));
      const s = decode((await t.get('/scrape')).body);
      assert.deepEqual(Object.keys(s.files).sort(), [decodedKey(a), decodedKey(b)].sort());
    } finally {
      await t.close();
    }
  });

  it('puts same-subnet peers first with preferred_subnet', async () => {
    const t = await startTracker({ allow_ip_spoofing: true, preferred_subnet: true, preferred_ipv4_subnet: 24 });
    try {
      const hash = randomHash();
      for (let i = 1; i <= 3; i++) await t.get(announcePath({ infoHash: hash, port: 6000 + i, extra: `ip=192.0.2.${i}` }));
      for (let i = 1; i <= 9; i++) await t.get(announcePath({ infoHash: hash, port: 6100 + i, extra: `ip=198.51.${i}.1` }));
      const d = decode((await t.get(announcePath({ infoHash: hash, port: 6200, numwant: 3, extra: 'ip=192.0.2.200' }))).body);
      assert.deepEqual(peerList(d.peers, 4).sort(), ['192.0.2.1:6001', '192.0.2.2:6002', '192.0.2.3:6003']);
    } finally {
      await t.close();
    }
  });
});
