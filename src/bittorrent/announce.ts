/** The protocol's requests and answers, independent of HTTP or UDP. */

export type AnnounceEvent = 'none' | 'started' | 'completed' | 'stopped';

/** The transport a request came over (request budgets count refusals by it). */
export type Transport = 'http' | 'udp';

export interface AnnounceRequest {
  infoHash: Buffer; // 20 bytes
  peerId: Buffer; // 20 bytes
  port: number; // 1..65535
  uploaded: number;
  downloaded: number;
  left: number;
  event: AnnounceEvent;
  /** Undefined when the client did not ask: the tracker's default applies. */
  numwant: number | undefined;
  /** The most peers the transport carries in one answer (UDP: what fits a datagram); undefined: no such limit. */
  maxPeers?: number;
  compact: boolean;
  noPeerId: boolean;
  /** The address the request came from (after trusted-proxy resolution), 4 or 16 bytes. */
  sourceIp: Buffer;
  /** Addresses the client claims for itself (BEP 7 `ip`, `ipv4`, `ipv6`); honoured only with allow_ip_spoofing. */
  claimedIp?: Buffer;
  claimedIpv4?: Buffer;
  claimedIpv6?: Buffer;
  passkey?: string;
  /** The HTTP request's User-Agent (undefined over UDP, or when none was sent). */
  userAgent?: string;
  /** Only peers of this family are wanted (UDP answers in the family of the packet). */
  peerFamily?: 4 | 6;
  transport?: Transport;
}

export interface AnnounceResult {
  interval: number;
  minInterval: number;
  complete: number;
  incomplete: number;
  downloaded: number;
  /** Packed compact peers: 6 bytes each. */
  peers4: Buffer;
  /** Packed compact peers: 18 bytes each. */
  peers6: Buffer;
  /** 20-byte peer ids aligned with peers4/peers6 (all zero when unknown); only when asked for. */
  peerIds4?: Buffer;
  peerIds6?: Buffer;
  /** Told to the client as the HTTP `warning message` (UDP has no such field). */
  warning?: string;
}

export interface ScrapeRequest {
  infoHashes: Buffer[];
  passkey?: string;
  /** The address the request came from, 4 or 16 bytes; request budgets apply when it is set. */
  sourceIp?: Buffer;
  transport?: Transport;
}

export interface SwarmCounts {
  complete: number;
  incomplete: number;
  downloaded: number;
}

export interface ScrapeResult {
  files: ReadonlyArray<{ infoHash: Buffer; counts: SwarmCounts }>;
  minRequestInterval: number;
}

export const INFO_HASH_LENGTH = 20;
export const PEER_ID_LENGTH = 20;
