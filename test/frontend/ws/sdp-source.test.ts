/**
 * The SDP relayed as the frame wrote it: for any way a client may write the frame (whitespace, escapes
 * in strings and keys, repeated keys, decoy "sdp" members around), the relayed payload is the very
 * description JSON.parse gave; and in a plain frame the frame's own text is what goes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseMessage, type WsAnnounce, type WsAnswer } from '../../../src/frontend/ws/messages.js';
import { sdpSource } from '../../../src/frontend/ws/sdp-source.js';

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
  for (const ch of JSON.stringify(s)
    .slice(1, -1)
    .match(/\\u[0-9a-f]{4}|\\.|[^]/g) ?? []) {
    if (ch.length === 1 && rnd() < 0.05) out += ch === '/' ? '\\/' : '\\u' + ch.charCodeAt(0).toString(16).padStart(4, '0');
    else out += ch;
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

describe('SDP source text', () => {
  it('relays the parsed SDP, in every way a frame may be written', () => {
    for (let n = 0; n < 3000; n++) {
      const sdps = Array.from({ length: Math.floor(rnd() * 4) }, () => awkward(1 + Math.floor(rnd() * 40)));
      const text = announceFrame(sdps);
      const request = parseMessage(text, 10) as WsAnnounce;
      assert.equal(request.offers.length, sdps.length);
      request.offers.forEach((offer, i) => assert.deepEqual(JSON.parse(offer.payload), { type: 'offer', sdp: sdps[i] }, text));

      const answer = answerFrame(sdps[0] ?? 'v=0\r\n');
      const reply = parseMessage(answer, 10) as WsAnswer;
      assert.deepEqual(JSON.parse(reply.payload), { type: 'answer', sdp: sdps[0] ?? 'v=0\r\n' }, answer);
    }
  });

  it("takes the frame's own text of the SDP when it reads back the same", () => {
    // Written with \/ (JSON.stringify would write /): the payload keeps the frame's spelling.
    const frame = `{"action":"announce","info_hash":"${'h'.repeat(20)}","peer_id":"${'p'.repeat(20)}","offers":[{"offer":{"type":"offer","sdp":"a\\/b\\r\\n"},"offer_id":"${'o'.repeat(20)}"},{"offer":{"type":"offer","sdp":"c\\/d"},"offer_id":"${'q'.repeat(20)}"}]}`;
    const request = parseMessage(frame, 10) as WsAnnounce;
    assert.deepEqual(
      request.offers.map((o) => o.payload),
      ['{"type":"offer","sdp":"a\\/b\\r\\n"}', '{"type":"offer","sdp":"c\\/d"}'],
    );
  });

  it('finds nothing where no token reads back as the SDP', () => {
    const cursor = { at: 0 };
    assert.equal(sdpSource('{"offer":{"sdp":"x"}}', cursor, 'y'), undefined, 'another string');
    assert.equal(sdpSource('{"offer":{"sdp":"x"}}', cursor, 'x'), undefined, 'past the cursor');
    assert.equal(sdpSource('{"offer":{"type":"offer"}}', { at: 0 }, 'x'), undefined);
    assert.equal(sdpSource('{"sdp":"a\\"b"}', { at: 0 }, 'a"b'), '"a\\"b"');
    assert.equal(sdpSource('{"sdp":"a\\\\"}', { at: 0 }, 'a\\'), '"a\\\\"', 'an escaped backslash before the closing quote');
  });
});
