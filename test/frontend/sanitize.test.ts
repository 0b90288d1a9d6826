/** The request sanitation every frontend shares: field checks, event names, failure mapping, the request metric. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClientError } from '../../src/bittorrent/errors.js';
import type { TrackerMetrics } from '../../src/metrics/metrics.js';
import { parseAnnounce } from '../../src/frontend/http/parser.js';
import {
  checkAnnounce,
  checkCount,
  checkLength,
  checkNumwant,
  checkPort,
  countRequest,
  eventOfName,
  failureOutcome,
  failureReason,
  MAX_NUMWANT,
  socketFamily,
  UNAVAILABLE,
  unknownEvent,
  type DecodedAnnounce,
} from '../../src/frontend/sanitize.js';

/** The exact message `run` refuses with (a ClientError), or null when it passes. */
function refusal(run: () => unknown): string | null {
  try {
    run();
    return null;
  } catch (error) {
    assert.ok(error instanceof ClientError, `not a ClientError: ${String(error)}`);
    return error.message;
  }
}

const good = (): DecodedAnnounce => ({
  infoHash: Buffer.alloc(20, 1),
  peerId: Buffer.alloc(20, 2),
  port: 6881,
  uploaded: 0,
  downloaded: 0,
  left: 0,
  numwant: undefined,
});

describe('shared field checks', () => {
  it('info_hash and peer_id lengths', () => {
    assert.equal(
      refusal(() => checkLength('info_hash', Buffer.alloc(20), 20)),
      null,
    );
    assert.equal(
      refusal(() => checkLength('info_hash', Buffer.alloc(3), 20)),
      'invalid info_hash: must be 20 bytes, got 3',
    );
    assert.equal(
      refusal(() => checkLength('peer_id', Buffer.alloc(21), 20)),
      'invalid peer_id: must be 20 bytes, got 21',
    );
    assert.equal(
      refusal(() => checkLength('peer_id', Buffer.alloc(0), 20)),
      'invalid peer_id: must be 20 bytes, got 0',
    );
  });

  it('port: 1-65535, integers only', () => {
    for (const port of [1, 6881, 65535])
      assert.equal(
        refusal(() => checkPort(port)),
        null,
        String(port),
      );
    for (const port of [0, -1, 65536, NaN, 1.5, Infinity])
      assert.equal(
        refusal(() => checkPort(port)),
        'invalid port: must be 1-65535',
        String(port),
      );
  });

  it('uploaded, downloaded, left: 0 to 2^53-1, naming the field', () => {
    for (const value of [0, 1, Number.MAX_SAFE_INTEGER])
      assert.equal(
        refusal(() => checkCount('left', value)),
        null,
        String(value),
      );
    assert.equal(
      refusal(() => checkCount('uploaded', -1)),
      'invalid uploaded: must be from 0 to 2^53-1',
    );
    assert.equal(
      refusal(() => checkCount('downloaded', Number.MAX_SAFE_INTEGER + 1)),
      'invalid downloaded: must be from 0 to 2^53-1',
    );
    assert.equal(
      refusal(() => checkCount('left', NaN)),
      'invalid left: must be from 0 to 2^53-1',
    );
    assert.equal(
      refusal(() => checkCount('left', 0.5)),
      'invalid left: must be from 0 to 2^53-1',
    );
  });

  it('numwant: absent, or 0 to 2^31-1', () => {
    for (const n of [undefined, 0, 50, MAX_NUMWANT])
      assert.equal(
        refusal(() => checkNumwant(n)),
        null,
        String(n),
      );
    for (const n of [-1, -7, NaN, 2.5, MAX_NUMWANT + 1])
      assert.equal(
        refusal(() => checkNumwant(n)),
        'invalid numwant: must be a non-negative integer',
        String(n),
      );
  });

  it('event names: BEP 3 names, empty and paused are none, anything else named in the refusal', () => {
    assert.deepEqual([undefined, '', 'empty', 'paused', 'started', 'completed', 'stopped'].map(eventOfName), [
      'none',
      'none',
      'none',
      'none',
      'started',
      'completed',
      'stopped',
    ]);
    assert.equal(
      refusal(() => eventOfName('finished')),
      'unknown event "finished"',
    );
    assert.equal(
      refusal(() => eventOfName('Started')),
      'unknown event "Started"',
    );
    // Names an object literal would also hold are not events.
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty'])
      assert.equal(
        refusal(() => eventOfName(name)),
        `unknown event "${name}"`,
      );
    assert.equal(unknownEvent(7).message, 'unknown event 7', 'a BEP 15 code as is');
    assert.ok(unknownEvent('x') instanceof ClientError);
  });

  it('checkAnnounce runs every check, in a fixed order', () => {
    assert.equal(
      refusal(() => checkAnnounce(good())),
      null,
    );
    const cases: Array<[Partial<DecodedAnnounce>, string]> = [
      [{ infoHash: Buffer.alloc(19) }, 'invalid info_hash: must be 20 bytes, got 19'],
      [{ peerId: Buffer.alloc(1) }, 'invalid peer_id: must be 20 bytes, got 1'],
      [{ port: 0 }, 'invalid port: must be 1-65535'],
      [{ numwant: -1 }, 'invalid numwant: must be a non-negative integer'],
      [{ uploaded: -1 }, 'invalid uploaded: must be from 0 to 2^53-1'],
      [{ downloaded: NaN }, 'invalid downloaded: must be from 0 to 2^53-1'],
      [{ left: 2 ** 60 }, 'invalid left: must be from 0 to 2^53-1'],
      [{ port: 0, left: -1 }, 'invalid port: must be 1-65535'],
      [{ peerId: Buffer.alloc(1), port: 0 }, 'invalid peer_id: must be 20 bytes, got 1'],
      [{ numwant: NaN, uploaded: -1 }, 'invalid numwant: must be a non-negative integer'],
      [{ downloaded: -1, uploaded: -1 }, 'invalid uploaded: must be from 0 to 2^53-1'],
    ];
    for (const [change, message] of cases)
      assert.equal(
        refusal(() => checkAnnounce({ ...good(), ...change })),
        message,
        JSON.stringify(change),
      );
  });

  it('the HTTP parser refuses with the shared wording', () => {
    const base = `info_hash=${'a'.repeat(20)}&peer_id=${'b'.repeat(20)}&port=6881&uploaded=1&downloaded=2&left=3`;
    assert.equal(
      refusal(() => parseAnnounce(base.replace('left=3', 'left=-3'))),
      'invalid left: must be from 0 to 2^53-1',
    );
    assert.equal(
      refusal(() => parseAnnounce(base.replace('uploaded=1', 'uploaded=99999999999999999'))),
      'invalid uploaded: must be from 0 to 2^53-1',
    );
    assert.equal(
      refusal(() => parseAnnounce(base.replace('downloaded=2', 'downloaded=1.5'))),
      'invalid downloaded: must be from 0 to 2^53-1',
    );
    assert.equal(
      refusal(() => parseAnnounce(base.replace('port=6881', 'port=0x1A'))),
      'invalid port: must be 1-65535',
    );
    assert.equal(
      refusal(() => parseAnnounce(`${base}&numwant=1000000000`)),
      'invalid numwant: must be a non-negative integer',
    );
    assert.equal(
      refusal(() => parseAnnounce(`${base}&event=constructor`)),
      'unknown event "constructor"',
    );
    assert.equal(
      refusal(() => parseAnnounce(base.replace('peer_id=bbbbb', 'peer_id=bbbb'))),
      'invalid peer_id: must be 20 bytes, got 19',
    );
    assert.equal(parseAnnounce(`${base}&numwant=999999999`).numwant, 999_999_999);
  });
});

describe('shared failure mapping', () => {
  it('a ClientError: its own message, the client is at fault, nothing logged', () => {
    const logged: unknown[] = [];
    const error = new ClientError('unregistered torrent');
    assert.equal(
      failureReason(error, (e) => logged.push(e)),
      'unregistered torrent',
    );
    assert.equal(failureOutcome(error), 'client_error');
    assert.deepEqual(logged, []);
  });

  it('anything else: logged, hidden behind "temporarily unavailable", the tracker at fault', () => {
    const logged: unknown[] = [];
    for (const error of [new Error('ECONNREFUSED 127.0.0.1:6379'), new TypeError('x is undefined'), 'a string', undefined]) {
      assert.equal(
        failureReason(error, (e) => logged.push(e)),
        'tracker is temporarily unavailable, try again later',
      );
      assert.equal(failureOutcome(error), 'server_error');
    }
    assert.equal(logged.length, 4);
    assert.equal((logged[0] as Error).message, 'ECONNREFUSED 127.0.0.1:6379');
    assert.equal(UNAVAILABLE, 'tracker is temporarily unavailable, try again later');
  });
});

describe('shared request metric', () => {
  it('the family of a socket address: IPv4-mapped IPv6 is IPv4', () => {
    assert.deepEqual(['127.0.0.1', '::ffff:10.0.0.1', '::1', '2001:db8::1', undefined, ''].map(socketFamily), [4, 4, 6, 6, 4, 4]);
  });

  it('counts protocol, action, family, outcome and the seconds since started; nothing without metrics', () => {
    const calls: unknown[][] = [];
    const metrics = { request: (...args: unknown[]) => calls.push(args) } as unknown as TrackerMetrics;
    const started = performance.now() - 250;
    countRequest(metrics, 'udp', 'announce', 6, 'client_error', started);
    assert.equal(calls.length, 1);
    const [protocol, action, family, outcome, seconds] = calls[0]!;
    assert.deepEqual([protocol, action, family, outcome], ['udp', 'announce', 6, 'client_error']);
    assert.ok(typeof seconds === 'number' && seconds >= 0.25 && seconds < 5, String(seconds));
    countRequest(undefined, 'http', 'scrape', 4, 'ok', started);
    assert.equal(calls.length, 1);
  });
});
