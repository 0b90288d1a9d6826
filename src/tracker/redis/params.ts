/** The `redis` tracker driver's parameters (`tracker.params`), validated with errors that name the key. */
export interface HostPort {
  host: string;
  port: number;
}

export interface RedisParams {
  /** Standalone: redis://[user:password@]host:port[/db] */
  url?: string;
  /** Sentinel: the sentinels and the master's name. */
  sentinels?: HostPort[];
  name?: string;
  /** Cluster: some of its nodes. */
  cluster?: HostPort[];
  username?: string;
  password?: string;
  /** Prefix of every key (the hash tag follows it). */
  prefix: string;
  /** Milliseconds before a command is given up. */
  commandTimeout: number;
  /** Milliseconds to establish a connection. */
  connectTimeout: number;
  /** Extra attempts for a command that failed on a broken connection, within the command timeout. */
  retries: number;
  /** Swarm size above which selection takes a random window instead of ZRANDMEMBER. */
  windowThreshold: number;
  /** Seconds the torrent hash (snatch count) lives after its last announce; 0 keeps it. */
  torrentTtl: number;
  /** Cluster: send scrapes to replicas. */
  scrapeFromReplicas: boolean;
  /** Exact same-subnet-first selection through lexicographic indexes (twice the memory). */
  subnetIndex: boolean;
  /** Private mode: passkeys cached in process (least recently used go first). */
  userCacheSize: number;
}

export const REDIS_PARAM_DOCS: Record<string, string> = {
  url: 'standalone Redis, "redis://[user:password@]host:port[/db]" (default redis://127.0.0.1:6379)',
  sentinels: 'Sentinel: list of "host:port"; needs name',
  name: 'Sentinel: the master group name',
  cluster: 'Redis Cluster: list of "host:port" of some nodes',
  username: 'ACL user name (Sentinel and Cluster; standalone takes it in the url)',
  password: 'password (Sentinel and Cluster; standalone takes it in the url)',
  prefix: 'prefix of every key (default "t:")',
  command_timeout: 'milliseconds before a Redis command fails (default 500)',
  connect_timeout: 'milliseconds to connect (default 2000)',
  retries: 'extra attempts after a connection error, within command_timeout (default 1)',
  window_threshold: 'swarm size above which peers are picked from a random window instead of ZRANDMEMBER (default 10000)',
  torrent_ttl: 'seconds a torrent\'s snatch count outlives its last announce; 0 keeps it (default 30 days)',
  scrape_from_replicas: 'Cluster: answer scrapes from replicas (default false)',
  user_cache_size: 'private mode: users cached in each process by passkey, least recently used dropped first (default 100000)',
  subnet_index: 'exact same-subnet-first selection with a lexicographic index per peer set: twice the memory (default false: over-sampling)',
};

function fail(key: string, reason: string): never {
  throw new Error(`tracker.params.${key}: ${reason}`);
}

function hostPorts(key: string, value: unknown): HostPort[] {
  if (!Array.isArray(value) || value.length === 0) fail(key, 'must be a non-empty list of "host:port"');
  return value.map((entry) => {
    const match = typeof entry === 'string' ? /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(entry) : null;
    if (!match) fail(key, `${JSON.stringify(entry)} is not "host:port"`);
    return { host: match[1] ?? match[2]!, port: Number(match[3]) };
  });
}

function integer(key: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) fail(key, `must be an integer from ${min} to ${max}`);
  return value;
}

function text(key: string, value: unknown): string {
  if (typeof value !== 'string') fail(key, 'must be a string');
  return value;
}

export function parseRedisParams(raw: Record<string, unknown>): RedisParams {
  const params: RedisParams = {
    prefix: 't:',
    commandTimeout: 500,
    connectTimeout: 2000,
    retries: 1,
    windowThreshold: 10_000,
    torrentTtl: 30 * 86400,
    scrapeFromReplicas: false,
    subnetIndex: false,
    userCacheSize: 100_000,
  };
  for (const [key, value] of Object.entries(raw)) {
    switch (key) {
      case 'url':
        if (typeof value !== 'string' || !/^rediss?:\/\//.test(value)) fail(key, 'must be a redis:// or rediss:// URL');
        params.url = value;
        break;
      case 'sentinels': params.sentinels = hostPorts(key, value); break;
      case 'name': params.name = text(key, value); break;
      case 'cluster': params.cluster = hostPorts(key, value); break;
      case 'username': params.username = text(key, value); break;
      case 'password': params.password = text(key, value); break;
      case 'prefix':
        params.prefix = text(key, value);
        if (/[{}]/.test(params.prefix)) fail(key, 'must not contain { or } (keys carry their own hash tag)');
        break;
      case 'command_timeout': params.commandTimeout = integer(key, value, 10, 60_000); break;
      case 'connect_timeout': params.connectTimeout = integer(key, value, 10, 60_000); break;
      case 'retries': params.retries = integer(key, value, 0, 5); break;
      case 'window_threshold': params.windowThreshold = integer(key, value, 100, 10_000_000); break;
      case 'user_cache_size': params.userCacheSize = integer(key, value, 1, 10_000_000); break;
      case 'torrent_ttl': params.torrentTtl = integer(key, value, 0, 10 * 365 * 86400); break;
      case 'scrape_from_replicas':
        if (typeof value !== 'boolean') fail(key, 'must be true or false');
        params.scrapeFromReplicas = value;
        break;
      case 'subnet_index':
        if (typeof value !== 'boolean') fail(key, 'must be true or false');
        params.subnetIndex = value;
        break;
      default:
        fail(key, `unknown parameter of the redis driver (it takes ${Object.keys(REDIS_PARAM_DOCS).join(', ')})`);
    }
  }
  const modes = [params.url !== undefined, params.sentinels !== undefined, params.cluster !== undefined].filter(Boolean).length;
  if (modes > 1) fail('url', 'give one of url, sentinels or cluster');
  if (params.sentinels && !params.name) fail('name', 'Sentinel needs the master group name');
  return params;
}
