/** Configuration: defaults, a JSON file, environment overrides, validation with errors that name the key. */
import { readFileSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import { parseDuration } from './duration.js';
import { envName, LOG_LEVELS, SCHEMA, type KeySpec } from './schema.js';

export interface ListenAddress {
  host: string;
  port: number;
}

export interface Config {
  http: { addr: ListenAddress; max_query_length: number };
  /** addr is null when UDP is off. */
  udp: { addr: ListenAddress | null; secret: string; previous_secret: string; connection_id_grace: number };
  metrics: { addr: ListenAddress | null };
  tracker: { driver: string; params: Record<string, unknown> };
  backend: { driver: string; params: Record<string, unknown> };
  private_enabled: boolean;
  approved_clients_only: boolean;
  approved_torrents_only: boolean;
  /** addr is null when the management API is off. */
  admin: { addr: ListenAddress | null; token: string };
  consumer: { postgres_url: string; group: string; name: string; batch_size: number; claim_idle: number };
  announce_interval: number;
  min_announce_interval: number;
  interval_jitter: number;
  peer_ttl: number;
  default_numwant: number;
  max_numwant: number;
  max_scrape_infohashes: number;
  allow_full_scrape: boolean;
  allow_ip_spoofing: boolean;
  real_ip_header: string;
  trusted_proxies: string[];
  respect_af: boolean;
  preferred_subnet: boolean;
  preferred_ipv4_subnet: number;
  preferred_ipv6_subnet: number;
  log: { level: string };
  shutdown_timeout: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly key: string,
    readonly reason: string,
  ) {
    super(`${key}: ${reason}`);
  }
}

type Tree = Record<string, unknown>;

function isTree(value: unknown): value is Tree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function getPath(tree: Tree, path: string): unknown {
  let node: unknown = tree;
  for (const part of path.split('.')) node = isTree(node) ? node[part] : undefined;
  return node;
}

function setPath(tree: Tree, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = tree;
  for (const part of parts.slice(0, -1)) {
    if (!isTree(node[part])) node[part] = {};
    node = node[part] as Tree;
  }
  node[parts.at(-1)!] = value;
}

/** Rejects keys the schema does not know: a typo must not be silently ignored. */
function checkKnownKeys(tree: Tree, prefix = ''): void {
  for (const [name, value] of Object.entries(tree)) {
    const path = prefix + name;
    if (name.includes('.')) throw new ConfigError(path, 'unknown configuration key (nest it: {"http": {"addr": ...}}, not {"http.addr": ...})');
    const spec = SCHEMA.find((s) => s.path === path);
    if (spec) continue;
    if (isTree(value) && SCHEMA.some((s) => s.path.startsWith(path + '.'))) checkKnownKeys(value, path + '.');
    else throw new ConfigError(path, 'unknown configuration key');
  }
}

export function parseListenAddress(text: string): ListenAddress | null {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  if (!match) return null;
  const host = match[1] ?? match[2] ?? '';
  const port = Number(match[3]);
  if (port > 65535) return null;
  if (host !== '' && host !== 'localhost' && isIP(host) === 0) return null;
  return { host: host === '' ? '::' : host, port };
}

export function parseCidr(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | null {
  const [address, bits, ...rest] = text.split('/');
  if (rest.length > 0 || !address) return null;
  const version = isIP(address);
  if (version === 0) return null;
  const max = version === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  if (!(prefix >= 0 && prefix <= max)) return null;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

function validate(spec: KeySpec, value: unknown): unknown {
  const fail = (reason: string): never => {
    throw new ConfigError(spec.path, reason);
  };
  const inRange = (n: number): number => {
    if (spec.min !== undefined && n < spec.min) fail(`must be at least ${spec.min} (got ${n})`);
    if (spec.max !== undefined && n > spec.max) fail(`must be at most ${spec.max} (got ${n})`);
    return n;
  };
  switch (spec.kind) {
    case 'string':
      if (typeof value !== 'string') return fail('must be a string');
      if (value === '' && !spec.optional) fail('must not be empty');
      return value;
    case 'secret':
      if (typeof value !== 'string') return fail('must be a string');
      if (value !== '' && value.length < 16) fail('must be at least 16 characters');
      return value;
    case 'level':
      if (typeof value !== 'string' || !LOG_LEVELS.includes(value)) return fail(`must be one of ${LOG_LEVELS.join(', ')}`);
      return value;
    case 'bool':
      if (typeof value !== 'boolean') return fail('must be true or false');
      return value;
    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value)) return fail('must be an integer');
      return inRange(value);
    case 'duration': {
      const seconds = parseDuration(value);
      if (seconds === null) return fail('must be a number of seconds or a duration such as "30m", "90s", "1h"');
      if (spec.wholeSeconds && !Number.isInteger(seconds)) fail(`must be a whole number of seconds (got ${seconds})`);
      return inRange(seconds);
    }
    case 'addr': {
      if (value === '' && spec.optional) return null;
      const parsed = typeof value === 'string' ? parseListenAddress(value) : null;
      return parsed ?? fail('must be "host:port" with an IP address host, e.g. "[::]:6969" or "0.0.0.0:6969"');
    }
    case 'cidrs':
      if (!Array.isArray(value)) return fail('must be a list of CIDRs such as ["10.0.0.0/8"]');
      for (const entry of value) if (typeof entry !== 'string' || !parseCidr(entry)) fail(`${JSON.stringify(entry)} is not a CIDR`);
      return value;
    case 'object':
      if (!isTree(value)) return fail('must be an object');
      return value;
  }
}

/** Reads an environment override: JSON for lists and objects, plain text otherwise. */
function fromEnvironment(spec: KeySpec, text: string): unknown {
  const name = envName(spec.path);
  switch (spec.kind) {
    case 'int':
      return /^-?\d+$/.test(text.trim()) ? Number(text) : text;
    case 'bool':
      if (/^(true|1|yes)$/i.test(text)) return true;
      if (/^(false|0|no)$/i.test(text)) return false;
      throw new ConfigError(name, 'must be true or false');
    case 'cidrs':
      return text.trim() === '' ? [] : text.split(',').map((s) => s.trim());
    case 'object':
      try {
        return JSON.parse(text);
      } catch {
        throw new ConfigError(name, 'must be a JSON object');
      }
    default:
      return text;
  }
}

export interface LoadOptions {
  /** A configuration tree (as parsed from JSON), or the path of a JSON file. */
  config?: Tree | string;
  env?: NodeJS.ProcessEnv;
}

export function loadConfig(options: LoadOptions = {}): Config {
  let file: Tree = {};
  if (typeof options.config === 'string') {
    let text: string;
    try {
      text = readFileSync(options.config, 'utf8');
    } catch (error) {
      throw new ConfigError('--config', `cannot read ${options.config}: ${(error as Error).message}`);
    }
    try {
      const parsed: unknown = JSON.parse(text);
      if (!isTree(parsed)) throw new Error('the top level must be an object');
      file = parsed;
    } catch (error) {
      throw new ConfigError('--config', `${options.config} is not valid JSON: ${(error as Error).message}`);
    }
  } else if (options.config) {
    file = structuredClone(options.config);
  }
  checkKnownKeys(file);

  const env = options.env ?? {};
  const tree: Tree = {};
  for (const spec of SCHEMA) {
    const override = env[envName(spec.path)];
    let value = override !== undefined ? fromEnvironment(spec, override) : getPath(file, spec.path);
    if (value === undefined) value = structuredClone(spec.default);
    try {
      setPath(tree, spec.path, validate(spec, value));
    } catch (error) {
      if (override !== undefined && error instanceof ConfigError) throw new ConfigError(`${envName(spec.path)} (${spec.path})`, error.reason);
      throw error;
    }
  }
  const config = tree as unknown as Config;
  crossCheck(config);
  return config;
}

function crossCheck(config: Config): void {
  if (config.min_announce_interval > config.announce_interval) {
    throw new ConfigError('min_announce_interval', `must not exceed announce_interval (${config.announce_interval})`);
  }
  if (config.peer_ttl <= config.announce_interval + config.interval_jitter) {
    throw new ConfigError('peer_ttl', `must exceed announce_interval + interval_jitter (${config.announce_interval + config.interval_jitter}), or peers expire between announces`);
  }
  if (config.default_numwant > config.max_numwant) {
    throw new ConfigError('default_numwant', `must not exceed max_numwant (${config.max_numwant})`);
  }
  if (config.udp.addr && config.udp.secret === '' && config.tracker.driver !== 'memory') {
    throw new ConfigError('udp.secret', 'required with a shared tracker driver: every replica must accept the connection ids the others issue (set TRACKER_UDP_SECRET)');
  }
  if (config.admin.addr && config.admin.token === '') {
    throw new ConfigError('admin.token', 'required when admin.addr is set (set TRACKER_ADMIN_TOKEN)');
  }
  if (config.real_ip_header !== '' && !/^[A-Za-z0-9-]+$/.test(config.real_ip_header)) {
    throw new ConfigError('real_ip_header', 'must be a header name');
  }
}

/** The trusted proxy CIDRs as a matcher. */
export function trustedProxyList(cidrs: string[]): BlockList {
  const list = new BlockList();
  for (const text of cidrs) {
    const cidr = parseCidr(text)!;
    list.addSubnet(cidr.address, cidr.prefix, cidr.family);
  }
  return list;
}

/** The defaults, as example.json shows them. */
export function defaultTree(): Tree {
  const tree: Tree = {};
  for (const spec of SCHEMA) setPath(tree, spec.path, structuredClone(spec.default));
  return tree;
}
