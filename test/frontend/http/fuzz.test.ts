/** Property: any query string yields a bencoded answer (peers or a failure reason), never an exception. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { ClientError } from '../../../src/bittorrent/errors.js';
import { parseAnnounce, parseScrape } from '../../../src/frontend/http/parser.js';
import { decode, escapeBytes } from '../../helpers/http.js';
import { startTracker, type TestTracker } from '../../helpers/tracker.js';

const KEYS = ['info_hash', 'peer_id', 'port', 'uploaded', 'downloaded', 'left', 'event', 'numwant', 'compact', 'no_peer_id', 'ip', 'ipv4', 'ipv6', 'key', 'x'];

const value = fc.oneof(
  fc.uint8Array({ minLength: 0, maxLength: 24 }).map((b) => escapeBytes(b)),
  fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => escapeBytes(b)),
  fc.integer({ min: -70000, max: 70000 }).map(String),
  fc.constantFrom('started', 'completed', 'stopped', 'paused', '', '0', '1', '-1', '%', '%4', '%zz', '::1', '1.2.3.4', '[::1]:80', '+', '='),
  fc.string({ maxLength: 30 }).map((s) => encodeURIComponent(s)),
);
const pair = fc.tuple(fc.constantFrom(...KEYS), value).map(([k, v]) => `${k}=${v}`);
const query = fc.oneof(
  fc.array(pair, { maxLength: 14 }).map((pairs) => pairs.join('&')),
  fc.string({ maxLength: 200 }).map((s) => encodeURI(s)),
  fc.string({ unit: 'binary-ascii', maxLength: 200 }).map((s) => s.replace(/[^\x21-\x7e]/g, (c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0'))),
);

describe('random query strings', () => {
  let t: TestTracker;
  before(async () => {
    t = await startTracker();
  });
  after(() => t.close());

  it('the parsers only ever throw ClientError', () => {
    fc.assert(
      fc.property(fc.oneof(query, fc.string({ maxLength: 300 })), (q) => {
        for (const parse of [() => parseAnnounce(q), () => parseScrape(q, 74)]) {
          try {
            parse();
          } catch (error) {
            if (!(error instanceof ClientError)) throw error;
          }
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('the tracker answers every one over HTTP with a bencoded dict', async () => {
    await fc.assert(
      fc.asyncProperty(query, fc.constantFrom('/announce', '/scrape'), async (q, path) => {
        const reply = await t.get(`${path}?${q}`);
        assert.equal(reply.status, 200);
        const d = decode(reply.body);
        assert.ok('failure reason' in d || 'interval' in d || 'files' in d, reply.body.toString('latin1'));
      }),
      { numRuns: 400 },
    );
    assert.equal((await t.get('/healthz')).status, 200, 'still alive');
  });
});
