/** Malformed requests: each gets HTTP 200 with a bencoded failure reason naming the problem, and changes nothing. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decode, decodedKey, escapeBytes, scrapePath, text } from '../../helpers/http.js';
import { startTracker, type TestTracker } from '../../helpers/tracker.js';

const hash = Buffer.from('00112233445566778899aabbccddeeff00112233', 'hex');
const ih = `info_hash=${escapeBytes(hash)}`;
const pid = `peer_id=${'p'.repeat(20)}`;
const rest = 'port=6881&uploaded=0&downloaded=0&left=10';
const ok = `${ih}&${pid}&${rest}`;

const CASES: Array<[string, string, RegExp]> = [
  ['no query at all', '/announce', /missing info_hash/],
  ['missing info_hash', `/announce?${pid}&${rest}`, /missing info_hash/],
  ['short info_hash', `/announce?info_hash=abc&${pid}&${rest}`, /invalid info_hash: must be 20 bytes, got 3/],
  ['long info_hash', `/announce?info_hash=${'a'.repeat(21)}&${pid}&${rest}`, /invalid info_hash: must be 20 bytes, got 21/],
  ['empty info_hash', `/announce?info_hash=&${pid}&${rest}`, /invalid info_hash/],
  ['bad escape in info_hash', `/announce?info_hash=%zz${'a'.repeat(19)}&${pid}&${rest}`, /malformed percent-encoding in info_hash/],
  ['truncated escape', `/announce?${pid}&${rest}&info_hash=${'a'.repeat(19)}%4`, /malformed percent-encoding in info_hash/],
  ['missing peer_id', `/announce?${ih}&${rest}`, /missing peer_id/],
  ['short peer_id', `/announce?${ih}&peer_id=abc&${rest}`, /invalid peer_id: must be 20 bytes/],
  ['missing port', `/announce?${ih}&${pid}&uploaded=0&downloaded=0&left=1`, /missing port/],
  ['port 0', `/announce?${ih}&${pid}&port=0&uploaded=0&downloaded=0&left=1`, /invalid port/],
  ['port 65536', `/announce?${ih}&${pid}&port=65536&uploaded=0&downloaded=0&left=1`, /invalid port/],
  ['negative port', `/announce?${ih}&${pid}&port=-1&uploaded=0&downloaded=0&left=1`, /invalid port/],
  ['port in hex', `/announce?${ih}&${pid}&port=0x1A&uploaded=0&downloaded=0&left=1`, /invalid port/],
  ['missing uploaded', `/announce?${ih}&${pid}&port=1&downloaded=0&left=1`, /missing uploaded/],
  ['missing downloaded', `/announce?${ih}&${pid}&port=1&uploaded=0&left=1`, /missing downloaded/],
  ['missing left', `/announce?${ih}&${pid}&port=1&uploaded=0&downloaded=0`, /missing left/],
  ['negative left', `/announce?${ih}&${pid}&port=1&uploaded=0&downloaded=0&left=-1`, /invalid left/],
  ['non-numeric uploaded', `/announce?${ih}&${pid}&port=1&uploaded=lots&downloaded=0&left=1`, /invalid uploaded/],
  ['negative downloaded', `/announce?${ih}&${pid}&port=1&uploaded=0&downloaded=-5&left=1`, /invalid downloaded/],
  ['fractional left', `/announce?${ih}&${pid}&port=1&uploaded=0&downloaded=0&left=1.5`, /invalid left/],
  ['huge uploaded', `/announce?${ih}&${pid}&port=1&uploaded=99999999999999999999&downloaded=0&left=1`, /invalid uploaded/],
  ['unknown event', `/announce?${ok}&event=finished`, /unknown event "finished"/],
  ['non-numeric numwant', `/announce?${ok}&numwant=all`, /invalid numwant/],
  ['negative numwant', `/announce?${ok}&numwant=-7`, /invalid numwant/],
  ['over-long query string', `/announce?${ok}&pad=${'x'.repeat(9000)}`, /query string too long/],
  ['scrape: short hash', '/scrape?info_hash=abc', /invalid info_hash: must be 20 bytes, got 3/],
  ['scrape: bad escape', `/scrape?info_hash=%g0${'a'.repeat(18)}`, /malformed percent-encoding/],
  ['scrape: too many hashes', scrapePath(Array.from({ length: 75 }, (_, i) => Buffer.alloc(20, i))), /too many info_hash/],
  ['scrape: no hash (full scrape off)', '/scrape', /full scrape is not allowed/],
  ['scrape: over-long query', `/scrape?${ih}&pad=${'x'.repeat(9000)}`, /query string too long/],
];

describe('malformed requests', () => {
  let t: TestTracker;
  before(async () => {
    t = await startTracker();
  });
  after(() => t.close());

  it(`has at least 25 cases (${CASES.length})`, () => {
    assert.ok(CASES.length >= 25);
  });

  for (const [name, path, reason] of CASES) {
    it(`${name}: HTTP 200 and a failure reason`, async () => {
      for (const host of ['127.0.0.1', '::1']) {
        const reply = await t.get(path, {}, host);
        assert.equal(reply.status, 200);
        const d = decode(reply.body);
        assert.match(text(d['failure reason']), reason);
        assert.equal(d.peers, undefined);
      }
    });
  }

  it('left no trace: the swarm is still empty and the tracker still answers', async () => {
    const s = decode((await t.get(scrapePath([hash]))).body);
    assert.deepEqual(s.files[decodedKey(hash)], { complete: 0, downloaded: 0, incomplete: 0 });
    const d = decode((await t.get(`/announce?${ok}`)).body);
    assert.equal(d.incomplete, 1);
  });
});
