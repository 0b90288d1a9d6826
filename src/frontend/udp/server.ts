/** The UDP frontend (BEP 15, BEP 41): connect, announce, scrape, error, over IPv4 and IPv6. */
import { createSocket, type RemoteInfo, type Socket, type SocketOptions } from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP, type AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { parseIp, type Family } from '../../bittorrent/address.js';
import type { AnnounceRequest } from '../../bittorrent/announce.js';
import type { Blocklists } from '../../blocklist/lists.js';
import { ClientError } from '../../bittorrent/errors.js';
import type { TrackerMetrics } from '../../metrics/metrics.js';
import type { Tracker } from '../../tracker/tracker.js';
import { throttledErrorLog } from '../../common/log.js';
import { checkAnnounce, countRequest, failureOutcome, failureReason, UNAVAILABLE, unknownEvent } from '../sanitize.js';
import { addressKey } from '../address-key.js';
import { ConnectionIds } from './connection-id.js';
import type { UdpOffenders } from './offenders.js';
import {
  ACTION_ANNOUNCE,
  ACTION_CONNECT,
  ACTION_SCRAPE,
  ANNOUNCE_LENGTH,
  EVENT_OFFSET,
  MIN_PACKET_LENGTH,
  parseAnnounce,
  passkeyOf,
  PROTOCOL_ID,
  SCRAPE_HEADER_LENGTH,
  writeAnnounce,
  writeConnect,
  writeError,
  writeScrape,
} from './packets.js';

/**
 * The socket's lookup: every address it is given is an IP literal (the bind address, resolved by
 * listen(), and each reply's rinfo.address). dgram's default, dns.lookup, would validate it, match it
 * against isIP's pattern and put every send off to a nextTick; this hands it straight back and the send
 * happens at once (measured: docs/performance.md, "Hand-written hot paths").
 */
const literalLookup: NonNullable<SocketOptions['lookup']> = (address, _options, callback) => callback(null, address, address.includes(':') ? 6 : 4);

/** Peers per reply that keep it under about 1,500 bytes (what opentracker does too). */
const MAX_PEERS_V4 = 200;
const MAX_PEERS_V6 = 66;

export interface UdpFrontendOptions {
  tracker: Tracker;
  metrics?: TrackerMetrics;
  logger: Logger;
  ids: ConnectionIds;
  /** Addresses that keep sending invalid packets, ignored for a while; null or absent: no bans. */
  offenders?: UdpOffenders | null;
  /** blocklist.files: addresses whose packets get no answer; absent or null: none. */
  blocklists?: Blocklists | null;
}

export class UdpFrontend {
  private socket: Socket | null = null;
  private readonly logError: (error: unknown) => void;
  /** Packets being answered and replies being sent: a stop waits for them before closing the socket. */
  private pending = 0;
  private drained: (() => void) | null = null;
  /** Set when close() begins: from then on replies are counted in `pending` until sent (see send()). */
  private closing = false;

  /** The callbacks of every packet and reply, made once: a packet allocates no closure of its own. */
  private readonly handled = (): void => this.settle();
  private readonly failed = (error: unknown): void => {
    this.logError(error);
    this.settle();
  };
  private readonly sent = (error: Error | null): void => {
    if (error) this.logError(error);
    this.settle();
  };

  constructor(private readonly options: UdpFrontendOptions) {
    this.logError = throttledErrorLog(options.logger);
  }

  async listen(host: string, port: number): Promise<AddressInfo> {
    // A host name (the configuration allows "localhost") is resolved first, and the socket's family is
    // the address's: "localhost" is 127.0.0.1 alone on some hosts and ::1 first on others.
    const address = isIP(host) !== 0 ? host : (await dnsLookup(host)).address;
    // "::" with ipv6Only off takes IPv4 too, as IPv4-mapped addresses.
    const socket = createSocket({ type: isIP(address) === 4 ? 'udp4' : 'udp6', ipv6Only: false, recvBufferSize: 4 << 20, lookup: literalLookup });
    socket.on('message', (packet, rinfo) => {
      this.pending++;
      this.handle(packet, rinfo, socket).then(this.handled, this.failed);
    });
    socket.on('error', (error) => this.logError(error));
    this.socket = socket;
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address, port }, () => {
        socket.off('error', reject);
        resolve(socket.address());
      });
    });
  }

  /** Stops after the packets being answered are answered (or `timeoutMs` passes). */
  async close(timeoutMs = 10_000): Promise<void> {
    const socket = this.socket;
    if (!socket) return;
    this.closing = true;
    if (this.pending > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.socket = null;
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  private settle(): void {
    if (--this.pending === 0) this.drained?.();
  }

  /** Answers one datagram, or stays silent when it is not a tracker packet at all. */
  async handle(packet: Buffer, rinfo: RemoteInfo, socket: Socket): Promise<void> {
    // Port 0 cannot be answered (and a reply attempt would throw).
    if (rinfo.port === 0) return;
    const ip = parseIp(rinfo.address);
    if (!ip) return;
    // A blocked address gets no answer to anything, its connect included, so it never holds a connection
    // id. Silence rather than an error packet: an error would tell the client why, but UDP sources are
    // forged at will, and every answer to a blocked range is a datagram a forger aims at someone (cut to
    // the request's length it amplifies nothing, yet it still reflects); silence is also what a client
    // behind a firewall's blocklist (a DROP rule) sees, and its retry schedule (BEP 15: 15 * 2^n s)
    // already backs it off.
    if (this.options.blocklists?.refuses(ip, 'udp') != null) return;
    const offenders = this.options.offenders;
    if (packet.length < MIN_PACKET_LENGTH) {
      offenders?.offended(addressKey(ip));
      return;
    }
    const started = performance.now();
    const action = packet.readUInt32BE(8);
    const transactionId = packet.readUInt32BE(12);
    const family: Family = ip.length === 4 ? 4 : 6;
    const metrics = this.options.metrics;

    if (action === ACTION_CONNECT) {
      if (packet.readBigUInt64BE(0) !== PROTOCOL_ID) {
        offenders?.offended(addressKey(ip));
        return;
      }
      if (!this.options.ids.ready) {
        // Shared keys not read from the driver yet (it is down): refuse, never amplified, and let the client retry.
        this.send(socket, writeError(transactionId, UNAVAILABLE).subarray(0, packet.length), rinfo);
        countRequest(metrics, 'udp', 'connect', family, 'server_error', started);
        return;
      }
      this.send(socket, writeConnect(transactionId, this.options.ids.issue(ip)), rinfo);
      countRequest(metrics, 'udp', 'connect', family, 'ok', started);
      return;
    }
    const name = action === ACTION_ANNOUNCE ? 'announce' : action === ACTION_SCRAPE ? 'scrape' : 'unknown';
    if (!this.options.ids.verify(packet, 0, ip)) {
      // A banned address is not answered at all (and not counted as a request).
      if (offenders?.offended(addressKey(ip))) return;
      // No valid connection id: the sender may be spoofed, so never answer with more than it sent.
      this.send(socket, writeError(transactionId, 'invalid connection id').subarray(0, packet.length), rinfo);
      countRequest(metrics, 'udp', name, family, 'client_error', started);
      return;
    }
    try {
      if (action === ACTION_ANNOUNCE) this.send(socket, await this.announce(packet, transactionId, ip, family), rinfo);
      else if (action === ACTION_SCRAPE) this.send(socket, await this.scrape(packet, transactionId, ip), rinfo);
      else throw new ClientError(`unknown action ${action}`);
      countRequest(metrics, 'udp', name, family, 'ok', started);
    } catch (error) {
      this.send(socket, writeError(transactionId, failureReason(error, this.logError)), rinfo);
      countRequest(metrics, 'udp', name, family, failureOutcome(error), started);
    }
  }

  /**
   * No send callback while running: with one, Node gives every reply a request object and calls back
   * into JavaScript when it is sent, per packet. The kernel takes a datagram at once (or drops it), and
   * a reply that fails is lost as any datagram may be (the client retries; failures are no longer
   * logged), so the callback only mattered at shutdown: once close() has begun, replies carry it and
   * are counted, so the socket stays open until they are sent. Kept for the work it certainly saves
   * (measured: docs/performance.md, "Hand-written hot paths").
   */
  private send(socket: Socket, reply: Buffer, rinfo: RemoteInfo): void {
    if (this.socket !== socket) return; // stopped meanwhile
    if (!this.closing) {
      socket.send(reply, rinfo.port, rinfo.address);
      return;
    }
    this.pending++;
    socket.send(reply, rinfo.port, rinfo.address, this.sent);
  }

  private async announce(packet: Buffer, transactionId: number, ip: Buffer, family: Family): Promise<Buffer> {
    if (packet.length < ANNOUNCE_LENGTH) throw new ClientError(`announce packet too short (${packet.length} bytes, needs ${ANNOUNCE_LENGTH})`);
    const a = parseAnnounce(packet);
    if (a.event === null) throw unknownEvent(packet.readUInt32BE(EVENT_OFFSET));
    const claimed = a.ip !== 0 && family === 4 ? Buffer.from([a.ip >>> 24, (a.ip >>> 16) & 0xff, (a.ip >>> 8) & 0xff, a.ip & 0xff]) : undefined;
    const request: AnnounceRequest = {
      infoHash: a.infoHash,
      peerId: a.peerId,
      port: a.port,
      uploaded: a.uploaded,
      downloaded: a.downloaded,
      left: a.left,
      event: a.event,
      // BEP 15: -1 (any negative value, here) leaves the choice to the tracker.
      numwant: a.numwant < 0 ? undefined : a.numwant,
      maxPeers: family === 4 ? MAX_PEERS_V4 : MAX_PEERS_V6,
      compact: true,
      noPeerId: true,
      sourceIp: ip,
      claimedIp: claimed,
      passkey: passkeyOf(a.urlData),
      peerFamily: family,
      transport: 'udp',
    };
    checkAnnounce(request);
    const result = await this.options.tracker.announce(request);
    // A UDP answer carries the peers of the family the packet came over.
    const peers = family === 4 ? result.peers4 : result.peers6;
    return writeAnnounce(transactionId, result.interval, result.incomplete, result.complete, peers);
  }

  private async scrape(packet: Buffer, transactionId: number, sourceIp: Buffer): Promise<Buffer> {
    const count = Math.floor((packet.length - SCRAPE_HEADER_LENGTH) / 20);
    if (count === 0) throw new ClientError('no info_hash in scrape');
    const infoHashes: Buffer[] = [];
    for (let i = 0; i < count; i++) infoHashes.push(Buffer.from(packet.subarray(16 + i * 20, 36 + i * 20)));
    const result = await this.options.tracker.scrape({ infoHashes, sourceIp, transport: 'udp' });
    return writeScrape(
      transactionId,
      result.files.map((f) => f.counts),
    );
  }
}
