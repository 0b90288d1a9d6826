/**
 * The tracker's HTTP listener with its connection hygiene: a connection must send its request head within
 * the header timeout, a request must be done within the request timeout, an idle keep-alive connection goes
 * after the keep-alive timeout, open connections are capped per client address and in total (beyond a
 * cap a new connection is closed at once), and a malformed request gets a tiny 400 and a close. Without
 * these, connections that send a byte every few seconds are held for minutes (node's defaults: 60 s for a
 * head, 300 s for a request, timeouts checked every 30 s), and a few tens of thousands of them exhaust the
 * process's files. node times a head from the moment the connection is made (or, after a keep-alive wait,
 * from the next request's first byte), so a connection that sends nothing goes after the header timeout too.
 *
 * Behind a trusted proxy the TCP connection is the proxy's, shared by many clients: its connections are
 * not capped per address (only in total), and `maxPerAddress` caps instead the requests in flight per
 * forwarded client address, answered with a failure reason beyond it (the proxy's connection stays open).
 *
 * With TLS the same rules hold on the HTTPS listener (on its own, or beside the plain one, sharing the
 * caps), and a TLS handshake must be done within its own timeout: until then no HTTP timer runs, so without
 * it a connection that opens a handshake and stalls would be held for node's default two minutes.
 */
import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import { createServer as createSecureServer, type Server as SecureServer } from 'node:https';
import type { Socket } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import type { Logger } from 'pino';
import { parseIp } from '../../bittorrent/address.js';
import type { ConnectionMetrics } from '../../metrics/hygiene.js';
import { addressKey, AddressCounter } from '../address-key.js';
import { isTrusted, resolveClientIp, type ClientIpOptions } from './client-ip.js';
import { writeFailure } from './writer.js';

export interface ConnectionLimits {
  headerTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnections: number;
  maxPerAddress: number;
}

export interface TrackerHttpServerOptions {
  limits: ConnectionLimits;
  clientIp: ClientIpOptions;
  metrics?: ConnectionMetrics;
  /** Told (at most once a minute) when the total cap turns connections away. */
  logger?: Logger;
  /** HTTPS: the certificate and key, and where to serve them. */
  tls?: TrackerTlsOptions | null;
}

export interface TrackerTlsOptions {
  context: SecureContextOptions;
  handshakeTimeoutMs: number;
  /** true: `server` stays plain HTTP and `secureServer` serves HTTPS beside it; false: `server` is HTTPS. */
  separate: boolean;
}

/** A plain or an HTTPS listener: the same HTTP machinery either way. */
export type AnyHttpServer = Server | SecureServer;

export interface TrackerHttpServer {
  /** The http.addr listener (HTTPS when TLS is on without a separate address). */
  server: AnyHttpServer;
  /** The http.https_addr listener, when there is one. */
  secureServer: SecureServer | null;
  /** HTTP connections open now (refused ones never count). */
  readonly openConnections: number;
}

// Answers written straight to the socket: no header a client needs, nothing to parse.
const BAD_REQUEST = Buffer.from('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n', 'latin1');
const HEAD_TOO_LARGE = Buffer.from('HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n', 'latin1');
const REQUEST_TIMEOUT = Buffer.from('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n', 'latin1');
const TOO_MANY_IN_FLIGHT = writeFailure('too many requests in flight from your address, try again later');

/** node's timed-out-head check runs on an interval: often enough that a head is cut close to its timeout. */
function checkingInterval(headerTimeoutMs: number): number {
  return Math.max(100, Math.min(1000, Math.floor(headerTimeoutMs / 4)));
}

interface HttpSocket extends Socket {
  /** node's response in flight on this socket, if any. */
  _httpMessage?: { headersSent?: boolean } | null;
}

export function createTrackerHttpServer(handle: (req: IncomingMessage, res: ServerResponse) => void, options: TrackerHttpServerOptions): TrackerHttpServer {
  const { limits, clientIp, metrics } = options;
  const perAddress = new AddressCounter(limits.maxPerAddress);
  const inFlight = new AddressCounter(limits.maxPerAddress);
  /** Connections from trusted proxies: their requests are capped by forwarded address instead. */
  const proxySockets = new WeakSet<Socket>();
  let open = 0;

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const socket = req.socket;
    if (proxySockets.has(socket)) {
      const ip = resolveClientIp(socket.remoteAddress, req.headers, clientIp);
      if (ip) {
        const key = addressKey(ip);
        if (!inFlight.tryAcquire(key)) {
          metrics?.refusedForwarded();
          res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': TOO_MANY_IN_FLIGHT.length }).end(TOO_MANY_IN_FLIGHT);
          return;
        }
        res.once('close', () => inFlight.release(key));
      }
    }
    handle(req, res);
  };

  const httpOptions: ServerOptions = {
    headersTimeout: limits.headerTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: checkingInterval(limits.headerTimeoutMs),
  };
  const tls = options.tls ?? null;
  const secure = (): SecureServer => createSecureServer({ ...httpOptions, ...tls!.context, handshakeTimeout: tls!.handshakeTimeoutMs }, onRequest);
  const server: AnyHttpServer = tls && !tls.separate ? secure() : createServer(httpOptions, onRequest);
  const secureServer = tls?.separate ? secure() : null;

  const guard = (server: AnyHttpServer): void => {
    // How long a connection may stay silent while its request is answered (a client that stops reading).
    server.timeout = limits.requestTimeoutMs;
    // Beyond it node closes an accepted connection before making a socket of it, and emits 'drop'.
    server.maxConnections = limits.maxConnections;
    let warnedAt = -Infinity;
    server.on('drop', () => {
      metrics?.closed('total_cap');
      const now = performance.now();
      if (options.logger && now - warnedAt >= 60_000) {
        warnedAt = now;
        options.logger.warn('http.max_connections (%d) reached: new connections are closed at once', limits.maxConnections);
      }
    });

    // node's own connection listener makes a parser for every socket: a refused one is closed before it runs.
    const httpListeners = server.listeners('connection') as Array<(socket: Socket) => void>;
    server.removeAllListeners('connection');
    server.on('connection', (socket: Socket) => {
      const ip = socket.remoteAddress ? parseIp(socket.remoteAddress) : null;
      if (!ip) {
        socket.destroy(); // already gone
        return;
      }
      // Each listener has node's cap; beside each other they share it here.
      if (secureServer && open >= limits.maxConnections) {
        metrics?.closed('total_cap');
        socket.destroy();
        return;
      }
      let key: string | null = null;
      if (clientIp.trusted && isTrusted(clientIp.trusted, ip)) {
        proxySockets.add(socket);
      } else {
        key = addressKey(ip);
        if (!perAddress.tryAcquire(key)) {
          metrics?.closed('address_cap');
          socket.destroy();
          return;
        }
      }
      open++;
      socket.once('close', () => {
        open--;
        if (key !== null) perAddress.release(key);
      });
      for (const listener of httpListeners) listener.call(server, socket);
    });

    // With a listener here node no longer destroys a timed-out socket itself: this does, and says why.
    server.on('timeout', (socket: HttpSocket) => {
      const idle = socket.bytesWritten > 0 && !socket._httpMessage;
      metrics?.closed(idle ? 'keep_alive_idle' : 'timeout');
      socket.destroy();
    });

    server.on('clientError', (error: NodeJS.ErrnoException, socket: HttpSocket) => {
      const code = error.code ?? '';
      const timeout = code === 'ERR_HTTP_REQUEST_TIMEOUT';
      // A reset, a broken pipe or an end in the middle of a head (HPE_INVALID_EOF_STATE) is the client
      // leaving: nothing to answer, nothing to count.
      const malformed = code.startsWith('HPE_') && code !== 'HPE_INVALID_EOF_STATE';
      // A head over the limit (node's max header size) is answered as node itself would: 431.
      const answer = timeout ? REQUEST_TIMEOUT : code === 'HPE_HEADER_OVERFLOW' ? HEAD_TOO_LARGE : BAD_REQUEST;
      if ((timeout || malformed) && socket.writable && !socket._httpMessage?.headersSent) socket.write(answer);
      // A handshake that failed (no common cipher, plain HTTP on the HTTPS port) or was not done in time.
      const handshake = code.startsWith('ERR_SSL_') || code === 'ERR_TLS_HANDSHAKE_TIMEOUT';
      if (timeout) metrics?.closed('timeout');
      else if (handshake) metrics?.closed('tls_handshake');
      else if (malformed) metrics?.closed('malformed');
      socket.destroy();
    });
  };
  guard(server);
  if (secureServer) guard(secureServer);

  return {
    server,
    secureServer,
    get openConnections() {
      return open;
    },
  };
}
