/**
 * Percent-encoding as BEP 3 uses it for binary values (info_hash, peer_id): `%XX` decodes to a byte,
 * never through a UTF-8 string, and `+` is a literal plus (real clients escape every byte outside the
 * unreserved set).
 */

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** Decodes text[start, end) into bytes; null when a `%` escape is malformed or a character is not a byte. */
export function percentDecode(text: string, start: number, end: number): Buffer | null {
  const out = Buffer.allocUnsafe(end - start);
  let length = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 37 /* % */) {
      if (i + 2 >= end) return null;
      const high = hexValue(text.charCodeAt(i + 1));
      const low = hexValue(text.charCodeAt(i + 2));
      if (high < 0 || low < 0) return null;
      out[length++] = (high << 4) | low;
      i += 2;
    } else if (c > 0xff) {
      return null;
    } else {
      out[length++] = c;
    }
  }
  return out.subarray(0, length);
}
