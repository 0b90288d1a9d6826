/**
 * Where Redis is and how long to wait for it: the connection parameters shared by the tracker's redis
 * driver (`tracker.params`), the redis-stream backend driver (`backend.params`) and its consumer.
 */
export interface HostPort {
  host: string;
  port: number;
}

/**
 * Where Redis is and how long to wait for it: the part shared by the tracker driver and by the
 * redis-stream backend driver and its consumer, which parse it with their own section name and defaults.
 */
export interface RedisConnectionParams {
  /** Standalone: redis://[user:password@]host:port[/db] */
  url?: string;
  /** Sentinel: the sentinels and the master's name. */
  sentinels?: HostPort[];
  name?: string;
  /** Cluster: some of its nodes. */
  cluster?: HostPort[];
  username?: string;
  password?: string;
  /** Milliseconds before a command is given up. */
  commandTimeout: number;
  /** Milliseconds to establish a connection. */
  connectTimeout: number;
}

/** The connection keys, documented once for every driver that takes them. */
export const REDIS_CONNECTION_PARAM_DOCS: Record<string, string> = {
  url: 'standalone Redis, "redis://[user:password@]host:port[/db]" (default redis://127.0.0.1:6379)',
  sentinels: 'Sentinel: list of "host:port"; needs name',
  name: 'Sentinel: the master group name',
  cluster: 'Redis Cluster: list of "host:port" of some nodes',
  username: 'ACL user name (Sentinel and Cluster; standalone takes it in the url)',
  password: 'password (Sentinel and Cluster; standalone takes it in the url)',
  command_timeout: 'milliseconds before a Redis command fails',
  connect_timeout: 'milliseconds to connect (default 2000)',
};

/** A driver parameter that is wrong; `key` is its full path, e.g. "backend.params.batch_size". */
export class ParamError extends Error {
  constructor(
    readonly key: string,
    readonly reason: string,
  ) {
    super(`${key}: ${reason}`);
  }
}

/** Validation helpers whose errors name the key under its section. */
export class ParamReader {
  constructor(readonly section: string) {}

  fail(key: string, reason: string): never {
    throw new ParamError(`${this.section}.${key}`, reason);
  }

  hostPorts(key: string, value: unknown): HostPort[] {
    if (!Array.isArray(value) || value.length === 0) this.fail(key, 'must be a non-empty list of "host:port"');
    return value.map((entry) => {
      const match = typeof entry === 'string' ? /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(entry) : null;
      if (!match) this.fail(key, `${JSON.stringify(entry)} is not "host:port"`);
      return { host: match[1] ?? match[2]!, port: Number(match[3]) };
    });
  }

  integer(key: string, value: unknown, min: number, max: number): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) this.fail(key, `must be an integer from ${min} to ${max}`);
    return value;
  }

  text(key: string, value: unknown): string {
    if (typeof value !== 'string') this.fail(key, 'must be a string');
    return value;
  }

  bool(key: string, value: unknown): boolean {
    if (typeof value !== 'boolean') this.fail(key, 'must be true or false');
    return value;
  }

  /** Reads one connection key into params; false when the key is not a connection key. */
  connectionKey(params: RedisConnectionParams, key: string, value: unknown): boolean {
    switch (key) {
      case 'url':
        if (typeof value !== 'string' || !/^rediss?:\/\//.test(value)) this.fail(key, 'must be a redis:// or rediss:// URL');
        params.url = value;
        return true;
      case 'sentinels': params.sentinels = this.hostPorts(key, value); return true;
      case 'name': params.name = this.text(key, value); return true;
      case 'cluster': params.cluster = this.hostPorts(key, value); return true;
      case 'username': params.username = this.text(key, value); return true;
      case 'password': params.password = this.text(key, value); return true;
      case 'command_timeout': params.commandTimeout = this.integer(key, value, 10, 60_000); return true;
      case 'connect_timeout': params.connectTimeout = this.integer(key, value, 10, 60_000); return true;
      default: return false;
    }
  }

  /** The checks that span several connection keys, once all are read. */
  checkConnection(params: RedisConnectionParams): void {
    const modes = [params.url !== undefined, params.sentinels !== undefined, params.cluster !== undefined].filter(Boolean).length;
    if (modes > 1) this.fail('url', 'give one of url, sentinels or cluster');
    if (params.sentinels && !params.name) this.fail('name', 'Sentinel needs the master group name');
  }
}

