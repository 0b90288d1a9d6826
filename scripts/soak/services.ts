/**
 * The programs under test, as black boxes: three tracker replicas (`node dist/src/cli.js --config`, the
 * redis driver in private mode, the redis-stream backend) and the reference consumer
 * (`node dist/src/consumer/cli.js --config`), each with a JSON configuration file the soak writes.
 * A replica keeps its ports across restarts, as a pod behind a Service would.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseStreamParams } from '../../src/backend/stream/params.js';
import { freePort } from '../../test/helpers/redis.js';
import { NodeService } from './children.js';
import type { ReplicaAddress } from './client.js';

const TRACKER_CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const CONSUMER_CLI = fileURLToPath(new URL('../../src/consumer/cli.js', import.meta.url));

export const STREAM_KEY = 'shoal:accounting';
export const CONSUMER_GROUP = 'shoal';
export const ADMIN_TOKEN = 'soak-admin-token-0123456789';
const UDP_SECRET = 'soak-udp-secret-0123456789abcdef';

/** The tracker settings the soak's clients are written against (the sessions read MIN_ANNOUNCE_INTERVAL). */
export const ANNOUNCE_INTERVAL = 10;
export const MIN_ANNOUNCE_INTERVAL = 2;
export const PEER_TTL = 120;
/** backend.params.flush_interval: the most a SIGKILLed replica can have held unwritten. */
export const FLUSH_INTERVAL_MS = 1000;

/**
 * backend.params.replica, a stable name per replica slot, if this build's redis-stream backend accepts it
 * (it is being added; a build that refuses unknown keys would not start with it).
 */
export function replicaParamAccepted(connection: Record<string, unknown>): boolean {
  try {
    parseStreamParams({ ...connection, replica: 'r1' });
    return true;
  } catch {
    return false;
  }
}

export interface Replica extends ReplicaAddress {
  adminPort: number;
  service: NodeService;
}

/** Writes each replica's configuration and returns the replicas, not started. */
export async function planReplicas(count: number, dir: string, connection: Record<string, unknown>, withReplicaParam: boolean): Promise<Replica[]> {
  const replicas: Replica[] = [];
  for (let i = 1; i <= count; i++) {
    const label = `r${i}`;
    const [httpPort, udpPort, adminPort] = [await freePort(), await freePort(), await freePort()];
    const config = {
      // "[::]": one listener for 127.0.0.1 and ::1, so that one replica serves a dual-stack client's
      // two families (the listener takes IPv4 as mapped addresses); only loopback clients use it.
      http: { addr: `[::]:${httpPort}`, max_connections_per_address: 4096 },
      udp: { addr: `[::]:${udpPort}`, secret: UDP_SECRET },
      metrics: { addr: '' },
      admin: { addr: `127.0.0.1:${adminPort}`, token: ADMIN_TOKEN },
      tracker: { driver: 'redis', params: { ...connection } },
      backend: {
        driver: 'redis-stream',
        params: { ...connection, stream: STREAM_KEY, flush_interval: FLUSH_INTERVAL_MS, ...(withReplicaParam ? { replica: label } : {}) },
      },
      private_enabled: true,
      announce_interval: ANNOUNCE_INTERVAL,
      min_announce_interval: MIN_ANNOUNCE_INTERVAL,
      // peer_ttl must exceed announce_interval + interval_jitter.
      interval_jitter: 2,
      peer_ttl: PEER_TTL,
      // Every simulated client announces from 127.0.0.1 or ::1: the per-address budgets (6000 a minute)
      // would refuse the soak's own load, which is a crowd, not one address.
      budget: { enabled: false },
      webtorrent: { enabled: false },
      shutdown_timeout: 3,
      log: { level: 'info' },
    };
    const file = join(dir, `tracker-${label}.json`);
    writeFileSync(file, JSON.stringify(config, null, 2));
    replicas.push({
      label,
      httpPort,
      udpPort,
      adminPort,
      service: new NodeService(`tracker ${label}`, [TRACKER_CLI, '--config', file], join(dir, `tracker-${label}.log`), '"tracker started"'),
    });
  }
  return replicas;
}

export function planConsumer(dir: string, connection: Record<string, unknown>, postgresUrl: string): NodeService {
  const config = {
    backend: { driver: 'redis-stream', params: { ...connection, stream: STREAM_KEY } },
    consumer: {
      postgres_url: postgresUrl,
      group: CONSUMER_GROUP,
      // A stable name: a restarted consumer first re-reads what it held unacknowledged.
      name: 'soak-consumer',
      claim_idle: 5,
    },
    // The consumer prunes active_peers by peer_ttl; the intervals are there because peer_ttl is checked against them.
    peer_ttl: PEER_TTL,
    announce_interval: ANNOUNCE_INTERVAL,
    min_announce_interval: MIN_ANNOUNCE_INTERVAL,
    interval_jitter: 2,
    log: { level: 'info' },
  };
  const file = join(dir, 'consumer.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  return new NodeService('consumer', [CONSUMER_CLI, '--config', file], join(dir, 'consumer.log'), '"consumer started"');
}
