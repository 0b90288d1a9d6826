import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Binds an HTTP server (tracker, metrics, admin) and resolves with its bound address, or rejects with
 * the bind error (address in use, permission). "::" with ipv6Only off takes IPv4 too, as IPv4-mapped
 * addresses, so one listener serves both families.
 */
export function listenHttp(server: Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, ipv6Only: false }, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

/** Timeouts of a listener, in milliseconds, and its cap on open connections. */
export interface ListenerLimits {
  headerTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnections: number;
}

/**
 * An HTTP server for the metrics and management listeners, with the tracker's timeouts and a small cap on
 * open connections: node's defaults hold a slow head for 60 s and a silent connection for ever, and every
 * held connection is a file of the same process the tracker needs (the metrics listener is public by default).
 */
export function createLimitedServer(handler: RequestListener, limits: ListenerLimits): Server {
  const server = createServer(
    {
      headersTimeout: limits.headerTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // node times heads on an interval: often enough that a slow head goes close to its timeout.
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(limits.headerTimeoutMs / 4))),
    },
    handler,
  );
  // A connection silent for this long (one that never sends a byte, too) is closed.
  server.timeout = limits.requestTimeoutMs;
  server.maxConnections = limits.maxConnections;
  return server;
}
