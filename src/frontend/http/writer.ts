/** Tracker responses in bencode, written straight from the packed peers the driver returned. */
import { COMPACT_V4_LENGTH, COMPACT_V6_LENGTH, formatIp } from '../../bittorrent/address.js';
import { PEER_ID_LENGTH, type AnnounceResult, type ScrapeResult } from '../../bittorrent/announce.js';
import { bencode, type BencodeDict, type BencodeValue } from './bencode.js';

/**
 * The hot path: one string for the integers, the peer bytes copied once. `externalIp` (BEP 24: the
 * address the tracker saw, 4 or 16 bytes) goes in as latin1 characters, one per byte, so the head stays
 * one string; its key sorts between "downloaded" and "incomplete".
 */
export function writeCompactAnnounce(r: AnnounceResult, externalIp?: Buffer): Buffer {
  if (r.warning !== undefined) return writeWarnedAnnounce(r, externalIp);
  const external = externalIp === undefined ? '' : externalIpEntry(externalIp);
  const head =
    `d8:completei${r.complete}e10:downloadedi${r.downloaded}e${external}10:incompletei${r.incomplete}e` +
    `8:intervali${r.interval}e12:min intervali${r.minInterval}e5:peers${r.peers4.length}:`;
  if (r.peers6.length === 0) {
    const headLength = Buffer.byteLength(head, 'latin1');
    const out = Buffer.allocUnsafe(headLength + r.peers4.length + 1);
    out.write(head, 0, 'latin1');
    r.peers4.copy(out, headLength);
    out[out.length - 1] = 0x65; // e
    return out;
  }
  const middle = `6:peers6${r.peers6.length}:`;
  return Buffer.concat([Buffer.from(head, 'latin1'), r.peers4, Buffer.from(middle, 'latin1'), r.peers6, Buffer.from('e', 'latin1')]);
}

/** The `external ip` key and value as latin1 text; an IPv4 address without a call into Buffer's native code. */
function externalIpEntry(ip: Buffer): string {
  return ip.length === 4 ? '11:external ip4:' + String.fromCharCode(ip[0]!, ip[1]!, ip[2]!, ip[3]!) : `11:external ip${ip.length}:${ip.toString('latin1')}`;
}

/** Non-compact (BEP 3) peers: a list of dicts, IPv4 and IPv6 together; `peer id` unless no_peer_id. */
export function writeDictAnnounce(r: AnnounceResult, withPeerIds: boolean, externalIp?: Buffer): Buffer {
  const peers: BencodeValue[] = [];
  const add = (packed: Buffer, ids: Buffer | undefined, size: number): void => {
    for (let i = 0; i * size < packed.length; i++) {
      const entry = packed.subarray(i * size, (i + 1) * size);
      const peer: Record<string, BencodeValue> = {
        ip: formatIp(entry.subarray(0, size - 2)),
        port: entry.readUInt16BE(size - 2),
      };
      const id = ids?.subarray(i * PEER_ID_LENGTH, (i + 1) * PEER_ID_LENGTH);
      if (withPeerIds && id && id.length === PEER_ID_LENGTH && id.some((b) => b !== 0)) peer['peer id'] = id;
      peers.push(peer);
    }
  };
  add(r.peers4, r.peerIds4, COMPACT_V4_LENGTH);
  add(r.peers6, r.peerIds6, COMPACT_V6_LENGTH);
  return bencode({
    complete: r.complete,
    downloaded: r.downloaded,
    'external ip': externalIp,
    incomplete: r.incomplete,
    interval: r.interval,
    'min interval': r.minInterval,
    peers,
    'warning message': r.warning,
  });
}

/** A compact answer with a `warning message` (a peer not stored): rare, so the general writer. */
function writeWarnedAnnounce(r: AnnounceResult, externalIp: Buffer | undefined): Buffer {
  return bencode({
    complete: r.complete,
    downloaded: r.downloaded,
    'external ip': externalIp,
    incomplete: r.incomplete,
    interval: r.interval,
    'min interval': r.minInterval,
    peers: r.peers4,
    peers6: r.peers6.length > 0 ? r.peers6 : undefined,
    'warning message': r.warning,
  });
}

export function writeScrape(r: ScrapeResult): Buffer {
  const files = new Map<string, BencodeValue>();
  for (const { infoHash, counts } of r.files) {
    files.set(infoHash.toString('latin1'), {
      complete: counts.complete,
      downloaded: counts.downloaded,
      incomplete: counts.incomplete,
    } satisfies BencodeDict);
  }
  return bencode({ files, flags: { min_request_interval: r.minRequestInterval } });
}

export function writeFailure(reason: string): Buffer {
  return bencode({ 'failure reason': reason });
}
