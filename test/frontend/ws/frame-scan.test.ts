/**
 * Frames read around their SDPs (frame-scan.ts): for any way a client may write a frame (whitespace,
 * escapes in strings and keys, repeated keys, decoy "sdp" members around), the SDP relayed is the very
 * string JSON.parse gives; a frame broken anywhere (inside an SDP too) is refused exactly as a whole
 * parse refuses it; and a plain frame's SDPs are relayed as its own bytes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { skeletonOf } from '../../../src/frontend/ws/frame-scan.js';
import { parseMessage, type WsAnnounce, type WsAnswer, type WsRequest } from '../../../src/frontend/ws/messages.js';

/** A small seeded generator (mulberry32): the same cases every run. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rnd = random(13);
const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)]!;
const space = (): string => (rnd() < 0.6 ? '' : pick([' ', '\n', '\r\n\t', '  ']));

/** A JSON string token for s, some characters written as \u escapes or \/ (all read back as s). */
function str(s: string): string {
  let out = '';
  // By code point: a surrogate pair is escaped whole or not at all (half of one written raw is no UTF-8).
  for (const ch of JSON.stringify(s)
    .slice(1, -1)
    .match(/\\u[0-9a-f]{4}|\\.|[^]/gu) ?? []) {
    if (!ch.startsWith('\\') && rnd() < 0.05) {
      out += ch === '/' ? '\\/' : [...Array(ch.length).keys()].map((i) => '\\u' + ch.charCodeAt(i).toString(16).padStart(4, '0')).join('');
    } else out += ch;
  }
  return `"${out}"`;
}

/** A string of awkward characters: quotes, backslashes, control characters, non-latin, lone surrogates. */
function awkward(length: number): string {
  const chars = ['a', '"', '\\', '\\\\', '\r\n', '\u0000', '\u001f', 'é', '€', '😀', '\ud800', '\udfff', '/', '}', ']', ',', ':', '{"sdp":"x"}'];
  let s = '';
  while (s.length < length) s += pick(chars);
  return s;
}

/** Noise a client could add: any JSON value, nested a little. */
function noise(depth = 0): string {
  const r = rnd();
  if (depth > 2 || r < 0.3) return pick(['0', '-1.5e3', '12', 'true', 'false', 'null', str(awkward(8))]);
  if (r < 0.65) return `[${space()}${Array.from({ length: Math.floor(rnd() * 3) }, () => noise(depth + 1)).join(`${space()},${space()}`)}${space()}]`;
  return object(Array.from({ length: Math.floor(rnd() * 3) }, () => [pick(['sdp', 'offer', 'offers', 'type', 'x']), noise(depth + 1)] as [string, string]));
}

/** An object of these members, in order, with whitespace around; keys may be escaped. */
function object(members: Array<[string, string]>): string {
  return `{${space()}${members.map(([k, v]) => `${str(k)}${space()}:${space()}${v}`).join(`${space()},${space()}`)}${space()}}`;
}

/** The members, each maybe preceded by a decoy of the same key (JSON.parse keeps the last) and noise. */
function withDecoys(members: Array<[string, string]>): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const member of members) {
    if (rnd() < 0.2) out.push([member[0], noise()]);
    if (rnd() < 0.2) out.push([pick(['x', 'sdpx', 'offer_ids']), noise()]);
    out.push(member);
  }
  return out;
}

const id = (): string => String.fromCharCode(...Array.from({ length: 20 }, () => Math.floor(rnd() * 256)));

function announceFrame(sdps: string[]): string {
  const offers = sdps.map((sdp) =>
    object(
      withDecoys([
        ['offer_id', str(id())],
        [
          'offer',
          object(
            withDecoys([
              ['type', str('offer')],
              ['sdp', str(sdp)],
            ]),
          ),
        ],
      ]),
    ),
  );
  return (
    space() +
    object(
      withDecoys([
        ['action', str('announce')],
        ['info_hash', str(id())],
        ['peer_id', str(id())],
        ['numwant', String(sdps.length)],
        ['offers', `[${space()}${offers.join(`${space()},${space()}`)}${space()}]`],
      ]),
    ) +
    space()
  );
}

function answerFrame(sdp: string): string {
  return object(
    withDecoys([
      ['action', str('announce')],
      ['info_hash', str(id())],
      ['peer_id', str(id())],
      ['to_peer_id', str(id())],
      ['offer_id', str(id())],
      [
        'answer',
        object(
          withDecoys([
            ['type', str('answer')],
            ['sdp', str(sdp)],
          ]),
        ),
      ],
    ]),
  );
}

/** The SDP a token stands for. */
const sdpOf = (token: Buffer): string => JSON.parse(token.toString('utf8')) as string;

/** What parsing a frame came to, comparable between the two readings: the request (SDPs decoded) or the refusal. */
function outcome(frame: string, aroundSdps: boolean): unknown {
  let request: WsRequest;
  try {
    request = parseMessage(frame, 10, aroundSdps);
  } catch (error) {
    return { error: (error as Error).message, action: (error as { action?: string }).action, infoHash: (error as { infoHash?: string }).infoHash };
  }
  if (request.action === 'announce') return { ...request, offers: request.offers.map((o) => ({ offerId: o.offerId, sdp: sdpOf(o.sdp) })) };
  if (request.action === 'answer') return { ...request, sdp: sdpOf(request.sdp) };
  return request;
}

/** The frame with one to three characters inserted, deleted or replaced: mostly broken JSON. */
function mutate(frame: string): string {
  const troublesome = ['"', '\\', '\\u0000', '"\\u0000\\u00000"', '\u0001', '\n', '\u001f', '}', ']', ',', ':', 'u', '0', 'x', '\u0000', ' ', 'é'];
  let out = frame;
  for (let n = 1 + Math.floor(rnd() * 3); n > 0; n--) {
    const at = Math.floor(rnd() * (out.length + 1));
    const r = rnd();
    if (r < 0.4) out = out.slice(0, at) + pick(troublesome) + out.slice(at);
    else if (r < 0.7) out = out.slice(0, at) + out.slice(at + 1);
    else out = out.slice(0, at) + pick(troublesome) + out.slice(at + 1);
  }
  return out;
}

describe('Frames read around their SDPs', () => {
  it('relays the parsed SDP, in every way a frame may be written', () => {
    for (let n = 0; n < 3000; n++) {
      const sdps = Array.from({ length: Math.floor(rnd() * 4) }, () => awkward(1 + Math.floor(rnd() * 40)));
      const text = announceFrame(sdps);
      const request = parseMessage(text, 10) as WsAnnounce;
      assert.equal(request.offers.length, sdps.length);
      request.offers.forEach((offer, i) => assert.equal(sdpOf(offer.sdp), sdps[i], text));

      const answer = answerFrame(sdps[0] ?? 'v=0\r\n');
      const reply = parseMessage(answer, 10) as WsAnswer;
      assert.equal(sdpOf(reply.sdp), sdps[0] ?? 'v=0\r\n', answer);
    }
  });

  it('comes to what parsing the whole frame comes to, for broken frames too', () => {
    let refused = 0;
    let read = 0;
    for (let n = 0; n < 6000; n++) {
      // Half of them SDP-like (awkward ones often hold U+0000, which keeps a frame from being read around its SDPs).
      const sdps = Array.from({ length: 1 + Math.floor(rnd() * 3) }, () =>
        rnd() < 0.5 ? awkward(1 + Math.floor(rnd() * 20)) : `v=0\r\no=- ${n} 2 IN IP4 127.0.0.1\r\n`,
      );
      const plain = rnd() < 0.5;
      const base = plain
        ? JSON.stringify({
            action: 'announce',
            info_hash: id(),
            peer_id: id(),
            offers: sdps.map((sdp) => ({ offer: { type: 'offer', sdp }, offer_id: id() })),
          })
        : rnd() < 0.5
          ? announceFrame(sdps)
          : answerFrame(sdps[0]!);
      const frame = rnd() < 0.8 ? mutate(base) : base;
      if (skeletonOf(Buffer.from(frame), 11)) read++;
      const whole = outcome(frame, false);
      assert.deepEqual(outcome(frame, true), whole, frame);
      if ((whole as { error?: string }).error !== undefined) refused++;
    }
    // The comparison meant something: both readings were used, and many frames were refused.
    assert.ok(read > 1000, `frames read around their SDPs: ${read}`);
    assert.ok(refused > 1000 && refused < 5500, `refused: ${refused}`);
  });

  it("relays a plain frame's SDPs as the frame's own bytes", () => {
    // Written with \/ (JSON.stringify would write /): the token keeps the frame's spelling.
    const frame = Buffer.from(
      `{"action":"announce","info_hash":"${'h'.repeat(20)}","peer_id":"${'p'.repeat(20)}","offers":[{"offer":{"type":"offer","sdp":"a\\/b\\r\\n"},"offer_id":"${'o'.repeat(20)}"},{"offer":{"type":"offer","sdp":"c\\/d"},"offer_id":"${'q'.repeat(20)}"}]}`,
    );
    const request = parseMessage(frame, 10) as WsAnnounce;
    assert.deepEqual(
      request.offers.map((o) => o.sdp.toString()),
      ['"a\\/b\\r\\n"', '"c\\/d"'],
    );
    assert.equal(request.offers[0]!.sdp.buffer, frame.buffer, 'a view of the frame, not a copy');
  });

  it('reads the whole frame where it cannot read around the SDPs', () => {
    const hash = 'h'.repeat(20);
    assert.equal(skeletonOf(Buffer.from('{"action":"scrape"}'), 11), undefined, 'no SDP');
    assert.equal(skeletonOf(Buffer.from('{"sdp":"x","id":"\\u0000\\u00001"}'), 11), undefined, 'a string that starts as the markers do');
    assert.equal(skeletonOf(Buffer.from('{"sdp":"x","id":"\\u0000"}'), 11)?.tokens.length, 1, 'U+0000 elsewhere is no marker');
    assert.equal(skeletonOf(Buffer.from('{"sdp":"a'), 11), undefined, 'an unterminated token');
    assert.equal(skeletonOf(Buffer.from('{"sdp":"a\tb"}'), 11), undefined, 'a control character in a token');
    assert.equal(skeletonOf(Buffer.from('{"sdp":"a\\qb"}'), 11), undefined, 'an escape JSON does not have');
    assert.equal(skeletonOf(Buffer.from('{"sdp":"a\\u12"}'), 11), undefined, 'a short \\u escape');
    assert.equal(skeletonOf(Buffer.from('[' + '{"sdp":"x"},'.repeat(12) + '0]'), 11), undefined, 'more tokens than offers may be');
    assert.deepEqual(skeletonOf(Buffer.from('{"sdp":"a\\\\"}'), 11)?.text, '{"sdp":"\\u0000\\u00000"}', 'an escaped backslash before the closing quote');
    // The whole frame's reading still relays them (or refuses them) as JSON.parse reads them.
    const tab = parseMessage(
      `{"action":"announce","info_hash":"${hash}","peer_id":"${hash}","offers":[{"offer":{"type":"offer","sdp":"a\\u0000b"},"offer_id":"${hash}"}]}`,
      10,
    ) as WsAnnounce;
    assert.equal(sdpOf(tab.offers[0]!.sdp), 'a\u0000b');
    assert.throws(
      () =>
        parseMessage(
          `{"action":"announce","info_hash":"${hash}","peer_id":"${hash}","offers":[{"offer":{"type":"offer","sdp":"a\tb"},"offer_id":"${hash}"}]}`,
          10,
        ),
      /not JSON/,
    );
  });

  it('refuses an empty or too long SDP either way', () => {
    const hash = 'h'.repeat(20);
    const frame = (sdp: string): string =>
      `{"action":"announce","info_hash":"${hash}","peer_id":"${hash}","offers":[{"offer":{"type":"offer","sdp":${sdp}},"offer_id":"${hash}"}]}`;
    assert.throws(() => parseMessage(frame('""'), 10), /sdp must be a non-empty string/);
    assert.throws(() => parseMessage(frame(JSON.stringify('x'.repeat(16385))), 10), /sdp longer than 16384/);
    // 16384 characters in more bytes (escapes, two-byte characters): not too long.
    const long = 'é\n'.repeat(8192);
    assert.equal(sdpOf((parseMessage(frame(JSON.stringify(long)), 10) as WsAnnounce).offers[0]!.sdp), long);
  });
});
