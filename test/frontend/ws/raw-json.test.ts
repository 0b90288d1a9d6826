/**
 * The SDPs' own JSON text in a frame: for any way a client may write the frame (whitespace, escapes in
 * strings and keys, repeated keys, other members around), the text found reads back as the very string
 * JSON.parse gave, and the relayed payload is the same description.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseMessage, type WsAnnounce, type WsAnswer } from '../../../src/frontend/ws/messages.js';
import { answerSdpSource, offerSdpSources } from '../../../src/frontend/ws/raw-json.js';

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
  for (const ch of JSON.stringify(s).slice(1, -1).match(/\\u[0-9a-f]{4}|\\.|[^]/g) ?? []) {
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
    object(withDecoys([['offer_id', str(id())], ['offer', object(withDecoys([['type', str('offer')], ['sdp', str(sdp)]]))]])),
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
      ['answer', object(withDecoys([['type', str('answer')], ['sdp', str(sdp)]]))],
    ]),
  );
}

describe('SDP source text', () => {
  it('reads back as the parsed SDP, in every way a frame may be written', () => {
    for (let n = 0; n < 2000; n++) {
      const sdps = Array.from({ length: Math.floor(rnd() * 4) }, () => awkward(1 + Math.floor(rnd() * 40)));
      const text = announceFrame(sdps);
      const parsed = JSON.parse(text) as { offers: Array<{ offer: { sdp: string } }> };
      const sources = offerSdpSources(text);
      assert.equal(sources.length, parsed.offers.length, text);
      sources.forEach((source, i) => assert.equal(JSON.parse(source!), parsed.offers[i]!.offer.sdp, text));
      const request = parseMessage(text, 10) as WsAnnounce;
      request.offers.forEach((offer, i) => assert.deepEqual(JSON.parse(offer.payload), { type: 'offer', sdp: sdps[i] }, text));

      const answer = answerFrame(sdps[0] ?? 'v=0\r\n');
      assert.equal(JSON.parse(answerSdpSource(answer)!), (JSON.parse(answer) as { answer: { sdp: string } }).answer.sdp, answer);
      const reply = parseMessage(answer, 10) as WsAnswer;
      assert.deepEqual(JSON.parse(reply.payload), { type: 'answer', sdp: sdps[0] ?? 'v=0\r\n' }, answer);
    }
  });

  it('finds nothing where there is no such string', () => {
    assert.equal(answerSdpSource('{"action":"announce"}'), undefined);
    assert.equal(answerSdpSource('{"answer":{"sdp":5}}'), undefined);
    assert.deepEqual(offerSdpSources('{"offers":[]}'), []);
    assert.deepEqual(offerSdpSources('{"offers":[{"offer":{"type":"offer"}},{"offer":{"sdp":"a\\"b"}}]}'), [undefined, '"a\\"b"']);
    assert.deepEqual(offerSdpSources('[1,2]'), []);
  });
});
