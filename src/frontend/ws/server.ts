/**
 * The WebSocket frontend (WebTorrent): upgrades on the HTTP listener at `/`, `/announce` and
 * `/PASSKEY/announce`; announces and scrapes through the tracker's policy (tracker/webtorrent.ts); offers
 * relayed to the peers the driver picked and answers back to their offerers, on this replica or, through
 * the driver, on the replica that holds the target's socket.
 *
 * Limits: the frame size (ws' maxPayload, close 1009), text frames only (close 1003), messages per minute
 * (close 1008), swarms per socket and offers per announce (failure reasons), an idle timeout, sockets per
 * client address and an optional Origin allow list (refused upgrades, 429 and 403). A bad frame gets a
 * failure reason and changes nothing; nothing a client sends can throw out of a handler.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { blockedError, type Blocklists } from '../../blocklist/lists.js';
import { throttledErrorLog } from '../../common/log.js';
import type { SignalKind, WebTorrentMetrics, WsMessageType, WsOutcome, WsRejection } from '../../metrics/webtorrent.js';
import type { WebTorrentSignal } from '../../store/webtorrent-driver.js';
import type { WebTorrentAnnounceResult, WebTorrentTracker } from '../../tracker/webtorrent.js';
import { resolveClientIp, type ClientIpOptions } from '../http/client-ip.js';
import { failureOutcome, failureReason } from '../sanitize.js';
import { Connection, OFFER_LIFETIME_MS, type LastReport } from './connection.js';
import { FrameWriter } from './outbox.js';
import {
  announceReply,
  failureMessage,
  parseMessage,
  scrapeReply,
  SIGNAL_HEAD,
  signalTail,
  WsClientError,
  type WsAnnounce,
  type WsAnswer,
} from './messages.js';

export interface WsLimits {
  maxMessageBytes: number;
  idleTimeoutMs: number;
  maxConnectionsPerIp: number;
  maxSwarmsPerSocket: number;
  maxMessagesPerMinute: number;
  /** Allowed Origin header values (lower case); empty allows any. */
  origins: string[];
}

export interface WsFrontendOptions {
  tracker: WebTorrentTracker;
  metrics?: WebTorrentMetrics;
  logger: Logger;
  clientIp: ClientIpOptions;
  maxScrapeHashes: number;
  limits: WsLimits;
  /** blocklist.files: addresses whose sockets are closed (1008); absent or null: none. */
  blocklists?: Blocklists | null;
}

/** A socket that has this much unsent is too slow for more offers: they are dropped, not queued. */
const MAX_BUFFERED_BYTES = 1 << 20;
const ANNOUNCE_PATH = /^\/(?:announce)?$/;
const PASSKEY_PATH = /^\/([^/]{1,128})\/announce$/;

function pathOf(url: string | undefined): string {
  const path = url ?? '/';
  const mark = path.indexOf('?');
  return mark === -1 ? path : path.slice(0, mark);
}

/** The close reason of a blocked client: the failure reason, cut to the 123 bytes a close frame holds. */
function closeReason(list: string): string {
  let reason = blockedError(list).message;
  while (Buffer.byteLength(reason) > 123) reason = reason.slice(0, -1);
  return reason;
}

function refuseUpgrade(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${text.length}\r\n\r\n${text}`);
  socket.destroy();
}

export class WebSocketFrontend {
  private readonly wss: WebSocketServer;
  private readonly connections = new Set<Connection>();
  /** Which socket on this replica holds a peer_id (latin1): where its offers and answers go. */
  private readonly byPeer = new Map<string, Connection>();
  private readonly perAddress = new Map<string, number>();
  /** Stops sent for closed sockets, awaited at shutdown. */
  private readonly stopping = new Set<Promise<void>>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly logError: (error: unknown) => void;
  private readonly frames = new FrameWriter();
  private closing = false;

  constructor(private options: WsFrontendOptions) {
    this.logError = throttledErrorLog(options.logger);
    this.wss = new WebSocketServer({ noServer: true, maxPayload: options.limits.maxMessageBytes, perMessageDeflate: false, clientTracking: false });
    // Until the driver listens (a Redis subscription), offers from other replicas find no one here.
    options.tracker.swarms.onSignal((signal) => this.deliver(signal)).catch(this.logError);
    this.sweeper = setInterval(() => this.closeIdle(), Math.max(250, Math.min(10_000, options.limits.idleTimeoutMs / 4)));
    this.sweeper.unref();
  }
  /**
   * A configuration reload: these limits and this announce interval from the next upgrade, message or
   * answer on. The largest message stays as the server was made with it (webtorrent.max_message_bytes
   * needs a restart), and so does the idle sweep's period.
   */
  reconfigure(limits: WsLimits, announceInterval: number): void {
    this.options = { ...this.options, limits: { ...limits, maxMessageBytes: this.options.limits.maxMessageBytes } };
    this.options.tracker.interval = announceInterval;
  }

  get openSockets(): number {
    return this.connections.size;
  }

  /** The HTTP server's 'upgrade' listener. */
  readonly handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => socket.destroy());
    const path = pathOf(req.url);
    let passkey: string | undefined;
    if (!ANNOUNCE_PATH.test(path)) {
      const match = PASSKEY_PATH.exec(path);
      if (!match) return this.refuse(socket, 'path', 404, 'Not Found');
      passkey = match[1];
    }
    if (this.closing) return this.refuse(socket, 'closing', 503, 'Service Unavailable');
    const { origins, maxConnectionsPerIp } = this.options.limits;
    if (origins.length > 0 && !origins.includes(String(req.headers.origin ?? '').toLowerCase())) return this.refuse(socket, 'origin', 403, 'Forbidden');
    const ip = resolveClientIp(req.socket.remoteAddress, req.headers, this.options.clientIp);
    if (!ip) return this.refuse(socket, 'path', 400, 'Bad Request');
    const blocked = this.options.blocklists?.refuses(ip, 'webtorrent') ?? null;
    if (blocked !== null) {
      // The handshake, then a close with the reason: a browser never shows a script why an upgrade was
      // refused, but it does show a close frame's code and reason.
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        ws.close(1008, closeReason(blocked));
        // A client that never answers the close does not keep its socket for ws' own 30 s.
        setTimeout(() => ws.terminate(), 2000).unref();
      });
      return;
    }
    const address = ip.toString('hex');
    const open = this.perAddress.get(address) ?? 0;
    if (open >= maxConnectionsPerIp) return this.refuse(socket, 'ip_limit', 429, 'Too Many Requests');
    // Counted before the handshake completes, so a burst of upgrades cannot pass the cap together; a
    // handshake ws refuses (400: no key, bad version) gives the slot back when its socket closes.
    this.perAddress.set(address, open + 1);
    let accepted = false;
    socket.once('close', () => {
      if (!accepted) this.release(address);
    });
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      accepted = true;
      this.accept(ws, ip, address, passkey, req.headers['user-agent']);
    });
  };

  /** After a blocklist changed: closes (1008) the sockets whose address it now blocks. */
  readonly closeBlocked = (): void => {
    const lists = this.options.blocklists;
    if (!lists) return;
    for (const conn of this.connections) {
      const list = lists.refuses(conn.ip, 'webtorrent');
      if (list !== null) this.closeSocket(conn, 1008, closeReason(list));
    }
  };

  private release(address: string): void {
    const left = (this.perAddress.get(address) ?? 1) - 1;
    if (left > 0) this.perAddress.set(address, left);
    else this.perAddress.delete(address);
  }

  /** Closes every socket (1001), sends their stops, and waits for those up to `timeoutMs`. */
  async close(timeoutMs = 5000): Promise<void> {
    this.closing = true;
    clearInterval(this.sweeper);
    for (const conn of this.connections) this.closeSocket(conn, 1001, 'tracker shutting down');
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref());
    const drained = (async () => {
      while (this.connections.size > 0 || this.stopping.size > 0) await new Promise((resolve) => setTimeout(resolve, 20));
    })();
    await Promise.race([drained, deadline]);
    for (const conn of this.connections) conn.ws.terminate();
    this.wss.close();
  }

  private refuse(socket: Duplex, reason: WsRejection, status: number, text: string): void {
    this.options.metrics?.rejected(reason);
    refuseUpgrade(socket, status, text);
  }

  private accept(ws: WebSocket, ip: Buffer, address: string, passkey: string | undefined, userAgent: string | undefined): void {
    const conn = new Connection(ws, ip, address, passkey, Date.now(), userAgent);
    this.connections.add(conn);
    this.options.metrics?.sockets.inc();
    ws.on('error', () => ws.terminate()); // a protocol error (bad frame, too big) closes the socket; nothing more to do
    ws.on('close', () => this.onClose(conn));
    ws.on('message', (data, isBinary) => {
      if (conn.closed) return;
      if (isBinary) return this.closeSocket(conn, 1003, 'text frames only');
      if (!conn.spend(Date.now(), this.options.limits.maxMessagesPerMinute)) return this.closeSocket(conn, 1008, 'too many messages');
      void this.onText(conn, data as Buffer);
    });
  }

  private onClose(conn: Connection): void {
    if (conn.closed) return;
    conn.closed = true;
    this.connections.delete(conn);
    this.options.metrics?.sockets.dec();
    this.release(conn.address);
    for (const [infoHash, peerId] of conn.swarms) {
      if (this.byPeer.get(peerId) === conn) this.byPeer.delete(peerId);
      this.stopInBackground(conn, infoHash, peerId, conn.reports.get(infoHash + peerId));
    }
  }

  /**
   * A closed socket's peer leaves the swarm: the `stopped` it could not send, reporting the totals it
   * reported last (nothing more is known of it), so a private tracker credits no bytes twice or never.
   */
  private stopInBackground(conn: Connection, infoHash: string, peerId: string, last: LastReport | undefined): void {
    const stop = this.options.tracker
      .announce({
        infoHash,
        peerId,
        uploaded: last?.uploaded ?? 0,
        downloaded: last?.downloaded ?? 0,
        left: last?.left,
        event: 'stopped',
        offers: 0,
        numwant: 0,
        passkey: conn.passkey,
        clientAddress: conn.address,
      })
      .then(
        () => undefined,
        (error: unknown) => void failureReason(error, this.logError),
      )
      .finally(() => this.stopping.delete(stop));
    this.stopping.add(stop);
  }

  private closeIdle(): void {
    const idleSince = Date.now() - this.options.limits.idleTimeoutMs;
    for (const conn of this.connections) if (conn.lastMessage < idleSince) this.closeSocket(conn, 1000, 'idle timeout');
  }

  private count(type: WsMessageType, outcome: WsOutcome): void {
    this.options.metrics?.message(type, outcome);
  }

  /** A text frame, as UTF-8 bytes (ws checked them). */
  private async onText(conn: Connection, frame: Buffer): Promise<void> {
    let type: WsMessageType = 'invalid';
    let infoHash: string | undefined;
    try {
      const request = parseMessage(frame, this.options.maxScrapeHashes);
      type = request.action;
      if (request.action !== 'scrape') infoHash = request.infoHash;
      if (request.action === 'announce') await this.announce(conn, request);
      else if (request.action === 'answer') this.answer(conn, request);
      else {
        const counts = await this.options.tracker.scrape({ infoHashes: request.infoHashes, passkey: conn.passkey, sourceIp: conn.ip });
        this.send(conn, scrapeReply(request.infoHashes, counts));
      }
      this.count(type, 'ok');
    } catch (error) {
      this.count(type, failureOutcome(error));
      const reason = failureReason(error, this.logError);
      const action = error instanceof WsClientError ? error.action : type === 'scrape' ? 'scrape' : 'announce';
      // A refusal of a well-formed announce names its torrent: WebTorrent clients drop a failure
      // reason whose info_hash is not one of theirs.
      this.send(conn, failureMessage(reason, action, error instanceof WsClientError ? error.infoHash : infoHash));
    }
  }

  private async announce(conn: Connection, a: WsAnnounce): Promise<void> {
    const hash = a.infoHash;
    const peerId = a.peerId;
    const { maxSwarmsPerSocket } = this.options.limits;
    if (a.event !== 'stopped' && !conn.swarms.has(hash) && conn.swarms.size >= maxSwarmsPerSocket) {
      throw new WsClientError(`too many torrents on one connection (at most ${maxSwarmsPerSocket})`, 'announce', hash);
    }
    const tracker = this.options.tracker;
    // Kept before the call: a close while it is on its way stops the peer with these totals, after it
    // (the tracker sends both in order). Older totals there would count as a counter gone backwards.
    // Only sockets with a passkey are accounted (private mode): the others keep none.
    const report: LastReport = { uploaded: a.uploaded, downloaded: a.downloaded, left: a.left };
    const reportKey = hash + peerId;
    if (conn.passkey !== undefined) conn.reports.set(reportKey, report);
    let result: WebTorrentAnnounceResult;
    try {
      result = await tracker.announce({
        infoHash: a.infoHash,
        peerId: a.peerId,
        uploaded: a.uploaded,
        downloaded: a.downloaded,
        left: a.left,
        event: a.event,
        offers: a.offers.length,
        numwant: a.numwant,
        passkey: conn.passkey,
        clientAddress: conn.address,
        sourceIp: conn.ip,
        userAgent: conn.userAgent,
      });
    } catch (error) {
      // Kept only for the peer the socket holds in that swarm: refused announces leave nothing behind.
      if (conn.swarms.get(hash) !== peerId) conn.reports.delete(reportKey);
      throw error;
    }
    if (conn.closed) {
      // The socket went while the announce was on its way: its stop must come after it. A peer the socket
      // already held in that swarm was stopped by the close, after this announce and with its totals.
      if (a.event !== 'stopped' && conn.swarms.get(hash) !== peerId) this.stopInBackground(conn, hash, peerId, report);
      return;
    }
    if (a.event === 'stopped') {
      conn.swarms.delete(hash);
      conn.reports.delete(reportKey);
    } else {
      // One peer per swarm per socket: a new peer_id in the same swarm replaces the old one, which
      // leaves the swarm (else it would draw offers no socket can take until it expires).
      const before = conn.swarms.get(hash);
      if (before !== undefined && before !== peerId) {
        if (this.byPeer.get(before) === conn) this.byPeer.delete(before);
        this.stopInBackground(conn, hash, before, conn.reports.get(hash + before));
        conn.reports.delete(hash + before);
      }
      conn.swarms.set(hash, peerId);
      this.byPeer.set(peerId, conn);
    }
    this.send(conn, announceReply(a.infoHash, result.interval, result.complete, result.incomplete));
    const replica = tracker.swarms.replica;
    result.peers.forEach((peer, i) => {
      const offer = a.offers[i]!;
      this.route(peer.replica, {
        kind: 'offer',
        infoHash: a.infoHash,
        from: a.peerId,
        fromReplica: replica,
        to: peer.peerId,
        offerId: offer.offerId,
        sdp: offer.sdp,
      });
    });
  }

  /** An answer goes back only for an offer relayed to this socket's peer, unanswered and in time. */
  private answer(conn: Connection, a: WsAnswer): void {
    const offer = conn.takeOffer(a.toPeerId, a.offerId, Date.now());
    if (!offer || offer.to !== a.peerId || offer.infoHash !== a.infoHash) {
      this.options.metrics?.dropped('answer', 'forged');
      return;
    }
    this.route(offer.replica, {
      kind: 'answer',
      infoHash: a.infoHash,
      from: a.peerId,
      fromReplica: this.options.tracker.swarms.replica,
      to: a.toPeerId,
      offerId: a.offerId,
      sdp: a.sdp,
    });
  }

  private route(replica: string, signal: WebTorrentSignal): void {
    const swarms = this.options.tracker.swarms;
    if (replica === swarms.replica) {
      this.deliver(signal);
      return;
    }
    swarms.send(replica, signal).then(
      (delivered) => (delivered ? this.options.metrics?.relayed(signal.kind, 'remote') : this.options.metrics?.dropped(signal.kind, 'unreachable')),
      (error: unknown) => {
        this.options.metrics?.dropped(signal.kind, 'error');
        this.logError(error);
      },
    );
  }

  /** A signal for a socket of this replica (relayed here, or arrived from another replica). */
  private deliver(signal: WebTorrentSignal): void {
    const kind: SignalKind = signal.kind;
    const to = signal.to;
    const conn = this.byPeer.get(to);
    if (!conn || conn.closed) return this.options.metrics?.dropped(kind, 'no_socket');
    if (conn.ws.bufferedAmount + conn.outbox.queuedBytes > MAX_BUFFERED_BYTES) return this.options.metrics?.dropped(kind, 'slow_socket');
    if (kind === 'offer') {
      conn.rememberOffer(signal.offerId, {
        from: signal.from,
        to,
        infoHash: signal.infoHash,
        replica: signal.fromReplica,
        expires: Date.now() + OFFER_LIFETIME_MS,
      });
    }
    // The SDP goes as the sender's frame wrote it (frame-scan.ts): bytes, between a head and a tail.
    this.frames.sendParts(conn.outbox, SIGNAL_HEAD[kind], signal.sdp, signalTail(signal.offerId, signal.from, signal.infoHash));
    if (signal.fromReplica === this.options.tracker.swarms.replica) this.options.metrics?.relayed(kind, 'local');
  }

  /** Frames for one socket within one event-loop turn leave in one write (outbox.ts). */
  private send(conn: Connection, text: string): void {
    if (!conn.closed) this.frames.send(conn.outbox, text);
  }

  /** A close on purpose: the frames sent before it leave before its Close frame. */
  private closeSocket(conn: Connection, code: number, reason: string): void {
    this.frames.flush(conn.outbox);
    conn.ws.close(code, reason);
  }
}
