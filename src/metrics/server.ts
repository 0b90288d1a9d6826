/** The metrics listener: `/metrics` for Prometheus, `/stats` as JSON. */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLimitedServer, listenHttp, type ListenerLimits } from '../common/listen.js';
import type { TrackerMetrics } from './metrics.js';

export function listenMetrics(metrics: TrackerMetrics, host: string, port: number, limits: ListenerLimits): Promise<{ server: Server; address: AddressInfo }> {
  const server = createLimitedServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const answer = async (): Promise<void> => {
      if (req.method !== 'GET') {
        res.writeHead(405).end();
      } else if (path === '/metrics') {
        const body = await metrics.registry.metrics();
        res.writeHead(200, { 'Content-Type': metrics.registry.contentType }).end(body);
      } else if (path === '/stats') {
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(await metrics.stats()) + '\n');
      } else {
        res.writeHead(404).end();
      }
    };
    answer().catch(() => res.writeHead(500).end());
  }, limits);
  return listenHttp(server, host, port).then((address) => ({ server, address }));
}
