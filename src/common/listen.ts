import type { Server } from 'node:http';
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
