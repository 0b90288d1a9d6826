/**
 * The client's address: the socket's, or, when the socket belongs to a trusted proxy, the rightmost
 * address in X-Forwarded-For (or the configured header) that is not itself a trusted proxy. Entries
 * further left were written by the client and prove nothing.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { BlockList } from 'node:net';
import { formatIp, parseEndpointIp, parseIp } from '../../bittorrent/address.js';

export interface ClientIpOptions {
  trusted: BlockList | null;
  /** Lower-case header name; 'x-forwarded-for' by default. */
  header: string;
}

export function isTrusted(list: BlockList, ip: Buffer): boolean {
  return list.check(formatIp(ip), ip.length === 4 ? 'ipv4' : 'ipv6');
}

export function resolveClientIp(socketAddress: string | undefined, headers: IncomingHttpHeaders, options: ClientIpOptions): Buffer | null {
  const socketIp = socketAddress ? parseIp(socketAddress) : null;
  if (!socketIp || !options.trusted || !isTrusted(options.trusted, socketIp)) return socketIp;
  const raw = headers[options.header];
  const value = Array.isArray(raw) ? raw.join(',') : raw;
  if (!value) return socketIp;
  const hops = value.split(',');
  let nearest = socketIp;
  for (let i = hops.length - 1; i >= 0; i--) {
    // Some proxies write "ip:port" or "[ipv6]": the address is what counts.
    const ip = parseEndpointIp(hops[i]!.trim());
    if (!ip) break; // a malformed hop ends what can be believed
    if (!isTrusted(options.trusted, ip)) return ip;
    nearest = ip;
  }
  return nearest;
}
