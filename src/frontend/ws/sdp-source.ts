/**
 * The SDP of a relayed offer or answer as the frame wrote it: the string token of a `"sdp":"…"` member,
 * used only when JSON.parse reads it back as exactly the SDP the frame was parsed to (else the caller
 * writes JSON.stringify of it). Where the token sits in the frame does not matter for correctness: any
 * token that reads back as that string is that string to every JSON reader.
 *
 * A measured hot path: V8's JSON.stringify of a 600-character SDP with its CR LF escapes costs about
 * 1.7 µs on the bench VM, reading the token back 0.6 µs (node 20, a loop of each), and the stringify
 * was 9.4% of the server's CPU under `npm run bench:webtorrent -- --cpu-prof`. A walk of the frame's
 * structure in JS to find the token instead cost more than the stringify (11.6%).
 */

const MARK = '"sdp":"';
const BACKSLASH = 0x5c;

/**
 * The index just past the string token that opens at `at`. A `"` in a JSON text is a token's own quote
 * unless an odd number of backslashes precede it.
 */
function endOfString(text: string, at: number): number {
  let from = at + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    if (quote === -1) return -1;
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}

/** Where the search for the next SDP token resumes: one per frame, the offers in order. */
export interface SdpCursor {
  at: number;
}

/** The frame's own JSON text of `sdp`: the next `"sdp":"…"` token from the cursor, if it reads back as `sdp`. */
export function sdpSource(text: string, cursor: SdpCursor, sdp: string): string | undefined {
  const mark = text.indexOf(MARK, cursor.at);
  if (mark === -1) return undefined;
  const start = mark + MARK.length - 1;
  const end = endOfString(text, start);
  if (end === -1) return undefined;
  cursor.at = end;
  if (end - start < sdp.length + 2) return undefined; // shorter than the string it should read back as
  const source = text.slice(start, end);
  try {
    return JSON.parse(source) === sdp ? source : undefined;
  } catch {
    return undefined;
  }
}
