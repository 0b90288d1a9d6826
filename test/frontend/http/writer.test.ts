import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import bencodePackage from 'bencode';
import { bencode } from '../../../src/frontend/http/bencode.js';
import { writeCompactAnnounce, writeDictAnnounce, writeFailure, writeScrape } from '../../../src/frontend/http/writer.js';
import { decode, text } from '../../helpers/http.js';

const result = {
  interval: 1800,
  minInterval: 900,
  complete: 3,
  incomplete: 4,
  downloaded: 5,
  peers4: Buffer.from('0a0000011ae10a0000021ae2', 'hex'),
  peers6: Buffer.from('20010db80000000000000000000000011ae3', 'hex'),
};

describe('bencode writer', () => {
  it('writes integers, byte strings, lists and dicts with keys sorted as raw bytes', () => {
    assert.equal(bencode(42).toString(), 'i42e');
    assert.equal(bencode(-3).toString(), 'i-3e');
    assert.equal(bencode('spam').toString(), '4:spam');
    assert.equal(bencode('é').toString('latin1'), '2:\xc3\xa9', 'text is UTF-8');
    assert.equal(bencode([1, 'a', []]).toString(), 'li1e1:alee');
    assert.equal(bencode({ zeta: 1, alpha: 2, 'min interval': 3 }).toString(), 'd5:alphai2e12:min intervali3e4:zetai1ee');
    const keys = new Map<string, number>([
      ['\xff\x00', 1],
      ['\x80\x01', 2],
      ['\x09', 3],
      ['\x0a', 4],
    ]);
    assert.deepEqual([...bencode(keys)], [...Buffer.from('d1:\x09i3e1:\x0ai4e2:\x80\x01i2e2:\xff\x00i1ee', 'latin1')]);
  });
});

describe('response writer', () => {
  it('writes the compact announce with peers and peers6', () => {
    const out = writeCompactAnnounce(result);
    const d = decode(out);
    assert.deepEqual([d.complete, d.incomplete, d.downloaded, d.interval, d['min interval']], [3, 4, 5, 1800, 900]);
    assert.ok(Buffer.from(d.peers).equals(result.peers4));
    assert.ok(Buffer.from(d.peers6).equals(result.peers6));
  });

  it('writes peers (even empty) and leaves out an empty peers6', () => {
    const d = decode(writeCompactAnnounce({ ...result, peers4: Buffer.alloc(0), peers6: Buffer.alloc(0) }));
    assert.equal(Buffer.from(d.peers).length, 0);
    assert.equal('peers6' in d, false);
  });

  it('writes non-compact peers as dicts, with peer ids unless asked not to', () => {
    const ids = Buffer.concat([Buffer.alloc(20, 0x41), Buffer.alloc(20, 0)]);
    const d = decode(writeDictAnnounce({ ...result, peerIds4: ids, peerIds6: Buffer.alloc(20, 0x42) }, true));
    assert.equal(d.peers.length, 3);
    assert.equal(text(d.peers[0].ip), '10.0.0.1');
    assert.equal(d.peers[0].port, 6881);
    assert.equal(text(d.peers[0]['peer id']), 'A'.repeat(20));
    assert.equal('peer id' in d.peers[1], false, 'an unknown (all-zero) id is left out');
    assert.equal(text(d.peers[2].ip), '2001:db8::1');
    const bare = decode(writeDictAnnounce({ ...result, peerIds4: ids }, false));
    assert.equal('peer id' in bare.peers[0], false);
  });

  it('writes external ip (BEP 24) with every key in sorted order, on the fast path and the others', () => {
    const v4 = Buffer.from([203, 0, 113, 7]);
    const v6 = Buffer.from('20010db8000000000000000000000099', 'hex');
    const answers = [
      writeCompactAnnounce({ ...result, peers6: Buffer.alloc(0) }, v4),
      writeCompactAnnounce(result, v6),
      writeCompactAnnounce({ ...result, warning: 'not stored' }, v4),
      writeDictAnnounce(result, true, v6),
    ];
    for (const out of answers) {
      const d = decode(out);
      assert.ok(
        [v4, v6].some((ip) => ip.equals(Buffer.from(d['external ip']))),
        out.toString('latin1'),
      );
      // The package writes keys sorted: the same bytes back means ours were sorted too.
      assert.ok(Buffer.from(bencodePackage.encode(d)).equals(out), `keys out of order: ${out.toString('latin1')}`);
    }
    assert.equal('external ip' in decode(writeCompactAnnounce(result)), false, 'left out when not asked for');
  });

  it('writes scrape files keyed by the raw 20-byte hash', () => {
    const hash = Buffer.alloc(20, 0xff);
    const out = writeScrape({ files: [{ infoHash: hash, counts: { complete: 1, incomplete: 2, downloaded: 3 } }], minRequestInterval: 900 });
    assert.ok(out.includes(Buffer.concat([Buffer.from('20:'), hash])));
    const d = decode(out);
    assert.deepEqual(d.files[hash.toString('hex')], { complete: 1, downloaded: 3, incomplete: 2 });
    assert.equal(d.flags.min_request_interval, 900);
  });

  it('writes a failure reason', () => {
    assert.equal(writeFailure('bad port').toString(), 'd14:failure reason8:bad porte');
  });
});
