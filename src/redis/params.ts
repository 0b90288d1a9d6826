/**
 * Where Redis is and how long to wait for it: the connection parameters shared by the tracker's redis
 * driver (`tracker.params`), the redis-stream backend driver (`backend.params`) and its consumer. Each
 * puts this shape into its own schema, with its own command timeout, and parses the connection out of it.
 */
import { z } from 'zod';
import { integerParam, textParam } from '../config/params.js';

const notHostPort = (issue: { input?: unknown }) => `${JSON.stringify(issue.input)} is not "host:port"`;
const HOST_PORT = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/;

const hostPort = z
  .string({ error: notHostPort })
  .regex(HOST_PORT, { error: notHostPort })
  .transform((text) => {
    const match = HOST_PORT.exec(text)!;
    return { host: match[1] ?? match[2]!, port: Number(match[3]) };
  });

const NOT_A_LIST = 'must be a non-empty list of "host:port"';
const hostPorts = () => z.array(hostPort, { error: NOT_A_LIST }).min(1, { error: NOT_A_LIST });
const URL_MESSAGE = 'must be a redis:// or rediss:// URL';

/** The connection keys, with the command timeout's default and meaning given by the driver. */
export function redisConnectionShape(commandTimeout: { default: number; doc: string }) {
  return {
    url: z
      .string({ error: URL_MESSAGE })
      .regex(/^rediss?:\/\//, { error: URL_MESSAGE })
      .optional()
      .describe('standalone Redis, "redis://[user:password@]host:port[/db]" (default redis://127.0.0.1:6379)'),
    sentinels: hostPorts().optional().describe('Sentinel: list of "host:port"; needs name'),
    name: textParam().optional().describe('Sentinel: the master group name'),
    cluster: hostPorts().optional().describe('Redis Cluster: list of "host:port" of some nodes'),
    username: textParam().optional().describe('ACL user name (Sentinel and Cluster; standalone takes it in the url)'),
    password: textParam().optional().describe('password (Sentinel and Cluster; standalone takes it in the url)'),
    command_timeout: integerParam(10, 60_000).default(commandTimeout.default).describe(commandTimeout.doc),
    connect_timeout: integerParam(10, 60_000).default(2000).describe('milliseconds to connect (default 2000)'),
  };
}

type ConnectionInput = z.output<z.ZodObject<ReturnType<typeof redisConnectionShape>>>;

/** The checks that span several connection keys (a superRefine of the driver's schema). */
export function checkRedisConnection(params: ConnectionInput, ctx: z.RefinementCtx): void {
  const modes = [params.url !== undefined, params.sentinels !== undefined, params.cluster !== undefined].filter(Boolean).length;
  if (modes > 1) ctx.addIssue({ code: 'custom', path: ['url'], message: 'give one of url, sentinels or cluster' });
  if (params.sentinels && !params.name) ctx.addIssue({ code: 'custom', path: ['name'], message: 'Sentinel needs the master group name' });
}

/** The connection part of a driver's parsed parameters, as connectRedis takes it. */
export function redisConnection(params: ConnectionInput) {
  return {
    /** Standalone: redis://[user:password@]host:port[/db] */
    url: params.url,
    /** Sentinel: the sentinels and the master's name. */
    sentinels: params.sentinels,
    name: params.name,
    /** Cluster: some of its nodes. */
    cluster: params.cluster,
    username: params.username,
    password: params.password,
    /** Milliseconds before a command is given up. */
    commandTimeout: params.command_timeout,
    /** Milliseconds to establish a connection. */
    connectTimeout: params.connect_timeout,
  };
}

type ParsedConnection = ReturnType<typeof redisConnection>;
/** What connectRedis takes: the timeouts, and where Redis is (nothing: the standalone default). */
export type RedisConnectionParams = Partial<ParsedConnection> & Pick<ParsedConnection, 'commandTimeout' | 'connectTimeout'>;
export type HostPort = z.output<typeof hostPort>;
