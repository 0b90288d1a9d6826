/** Test-side HTTP: raw requests over real sockets, binary-safe query building, bencode decoding. */
import bencode from 'bencode';
import { request } from 'node:http';
import { randomBytes } from 'node:crypto';

export interface HttpReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** GET `path` (already encoded) from host:port, on a fresh connection. */
export function httpGet(host: string, port: number, path: string, headers: Record<string, string> = {}, localAddress?: string): Promise<HttpReply> {
  return httpRequest({ host, port, method: 'GET', path, headers, localAddress });
}

export interface HttpRequest {
  host: string;
  port: number;
  method: string;
  /** Already encoded. */
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  localAddress?: string;
}

/** Any method, with an optional body, on a fresh connection. */
export function httpRequest(r: HttpRequest): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const { host, port, method, path, localAddress } = r;
    // Node sends a DELETE's body neither chunked nor with a length unless told: say its length, as curl does.
    const given = Object.keys(r.headers ?? {}).map((name) => name.toLowerCase());
    const framed = given.includes('content-length') || given.includes('transfer-encoding');
    const headers = r.body !== undefined && !framed ? { 'content-length': String(Buffer.byteLength(r.body)), ...r.headers } : (r.headers ?? {});
    const req = request({ host, port, path, method, headers, agent: false, localAddress }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`timeout ${method} ${path}`)));
    req.end(r.body);
  });
}

/** Percent-encodes every byte, the way real clients send info_hash and peer_id. */
export function escapeBytes(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += '%' + byte.toString(16).padStart(2, '0');
  return out;
}

export function randomHash(): Buffer {
  return randomBytes(20);
}

export function randomPeerId(): Buffer {
  return Buffer.concat([Buffer.from('-TS0001-'), randomBytes(12)]);
}

export interface AnnounceParams {
  infoHash: Buffer;
  peerId?: Buffer;
  port?: number;
  uploaded?: number;
  downloaded?: number;
  left?: number;
  event?: string;
  numwant?: number;
  compact?: 0 | 1;
  noPeerId?: 1;
  extra?: string;
}

export function announcePath(p: AnnounceParams, prefix = ''): string {
  let q =
    `info_hash=${escapeBytes(p.infoHash)}&peer_id=${escapeBytes(p.peerId ?? randomPeerId())}` +
    `&port=${p.port ?? 6881}&uploaded=${p.uploaded ?? 0}&downloaded=${p.downloaded ?? 0}&left=${p.left ?? 100}`;
  if (p.event !== undefined) q += `&event=${p.event}`;
  if (p.numwant !== undefined) q += `&numwant=${p.numwant}`;
  if (p.compact !== undefined) q += `&compact=${p.compact}`;
  if (p.noPeerId) q += '&no_peer_id=1';
  if (p.extra) q += '&' + p.extra;
  return `${prefix}/announce?${q}`;
}

export function scrapePath(hashes: Buffer[], prefix = ''): string {
  return `${prefix}/scrape?` + hashes.map((h) => `info_hash=${escapeBytes(h)}`).join('&');
}

// bencode@4 decodes byte strings to Uint8Array and dict keys to text (hex when not valid UTF-8).
export type Decoded = Record<string, any>;

export function decode(body: Buffer): Decoded {
  const value = bencode.decode(body);
  if (value === null || typeof value !== 'object') throw new Error(`not a bencoded dict: ${body.toString('latin1')}`);
  return value as Decoded;
}

/** The key bencode@4 gives a binary dict key. */
export function decodedKey(bytes: Buffer): string {
  const text = new TextDecoder().decode(bytes);
  return text.includes('\uFFFD') ? bytes.toString('hex') : text;
}

export function text(value: unknown): string {
  return Buffer.from(value as Uint8Array).toString('utf8');
}

/** Compact peers -> "ip:port" strings ("[v6]:port" for IPv6). */
export function peerList(packed: Uint8Array | undefined, family: 4 | 6): string[] {
  if (!packed) return [];
  const size = family === 4 ? 6 : 18;
  const out: string[] = [];
  const buf = Buffer.from(packed);
  for (let o = 0; o + size <= buf.length; o += size) {
    const port = buf.readUInt16BE(o + size - 2);
    if (family === 4) out.push(`${buf[o]}.${buf[o + 1]}.${buf[o + 2]}.${buf[o + 3]}:${port}`);
    else {
      const groups: string[] = [];
      for (let i = 0; i < 16; i += 2) groups.push(buf.readUInt16BE(o + i).toString(16));
      out.push(`[${groups.join(':')}]:${port}`);
    }
  }
  return out;
}
