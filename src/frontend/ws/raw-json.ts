/**
 * The source text of the SDP strings inside a WebTorrent frame that JSON.parse has ACCEPTED, so that
 * a relayed offer or answer carries the client's own JSON text of its SDP instead of JSON.stringify of
 * the parsed string: the same string to any JSON reader, without escaping it again. A measured hot
 * path: V8's JSON.stringify of a 600-character SDP (CR LF escapes) costs about as much as parsing it
 * (2.5 to 5 µs on the bench VM), and `description` was 9.4% of the server's CPU under
 * `npm run bench:webtorrent -- --cpu-prof`; finding the token here is a few indexOf jumps.
 *
 * Only for text JSON.parse accepted: nothing here checks syntax, it only finds where values end.
 * Members are matched as JSON.parse reads them: a key with escapes is decoded, and of repeated keys
 * the LAST counts (as JSON.parse keeps the last). Anything not found is undefined: the caller then
 * writes the parsed string with JSON.stringify.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** The first index at or after i that is not JSON whitespace. */
function skipSpace(text: string, i: number): number {
  for (;;) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i;
    i++;
  }
}

/** The index just past the string token that opens at i (a quote). */
function endOfString(text: string, i: number): number {
  let from = i + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    if (quote === -1) return text.length; // not for accepted JSON
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}

/** The index just past the value that starts at i. */
function endOfValue(text: string, i: number): number {
  const first = text.charCodeAt(i);
  if (first === QUOTE) return endOfString(text, i);
  let depth = 0;
  for (;;) {
    const c = text.charCodeAt(i);
    if (Number.isNaN(c)) return i;
    if (c === QUOTE) {
      i = endOfString(text, i);
      continue;
    }
    if (c === 0x7b || c === 0x5b) {
      depth++;
    } else if (c === 0x7d || c === 0x5d) {
      if (depth === 0) return i; // the end of a number or literal that closes its container
      if (--depth === 0) return i + 1;
    } else if (depth === 0 && (c === 0x2c || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09)) {
      return i; // a number or literal ends
    }
    i++;
  }
}

/** Where the value of the object's last member named `key` starts (the object opens at `at`), or -1. */
function memberValue(text: string, at: number, key: string): number {
  if (text.charCodeAt(at) !== 0x7b) return -1;
  let found = -1;
  let i = skipSpace(text, at + 1);
  if (text.charCodeAt(i) === 0x7d) return -1;
  for (;;) {
    if (text.charCodeAt(i) !== QUOTE) return -1;
    const keyEnd = endOfString(text, i);
    const raw = text.slice(i + 1, keyEnd - 1);
    const matches = raw === key || (raw.includes('\\') && (JSON.parse(text.slice(i, keyEnd)) as string) === key);
    i = skipSpace(text, keyEnd);
    if (text.charCodeAt(i) !== 0x3a) return -1;
    const value = skipSpace(text, i + 1);
    if (matches) found = value;
    i = skipSpace(text, endOfValue(text, value));
    if (text.charCodeAt(i) !== 0x2c) return found;
    i = skipSpace(text, i + 1);
  }
}

/** Where each element of the array that opens at `at` starts. */
function elements(text: string, at: number): number[] {
  const starts: number[] = [];
  if (text.charCodeAt(at) !== 0x5b) return starts;
  let i = skipSpace(text, at + 1);
  if (text.charCodeAt(i) === 0x5d) return starts;
  for (;;) {
    starts.push(i);
    i = skipSpace(text, endOfValue(text, i));
    if (text.charCodeAt(i) !== 0x2c) return starts;
    i = skipSpace(text, i + 1);
  }
}

/** The JSON text of the string at `at` (a string token), or undefined when no string starts there. */
function stringToken(text: string, at: number): string | undefined {
  return at !== -1 && text.charCodeAt(at) === QUOTE ? text.slice(at, endOfString(text, at)) : undefined;
}

/** The JSON text of `answer.sdp` in an accepted frame. */
export function answerSdpSource(text: string): string | undefined {
  const top = skipSpace(text, 0);
  const answer = memberValue(text, top, 'answer');
  return answer === -1 ? undefined : stringToken(text, memberValue(text, answer, 'sdp'));
}

/** The JSON text of each `offers[i].offer.sdp` in an accepted frame, in the order of the offers. */
export function offerSdpSources(text: string): Array<string | undefined> {
  const top = skipSpace(text, 0);
  const offers = memberValue(text, top, 'offers');
  if (offers === -1) return [];
  return elements(text, offers).map((item) => {
    const offer = memberValue(text, item, 'offer');
    return offer === -1 ? undefined : stringToken(text, memberValue(text, offer, 'sdp'));
  });
}
