import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClientError } from '../../../src/bittorrent/errors.js';
import { parseAnnounce, parseScrape, percentDecode } from '../../../src/frontend/http/parser.js';
import { escapeBytes } from '../../helpers/http.js';

const hash = Buffer.from(Array.from({ length: 20 }, (_, i) => (i * 13 + 250) % 256));
const id = Buffer.from('-qB4650-abcdefghij+/');
const base = `info_hash=${escapeBytes(hash)}&peer_id=${escapeBytes(id)}&port=6881&uploaded=1&downloaded=2&left=3`;

describe('HTTP query parser', () => {
  it('decodes percent escapes to raw bytes, binary-safe', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const text = escapeBytes(all);
    assert.ok(percentDecode(text, 0, text.length)!.equals(all));
    assert.equal(percentDecode('a+b%2B', 0, 6)!.toString('latin1'), 'a+b+', '+ is a literal plus');
    assert.equal(percentDecode('%zz', 0, 3), null);
    assert.equal(percentDecode('%4', 0, 2), null);
    assert.equal(percentDecode('\u0100', 0, 1), null);
  });

  it('parses a full announce', () => {
    const r = parseAnnounce(`${base}&event=started&numwant=30&compact=1&no_peer_id=1&key=abc&ip=1.2.3.4&ipv6=%5B2001%3Adb8%3A%3A1%5D%3A6881`);
    assert.ok(r.infoHash.equals(hash));
    assert.ok(r.peerId.equals(id));
    assert.deepEqual([r.port, r.uploaded, r.downloaded, r.left, r.event, r.numwant, r.compact, r.noPeerId], [6881, 1, 2, 3, 'started', 30, true, true]);
    assert.deepEqual([...r.claimedIp!], [1, 2, 3, 4]);
    assert.equal(r.claimedIpv6!.toString('hex'), '20010db8000000000000000000000001');
  });

  it('accepts unescaped printable bytes in binary values', () => {
    const r = parseAnnounce(`info_hash=aaaaaaaaaaaaaaaaaaa%41&peer_id=${'b'.repeat(20)}&port=1&uploaded=0&downloaded=0&left=0`);
    assert.equal(r.infoHash.toString('latin1'), 'aaaaaaaaaaaaaaaaaaaA');
  });

  it('defaults: compact unless compact=0, event none, numwant from the tracker', () => {
    const r = parseAnnounce(base);
    assert.deepEqual([r.compact, r.event, r.numwant, r.noPeerId], [true, 'none', undefined, false]);
    assert.equal(parseAnnounce(`${base}&compact=0`).compact, false);
    assert.equal(parseAnnounce(`${base}&event=paused`).event, 'none');
    assert.equal(parseAnnounce(`${base}&event=`).event, 'none');
    assert.equal(parseAnnounce(`${base}&numwant=-1`).numwant, undefined);
    assert.equal(parseAnnounce(`${base}&numwant=0`).numwant, 0);
  });

  it('takes the first of repeated keys', () => {
    assert.equal(parseAnnounce(`${base}&port=7000`).port, 6881);
  });

  it('ignores claimed addresses that are not addresses', () => {
    assert.equal(parseAnnounce(`${base}&ip=example.com`).claimedIp, undefined);
  });

  it('rejects with a reason naming the problem', () => {
    const cases: Array<[string, RegExp]> = [
      ['', /missing info_hash/],
      [base.replace(/port=6881/, 'port=0'), /invalid port/],
      [base.replace(/left=3/, 'left=-3'), /invalid left/],
      [`${base}&event=bogus`, /unknown event/],
      [`${base}&numwant=lots`, /invalid numwant/],
    ];
    for (const [query, reason] of cases)
      assert.throws(
        () => parseAnnounce(query),
        (e: unknown) => e instanceof ClientError && reason.test(e.message),
        query,
      );
  });

  it('parses scrapes, drops duplicate hashes, and caps their number before decoding', () => {
    const other = Buffer.alloc(20, 7);
    const q = `info_hash=${escapeBytes(hash)}&info_hash=${escapeBytes(other)}&info_hash=${escapeBytes(hash)}`;
    assert.deepEqual(
      parseScrape(q, 10).map((h) => h.toString('hex')),
      [hash.toString('hex'), other.toString('hex')],
    );
    assert.throws(() => parseScrape(q, 2), /too many info_hash/);
    assert.throws(() => parseScrape('info_hash=abc', 2), /invalid info_hash: must be 20 bytes, got 3/);
    assert.deepEqual(parseScrape('', 2), []);
  });
});
