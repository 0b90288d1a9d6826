/**
 * A bencode writer for responses. Dictionary keys are latin1 strings, one character per byte, so raw
 * binary keys (a scrape's 20-byte info hashes) are written and sorted as the bytes they are. (The
 * bencode package sorts Buffer keys by their UTF-8 rendering and so mis-orders binary keys; it is used
 * to decode.) Text values are written as UTF-8.
 */
export type BencodeValue = number | string | Uint8Array | BencodeValue[] | BencodeDict;
export type BencodeDict = Map<string, BencodeValue> | { [key: string]: BencodeValue | undefined };

export function bencode(value: BencodeValue): Buffer {
  const parts: Buffer[] = [];
  write(value, parts);
  return Buffer.concat(parts);
}

function write(value: BencodeValue, parts: Buffer[]): void {
  if (typeof value === 'number') {
    parts.push(Buffer.from(`i${Math.trunc(value)}e`, 'latin1'));
  } else if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    parts.push(Buffer.from(`${bytes.length}:`, 'latin1'), bytes);
  } else if (value instanceof Uint8Array) {
    parts.push(Buffer.from(`${value.length}:`, 'latin1'), Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  } else if (Array.isArray(value)) {
    parts.push(Buffer.from('l', 'latin1'));
    for (const item of value) write(item, parts);
    parts.push(Buffer.from('e', 'latin1'));
  } else {
    const entries: Array<[string, BencodeValue]> =
      value instanceof Map ? [...value.entries()] : (Object.entries(value).filter(([, v]) => v !== undefined) as Array<[string, BencodeValue]>);
    // Code-unit order of latin1 strings is byte order.
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    parts.push(Buffer.from('d', 'latin1'));
    for (const [key, item] of entries) {
      parts.push(Buffer.from(`${key.length}:${key}`, 'latin1'));
      write(item, parts);
    }
    parts.push(Buffer.from('e', 'latin1'));
  }
}
