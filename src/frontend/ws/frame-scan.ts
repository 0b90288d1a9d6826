/**
 * A WebTorrent frame read without decoding its SDPs: each `"sdp":"…"` member's string token is found in
 * the frame's bytes, checked to be a well-formed JSON string, and replaced in the text that is decoded
 * and parsed by a marker string naming it; the token's bytes are what gets relayed, never decoded,
 * parsed, escaped again or re-encoded.
 *
 * A measured hot path: an announce is mostly SDP (measured: docs/performance.md, "Hand-written hot paths").
 *
 * Why the result is exactly JSON.parse's (test/frontend/ws/frame-scan.test.ts checks it on frames with
 * decoys, escapes and whitespace):
 * - Where `"sdp":"` occurs in a text whose JSON is valid up to there, its last quote opens a string
 *   token: the quote after `sdp` is unescaped (a `p` precedes it), so it closes any string, and a `:`
 *   outside a string must follow a key. The token ends at the next quote preceded by an even number of
 *   backslashes. Where the text is invalid before it, it stays invalid: only tokens are replaced.
 * - A token's content is checked as JSON requires (no control characters, only valid escapes): a
 *   replaced token cannot hide an error. ws has checked the whole frame is UTF-8, and a token starts and
 *   ends at a quote, so its bytes are UTF-8 too.
 * - A marker is the string of two U+0000 followed by the token's index. No other string in the text
 *   can start so: JSON writes U+0000 only as `\u0000`, and a frame with a quote followed by two of those
 *   outside its SDP tokens is not read this way (each other string lies wholly between two SDP tokens,
 *   so the text between them is what is searched). So a value that is a marker stands exactly where
 *   that token stood.
 *   (Browsers' binary ids often hold U+0000, as `\u0000`; two at the start of an id is 1 in 65536.)
 */

/** What introduces an SDP's string token. */
const MARK = Buffer.from('"sdp":"', 'latin1');
/** How a string that starts as a marker does must be written in JSON: U+0000 has no other spelling. */
const MARKER_START = '"\\u0000\\u0000';
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** The characters JSON allows after a backslash, besides `u` (1 where allowed). */
const ESCAPES = new Uint8Array(128);
for (const c of '"\\/bfnrt') ESCAPES[c.charCodeAt(0)] = 1;
const isHex = (c: number | undefined): boolean => c !== undefined && ((c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66));

/** Whether frame[from, to) is a JSON string's content: no control characters, only JSON's escapes. */
function isStringContent(frame: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = frame[i]!;
    if (c < 0x20) return false;
    if (c !== BACKSLASH) continue;
    const escaped = frame[++i]!;
    if (escaped === 0x75) {
      if (!isHex(frame[i + 1]) || !isHex(frame[i + 2]) || !isHex(frame[i + 3]) || !isHex(frame[i + 4]) || i + 4 >= to) return false;
      i += 4;
    } else if (escaped >= 128 || ESCAPES[escaped] !== 1) return false;
  }
  return true;
}

export interface Skeleton {
  /** The frame's text, each SDP token replaced by its marker. */
  text: string;
  /** Each SDP's string token (quotes and escapes included), UTF-8: views of the frame's bytes. */
  tokens: Buffer[];
}

/** The index just past the string token whose opening quote is at `start`, or -1. */
function endOfToken(frame: Buffer, start: number): number {
  let from = start + 1;
  for (;;) {
    const quote = frame.indexOf(QUOTE, from);
    if (quote === -1) return -1;
    let backslashes = 0;
    while (frame[quote - 1 - backslashes] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}

/**
 * The frame as text with its SDP tokens set aside, or undefined when it has none, more than `maxTokens`,
 * or anything this reading does not handle (the caller then decodes and parses the whole frame).
 */
export function skeletonOf(frame: Buffer, maxTokens: number): Skeleton | undefined {
  let mark = frame.indexOf(MARK);
  if (mark === -1) return undefined;
  const tokens: Buffer[] = [];
  let text = '';
  let from = 0;
  while (mark !== -1) {
    if (tokens.length === maxTokens) return undefined;
    const start = mark + MARK.length - 1;
    const end = endOfToken(frame, start);
    if (end === -1) return undefined;
    if (!isStringContent(frame, start + 1, end - 1)) return undefined;
    const between = frame.toString('utf8', from, start);
    if (between.includes(MARKER_START)) return undefined;
    text += `${between}"\\u0000\\u0000${tokens.length}"`;
    tokens.push(frame.subarray(start, end));
    from = end;
    mark = frame.indexOf(MARK, end);
  }
  const rest = frame.toString('utf8', from);
  return rest.includes(MARKER_START) ? undefined : { text: text + rest, tokens };
}

/** The token a parsed value stands for, when it is a marker of this skeleton. */
export function tokenOf(value: unknown, tokens: Buffer[]): Buffer | undefined {
  if (typeof value !== 'string' || value.charCodeAt(0) !== 0 || value.charCodeAt(1) !== 0) return undefined;
  return tokens[Number(value.slice(2))];
}
