/**
 * Every configuration key, as one zod schema: its type, default, limits and meaning. Validation, the
 * `Config` type (inferred from it), environment overrides, example.json and docs/configuration.md all
 * follow this schema (tests keep example.json and the generated reference in step).
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { blocklistSection } from './blocklist.js';
import { connectableKeys } from './connectable.js';
import { bool, duration, integer, section } from './leaves.js';
import { MAX_PORT_RULES, parsePortRange } from './ports.js';
import { ACROSS_KEYS } from './errors.js';
import { checkTls, tlsSection } from './tls.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export interface ListenAddress {
  host: string;
  port: number;
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

// Leaf builders (integer, duration, bool, section) are in leaves.ts.

const ADDR_MESSAGE = 'must be "host:port" with an IP address host, e.g. "[::]:6969" or "0.0.0.0:6969"';

function listenAddress() {
  return z
    .string({ error: ADDR_MESSAGE })
    .transform((text, ctx) => parseListenAddress(text) ?? (ctx.addIssue({ code: 'custom', message: ADDR_MESSAGE, input: text }), z.NEVER));
}

/** A listener that "" turns off (null). */
function optionalListenAddress() {
  return z.string({ error: ADDR_MESSAGE }).transform((text, ctx) => {
    if (text === '') return null;
    return parseListenAddress(text) ?? (ctx.addIssue({ code: 'custom', message: ADDR_MESSAGE, input: text }), z.NEVER);
  });
}

const text = () => z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' });
const optionalText = () => z.string({ error: 'must be a string' });
/** A shared key: empty (unset) or at least 16 characters. */
const secret = () => z.string({ error: 'must be a string' }).refine((value) => value === '' || value.length >= 16, { error: 'must be at least 16 characters' });
const notCidr = (issue: { input?: unknown }) => `${JSON.stringify(issue.input)} is not a CIDR`;
const cidrs = () =>
  z.array(
    z.string({ error: notCidr }).refine((entry) => parseCidr(entry) !== null, { error: notCidr }),
    { error: 'must be a list of CIDRs such as ["10.0.0.0/8"]' },
  );
const notPorts = (issue: { input?: unknown }) => `${JSON.stringify(issue.input)} is not a port (1-65535) or a range of them ("6881-6889")`;
/** Ports and ranges of them, as text: ["6881-6889", "1214"]; at most MAX_PORT_RULES. */
const portRanges = () =>
  z
    .array(
      z.string({ error: notPorts }).refine((entry) => parsePortRange(entry) !== null, { error: notPorts }),
      { error: 'must be a list of ports and ranges such as ["6881-6889", "1214"]' },
    )
    .max(MAX_PORT_RULES, { error: `at most ${MAX_PORT_RULES} entries` });
/** A driver's parameters: any object here; the driver validates it with its own schema when it opens. */
const params = () => z.record(z.string(), z.unknown(), { error: 'must be an object' });

export const ConfigSchema = z
  .strictObject({
    http: section({
      addr: listenAddress()
        .prefault('[::]:6969')
        .describe('HTTP tracker listener, "host:port". "[::]" listens on every IPv4 and IPv6 address. With http.tls set (and no https_addr) it serves HTTPS.'),
      https_addr: optionalListenAddress()
        .prefault('')
        .describe('HTTPS (and WSS) listener beside a plain http.addr, "host:port"; needs http.tls. "" (the default): none.'),
      tls: tlsSection(),
      max_query_length: integer(256, 65536).prefault(8192).describe('Longest query string accepted, in bytes; longer requests get a failure reason.'),
      header_timeout: duration(1, 300)
        .prefault(5)
        .describe(
          'Seconds a connection has to send a complete request head, counted from its first byte (and from connecting, for the first request); beyond it the connection is closed.',
        ),
      request_timeout: duration(1, 3600)
        .prefault(30)
        .describe('Seconds a request may take from its first byte until its answer is written, and the most a connection may stay silent meanwhile.'),
      keep_alive_timeout: duration(1, 3600).prefault(5).describe('Seconds an idle keep-alive connection stays open after an answer.'),
      max_connections: integer(1, 1_000_000)
        .prefault(16384)
        .describe('Open HTTP connections in total; beyond it new connections are closed at once. Keep it under the open-file limit.'),
      max_connections_per_address: integer(1, 1_000_000)
        .prefault(256)
        .describe(
          'Open HTTP connections per client address (an IPv6 address counts by its /64); beyond it new ones are closed at once. From a trusted proxy: requests in flight per forwarded client address.',
        ),
      external_ip: bool()
        .prefault(true)
        .describe(
          'BEP 24: every HTTP announce answer carries "external ip", the address the tracker saw (behind trusted_proxies, the forwarded one): 4 bytes for IPv4 (and IPv4-mapped IPv6), 16 for IPv6.',
        ),
    }),
    udp: section({
      addr: optionalListenAddress().prefault('[::]:6969').describe('UDP tracker listener (BEP 15), "host:port"; "" turns UDP off.'),
      secret: secret()
        .prefault('')
        .describe(
          'Key of the UDP connection ids, shared by every replica (at least 16 characters). Unset: the replicas of a shared tracker driver agree on keys through it (made once, rotated every udp.secret_rotation); the memory driver makes one at random at start.',
        ),
      previous_secret: secret().prefault('').describe('The key before the last rotation, still accepted so that clients holding its ids are not refused.'),
      secret_rotation: duration(0, 30 * 86400, true)
        .prefault(86400)
        .describe(
          'With udp.secret unset and a shared tracker driver: seconds between rotations of the shared keys (the previous key is still accepted); 0 never rotates.',
        ),
      connection_id_grace: duration(0, 3600)
        .prefault(60)
        .describe('Seconds a UDP connection id stays valid past the two minutes of BEP 15 (some clients keep ids longer).'),
      ban_threshold: integer(0, 1_000_000)
        .prefault(100)
        .describe(
          'Invalid UDP packets (bad connection id, garbage) from one address within ban_window that get it ignored for ban_duration; 0 turns bans off. An IPv6 address counts by its /64.',
        ),
      ban_window: duration(1, 3600).prefault(60).describe('Seconds over which invalid UDP packets of one address are counted towards ban_threshold.'),
      ban_duration: duration(1, 86400)
        .prefault(300)
        .describe('Seconds a banned address is ignored: its packets without a valid connection id get no answer (connects still do).'),
      ban_table_size: integer(1, 10_000_000).prefault(65536).describe('Most addresses tracked for UDP bans at once; beyond it the oldest entry is forgotten.'),
    }),
    metrics: section({
      addr: optionalListenAddress()
        .prefault('[::]:6880')
        .describe('Metrics listener: Prometheus text on /metrics, the same numbers as JSON on /stats; "" turns it off.'),
      hot_swarms: integer(0, 4096)
        .prefault(128)
        .describe('Counters of the per-replica heavy-hitter summary of announces per swarm (the hot swarms); 0 turns it off.'),
      hot_swarms_window: duration(1, 3600)
        .prefault(60)
        .describe('Seconds of announces each hot-swarm summary covers; a shared tracker driver publishes each replica summary this often.'),
    }),
    tracker: section({
      driver: text().prefault('memory').describe('Tracker driver (where swarms live): "memory" or "redis" built in, or one a custom program registered.'),
      params: params().prefault({}).describe('Parameters of the tracker driver (memory: reap_interval, torrent_ttl; redis: see below).'),
    }),
    backend: section({
      driver: text().prefault('noop').describe('Backend driver (where private-site accounting goes): "noop" or "redis-stream" built in.'),
      params: params().prefault({}).describe('Parameters of the backend driver (redis-stream: see below).'),
    }),
    private_enabled: bool()
      .prefault(false)
      .describe(
        "Private mode: announces need a known passkey (/PASSKEY/announce) and a registered torrent; each announce's upload/download delta goes to the backend.",
      ),
    private: section({
      peers_per_torrent: integer(0, 1000)
        .prefault(0)
        .describe(
          'Private mode: most peers (distinct peer_ids) one user may run on one torrent; a new one beyond gets a failure reason, re-announces always pass. 0: no limit.',
        ),
      addresses_per_user: integer(0, 100000)
        .prefault(0)
        .describe(
          'Private mode: distinct addresses one user may announce from within address_window. Counted always (the API, /metrics); refused only with enforce_address_limit. 0: no limit.',
        ),
      address_window: duration(60, 2592000, true)
        .prefault(86400)
        .describe('Private mode: the window, in seconds, over which distinct addresses per user are counted.'),
      enforce_address_limit: bool()
        .prefault(false)
        .describe('Private mode: refuse an announce from a new address of a user already at addresses_per_user (off: only counted).'),
      deleted_reason_ttl: duration(0, 31536000, true)
        .prefault(604800)
        .describe(
          'Private mode: seconds a torrent deleted with a reason (DELETE /torrents/:info_hash {"reason"}) answers its announces "torrent deleted: <reason>" instead of "unregistered torrent". 0: reasons are not kept.',
        ),
      denied_ports: portRanges()
        .prefault([])
        .describe(
          'Private mode: announced ports refused with a failure reason naming the rule, e.g. ["6881-6889", "1214"] (clients on well-known ports that ISPs throttle, or Kazaa\'s). WebSocket peers have no port.',
        ),
      denied_user_agents: z
        .array(
          z
            .string({ error: 'must be a list of strings' })
            .min(1, { error: 'an empty rule would match every client' })
            .max(100, { error: 'a rule is at most 100 characters' })
            .refine((rule) => rule !== '^' && rule !== '$' && rule !== '^$', { error: 'an empty rule would match every client' }),
          { error: 'must be a list of strings such as ["^BitTorrent/7.9", "uTorrent/1600$"]' },
        )
        .max(100, { error: 'at most 100 rules' })
        .prefault([])
        .describe(
          'Private mode: User-Agents refused with a failure reason naming the rule (HTTP and WebSocket announces; UDP has none). A rule matches regardless of case anywhere in the User-Agent, or anchored: "^text" at its start, "text$" at its end, "^text$" all of it. No regular expressions.',
        ),
      peer_list_budget: integer(0, 1000000)
        .prefault(0)
        .describe(
          'Private mode: announces with peers one user may get per peer_list_window; past it, announces are tracked and credited but answered without peers (counted in tracker_peer_lists_withheld_total). Counted per replica. 0: no limit.',
        ),
      peer_list_window: duration(60, 86400, true).prefault(3600).describe('Private mode: the window, in seconds, of peer_list_budget.'),
      own_peers: bool()
        .prefault(false)
        .describe(
          "Private mode: return a user's own other peers (its other clients on the torrent) to it. Off: left out, so a user's seedbox never counts as its own source.",
        ),
      ...connectableKeys(),
    }),
    approved_clients_only: bool().prefault(false).describe('Only peer_ids starting with an approved client prefix (management API /clients) may announce.'),
    approved_torrents_only: bool()
      .prefault(false)
      .describe('Only info hashes on the allow list (management API /lists/allow) are tracked. The deny list always applies.'),
    admin: section({
      addr: optionalListenAddress()
        .prefault('')
        .describe('Management API listener (users, torrents, clients, lists), "host:port"; "" turns it off. Keep it off the public network.'),
      token: secret().prefault('').describe('Bearer token of the management API (at least 16 characters); required when admin.addr is set.'),
    }),
    consumer: section({
      postgres_url: text()
        .prefault('postgres://127.0.0.1:5432/shoal')
        .describe('Reference consumer (`shoal-consumer`): the PostgreSQL database its batches go to. It reads the stream named in backend.params.'),
      group: text().prefault('shoal').describe("Reference consumer: the stream's consumer group."),
      name: optionalText()
        .prefault('')
        .describe('Reference consumer: this consumer\'s name in the group; "" means host name and process id. Give each consumer its own.'),
      batch_size: integer(1, 10000).prefault(500).describe('Reference consumer: most entries applied in one PostgreSQL transaction.'),
      claim_idle: duration(1, 86400)
        .prefault(30)
        .describe('Reference consumer: seconds after which entries another consumer read but never acknowledged are claimed (XAUTOCLAIM).'),
      seed_grace: duration(0, 86400, true)
        .prefault(300)
        .describe(
          "Reference consumer: seed time counts the time between a seeding peer's announces up to the interval it was told plus this many seconds, so that a vanished peer accrues none.",
        ),
      session_retention: duration(60, 31_536_000, true)
        .prefault(86400)
        .describe(
          "Reference consumer: seconds a peer session's high-water marks (peer_sessions) are kept after its last record; at least twice peer_ttl is used. A peer the tracker forgot that announces again within it is credited from its marks, not from its new baseline.",
        ),
      metrics_addr: optionalListenAddress()
        .prefault('')
        .describe('Reference consumer: its metrics listener (Prometheus text on /metrics), "host:port"; "" turns it off.'),
    }),
    announce_interval: duration(10, 86400, true).prefault(1800).describe('Seconds between announces that clients are asked to keep (`interval`).'),
    min_announce_interval: duration(1, 86400, true)
      .prefault(900)
      .describe('Seconds clients must wait at least between announces (`min interval`, and scrape `min_request_interval`).'),
    min_interval_enforcement: z
      .enum(['off', 'answer', 'refuse'], { error: 'must be one of off, answer, refuse' })
      .prefault('answer')
      .describe(
        'An announce without an event sooner than min_announce_interval after the peer\'s last: "answer" gives counts (and peers when cheap) but writes nothing, "refuse" gives a failure reason, "off" treats it as any announce. started, completed and stopped always pass.',
      ),
    interval_jitter: duration(0, 3600, true)
      .prefault(120)
      .describe('Up to this many seconds are added at random to each `interval`, to spread re-announce storms.'),
    peer_ttl: duration(10, 604800, true)
      .prefault(3600)
      .describe('Seconds after which a peer that has not announced is dropped; must exceed announce_interval + interval_jitter.'),
    default_numwant: integer(0, 1000).prefault(50).describe('Peers returned when the client does not send numwant.'),
    max_numwant: integer(0, 1000).prefault(200).describe('Most peers returned to one announce, whatever numwant asks.'),
    max_scrape_infohashes: integer(1, 1000).prefault(74).describe('Most info_hashes in one scrape; more get a failure reason.'),
    allow_full_scrape: bool()
      .prefault(false)
      .describe('Answer a scrape without info_hash with every live swarm, from a snapshot each replica builds at most every full_scrape_interval.'),
    full_scrape_interval: duration(10, 3600, true)
      .prefault(60)
      .describe('Seconds a full scrape snapshot is served before the next is built (in the background; the stale one is served meanwhile).'),
    full_scrape_max_swarms: integer(1, 1_000_000).prefault(10_000).describe('Most swarms one full scrape lists, so that its answer stays a bounded size.'),
    allow_ip_spoofing: bool()
      .prefault(false)
      .describe('Honour the ip, ipv4 and ipv6 parameters (BEP 7 dual-stack registration). Off: only the connection address counts.'),
    real_ip_header: optionalText()
      .prefault('')
      .describe('Header naming the client address when the request comes from a trusted proxy; empty means X-Forwarded-For.'),
    trusted_proxies: cidrs().prefault([]).describe('CIDRs of proxies whose address header is believed, e.g. ["10.0.0.0/8", "::1/128"].'),
    respect_af: bool().prefault(true).describe('Return only peers of the address families the announcer has. Off: other families fill what numwant leaves.'),
    preferred_subnet: bool().prefault(false).describe("Return peers of the announcer's own subnet first."),
    preferred_ipv4_subnet: integer(1, 32).prefault(24).describe('IPv4 prefix length that counts as the same subnet.'),
    preferred_ipv6_subnet: integer(1, 128).prefault(48).describe('IPv6 prefix length that counts as the same subnet.'),
    budget: section({
      enabled: bool()
        .prefault(true)
        .describe(
          'Request budgets: announces and scrapes per address and per subnet per window, shared by every replica through a shared tracker driver; a request over budget gets a failure reason and changes nothing.',
        ),
      window: duration(1, 3600, true).prefault(60).describe('Seconds of one budget window; counts start again at each window.'),
      per_address: integer(0, 100_000_000)
        .prefault(6000)
        .describe('Announces and scrapes one address may make per window (0: no limit). 6000 a minute is 16 times a seedbox with 10,000 torrents.'),
      per_subnet: integer(0, 100_000_000)
        .prefault(60000)
        .describe('Announces and scrapes one subnet (ipv4_prefix, ipv6_prefix) may make per window (0: no limit); room for carrier-grade NAT.'),
      ipv4_prefix: integer(8, 32).prefault(24).describe('IPv4 prefix length of a budget subnet.'),
      ipv6_prefix: integer(16, 128).prefault(48).describe('IPv6 prefix length of a budget subnet.'),
      sync_interval: duration(0.05, 60)
        .prefault(1)
        .describe("Seconds between two merges of this replica's counts with the others' (shared tracker driver only); never on a request's path."),
      max_tracked: integer(1000, 10_000_000)
        .prefault(200_000)
        .describe('Most addresses, and most subnets, counted per window in each process; beyond it new ones are not counted (subnets are checked first).'),
    }),
    blocklist: blocklistSection(),
    log: section({
      level: z
        .enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` })
        .prefault('info')
        .describe(`Log level: ${LOG_LEVELS.join(', ')}.`),
    }),
    shutdown_timeout: duration(0, 600).prefault(10).describe('On SIGTERM, seconds to let in-flight requests finish before connections are cut.'),
    webtorrent: section({
      enabled: bool().prefault(true).describe('WebTorrent: WebSocket upgrades on the HTTP listener at /, /announce and /PASSKEY/announce.'),
      announce_interval: duration(10, 3600, true).prefault(120).describe('Seconds between announces WebTorrent clients are asked to keep (`interval`).'),
      peer_ttl: duration(20, 86400, true)
        .prefault(300)
        .describe(
          'Seconds after which a WebTorrent peer that has not announced is dropped, with its route to its replica; must exceed webtorrent.announce_interval.',
        ),
      idle_timeout: duration(10, 86400)
        .prefault(300)
        .describe('A WebSocket that sends nothing for this many seconds is closed; must exceed webtorrent.announce_interval.'),
      max_message_bytes: integer(4096, 1048576)
        .prefault(65536)
        .describe('Largest WebSocket message accepted, in bytes; a larger one closes the socket (1009).'),
      max_connections_per_ip: integer(1, 100000).prefault(32).describe('Most open WebSockets per client address; more upgrades are refused (429).'),
      max_swarms_per_socket: integer(1, 100000).prefault(100).describe('Most torrents one WebSocket may announce in; more get a failure reason.'),
      max_messages_per_minute: integer(10, 1000000).prefault(600).describe('Most messages one WebSocket may send a minute; more close it (1008).'),
      origins: z
        .array(z.string({ error: 'must be a list of origins' }), { error: 'must be a list of origins such as ["https://example.org"]' })
        .prefault([])
        .describe('Origin header values allowed to open a WebSocket, e.g. ["https://example.org"]; [] allows any.'),
    }),
  })
  .superRefine((config, ctx) => {
    // Checks across keys; they run once every key is valid on its own.
    const fail = (key: string, message: string): void => ctx.addIssue({ code: 'custom', path: key.split('.'), message, params: ACROSS_KEYS });
    if (config.min_announce_interval > config.announce_interval) {
      fail('min_announce_interval', `must not exceed announce_interval (${config.announce_interval})`);
    }
    if (config.peer_ttl <= config.announce_interval + config.interval_jitter) {
      fail(
        'peer_ttl',
        `must exceed announce_interval + interval_jitter (${config.announce_interval + config.interval_jitter}), or peers expire between announces`,
      );
    }
    if (config.http.header_timeout > config.http.request_timeout) {
      fail('http.header_timeout', `must not exceed http.request_timeout (${config.http.request_timeout})`);
    }
    checkTls(config.http, fail);
    if (config.default_numwant > config.max_numwant) {
      fail('default_numwant', `must not exceed max_numwant (${config.max_numwant})`);
    }
    if (config.admin.addr && config.admin.token === '') {
      fail('admin.token', 'required when admin.addr is set (set TRACKER_ADMIN_TOKEN)');
    }
    if (config.webtorrent.peer_ttl <= config.webtorrent.announce_interval) {
      fail('webtorrent.peer_ttl', `must exceed webtorrent.announce_interval (${config.webtorrent.announce_interval}), or peers expire between announces`);
    }
    if (config.webtorrent.idle_timeout <= config.webtorrent.announce_interval) {
      fail('webtorrent.idle_timeout', `must exceed webtorrent.announce_interval (${config.webtorrent.announce_interval}), or sockets close between announces`);
    }
    if (config.real_ip_header !== '' && !/^[A-Za-z0-9-]+$/.test(config.real_ip_header)) {
      fail('real_ip_header', 'must be a header name');
    }
  });

/** The configuration as the tracker uses it: durations in seconds, listeners parsed (null when off). */
export type Config = z.output<typeof ConfigSchema>;

/** How an environment variable's text becomes a value of the key. */
export type EnvForm = 'integer' | 'boolean' | 'list' | 'json' | 'text';

export interface ConfigKey {
  /** e.g. "http.addr" */
  path: string;
  /** e.g. "TRACKER_HTTP_ADDR" */
  env: string;
  /** As a file would give it (example.json). */
  default: unknown;
  doc: string;
  envForm: EnvForm;
}

interface JsonSchemaNode {
  type?: string | string[];
  properties?: Record<string, JsonSchemaNode>;
  default?: unknown;
  description?: string;
}

/** `http.addr` -> `TRACKER_HTTP_ADDR` */
export function envName(path: string): string {
  return 'TRACKER_' + path.replace(/\./g, '_').toUpperCase();
}

function envForm(node: JsonSchemaNode): EnvForm {
  switch (node.type) {
    case 'integer':
      return 'integer';
    case 'boolean':
      return 'boolean';
    case 'array':
      return 'list';
    case 'object':
      return 'json';
    default:
      return 'text';
  }
}

/** Every key (the leaves of the schema), in schema order, read from its JSON Schema (input side). */
function listKeys(): ConfigKey[] {
  const keys: ConfigKey[] = [];
  const walk = (node: JsonSchemaNode, prefix: string): void => {
    for (const [name, child] of Object.entries(node.properties ?? {})) {
      const path = prefix + name;
      if (child.type === 'object' && child.properties) walk(child, path + '.');
      else keys.push({ path, env: envName(path), default: child.default, doc: child.description ?? '', envForm: envForm(child) });
    }
  };
  walk(z.toJSONSchema(ConfigSchema, { io: 'input' }) as JsonSchemaNode, '');
  return keys;
}

export const CONFIG_KEYS: readonly ConfigKey[] = listKeys();
