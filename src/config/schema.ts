/**
 * Every configuration key: its type, default and meaning. Defaults, validation, environment overrides,
 * example.json and the README's table all follow this one list (a test keeps them in step).
 */

export type KeyKind = 'string' | 'secret' | 'int' | 'bool' | 'duration' | 'addr' | 'cidrs' | 'object' | 'level';

export interface KeySpec {
  path: string;
  kind: KeyKind;
  default: unknown;
  min?: number;
  max?: number;
  /** Empty string allowed (turns the feature off). */
  optional?: boolean;
  /** Durations that must be whole seconds (they go into bencoded integers and Redis TTLs). */
  wholeSeconds?: boolean;
  doc: string;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export const SCHEMA: KeySpec[] = [
  { path: 'http.addr', kind: 'addr', default: '[::]:6969', doc: 'HTTP tracker listener, "host:port". "[::]" listens on every IPv4 and IPv6 address.' },
  { path: 'http.max_query_length', kind: 'int', default: 8192, min: 256, max: 65536, doc: 'Longest query string accepted, in bytes; longer requests get a failure reason.' },
  { path: 'udp.addr', kind: 'addr', default: '[::]:6969', optional: true, doc: 'UDP tracker listener (BEP 15), "host:port"; "" turns UDP off.' },
  { path: 'udp.secret', kind: 'secret', default: '', optional: true, doc: 'Key of the UDP connection ids, shared by every replica (at least 16 characters). Required with a shared tracker driver; with the memory driver an unset key is made at random at start.' },
  { path: 'udp.previous_secret', kind: 'secret', default: '', optional: true, doc: 'The key before the last rotation, still accepted so that clients holding its ids are not refused.' },
  { path: 'udp.connection_id_grace', kind: 'duration', default: 60, min: 0, max: 3600, doc: 'Seconds a UDP connection id stays valid past the two minutes of BEP 15 (some clients keep ids longer).' },
  { path: 'metrics.addr', kind: 'addr', default: '[::]:6880', optional: true, doc: 'Metrics listener: Prometheus text on /metrics, the same numbers as JSON on /stats; "" turns it off.' },
  { path: 'tracker.driver', kind: 'string', default: 'memory', doc: 'Tracker driver (where swarms live): "memory" or "redis" built in, or one a custom program registered.' },
  { path: 'tracker.params', kind: 'object', default: {}, doc: 'Parameters of the tracker driver (memory: reap_interval, milliseconds between background expiry passes, default 250; redis: see below).' },
  { path: 'backend.driver', kind: 'string', default: 'noop', doc: 'Backend driver (where private-site accounting goes): "noop" or "redis-stream" built in.' },
  { path: 'backend.params', kind: 'object', default: {}, doc: 'Parameters of the backend driver (redis-stream: see below).' },
  { path: 'private_enabled', kind: 'bool', default: false, doc: 'Private mode: announces need a known passkey (/PASSKEY/announce) and a registered torrent; each announce\'s upload/download delta goes to the backend.' },
  { path: 'approved_clients_only', kind: 'bool', default: false, doc: 'Only peer_ids starting with an approved client prefix (management API /clients) may announce.' },
  { path: 'approved_torrents_only', kind: 'bool', default: false, doc: 'Only info hashes on the allow list (management API /lists/allow) are tracked. The deny list always applies.' },
  { path: 'admin.addr', kind: 'addr', default: '', optional: true, doc: 'Management API listener (users, torrents, clients, lists), "host:port"; "" turns it off. Keep it off the public network.' },
  { path: 'admin.token', kind: 'secret', default: '', optional: true, doc: 'Bearer token of the management API (at least 16 characters); required when admin.addr is set.' },
  { path: 'consumer.postgres_url', kind: 'string', default: 'postgres://127.0.0.1:5432/shoal', doc: 'Reference consumer (`shoal-consumer`): the PostgreSQL database its batches go to. It reads the stream named in backend.params.' },
  { path: 'consumer.group', kind: 'string', default: 'shoal', doc: 'Reference consumer: the stream\'s consumer group.' },
  { path: 'consumer.name', kind: 'string', default: '', optional: true, doc: 'Reference consumer: this consumer\'s name in the group; "" means host name and process id. Give each consumer its own.' },
  { path: 'consumer.batch_size', kind: 'int', default: 500, min: 1, max: 10000, doc: 'Reference consumer: most entries applied in one PostgreSQL transaction.' },
  { path: 'consumer.claim_idle', kind: 'duration', default: 30, min: 1, max: 86400, doc: 'Reference consumer: seconds after which entries another consumer read but never acknowledged are claimed (XAUTOCLAIM).' },
  { path: 'announce_interval', kind: 'duration', wholeSeconds: true, default: 1800, min: 10, max: 86400, doc: 'Seconds between announces that clients are asked to keep (`interval`).' },
  { path: 'min_announce_interval', kind: 'duration', wholeSeconds: true, default: 900, min: 1, max: 86400, doc: 'Seconds clients must wait at least between announces (`min interval`, and scrape `min_request_interval`).' },
  { path: 'interval_jitter', kind: 'duration', wholeSeconds: true, default: 120, min: 0, max: 3600, doc: 'Up to this many seconds are added at random to each `interval`, to spread re-announce storms.' },
  { path: 'peer_ttl', kind: 'duration', wholeSeconds: true, default: 3600, min: 10, max: 604800, doc: 'Seconds after which a peer that has not announced is dropped; must exceed announce_interval + interval_jitter.' },
  { path: 'default_numwant', kind: 'int', default: 50, min: 0, max: 1000, doc: 'Peers returned when the client does not send numwant.' },
  { path: 'max_numwant', kind: 'int', default: 200, min: 0, max: 1000, doc: 'Most peers returned to one announce, whatever numwant asks.' },
  { path: 'max_scrape_infohashes', kind: 'int', default: 74, min: 1, max: 1000, doc: 'Most info_hashes in one scrape; more get a failure reason.' },
  { path: 'allow_full_scrape', kind: 'bool', default: false, doc: 'Answer a scrape without info_hash with every swarm (memory driver only; costly on big trackers).' },
  { path: 'allow_ip_spoofing', kind: 'bool', default: false, doc: 'Honour the ip, ipv4 and ipv6 parameters (BEP 7 dual-stack registration). Off: only the connection address counts.' },
  { path: 'real_ip_header', kind: 'string', default: '', optional: true, doc: 'Header naming the client address when the request comes from a trusted proxy; empty means X-Forwarded-For.' },
  { path: 'trusted_proxies', kind: 'cidrs', default: [], doc: 'CIDRs of proxies whose address header is believed, e.g. ["10.0.0.0/8", "::1/128"].' },
  { path: 'respect_af', kind: 'bool', default: true, doc: 'Return only peers of the address families the announcer has. Off: other families fill what numwant leaves.' },
  { path: 'preferred_subnet', kind: 'bool', default: false, doc: 'Return peers of the announcer\'s own subnet first.' },
  { path: 'preferred_ipv4_subnet', kind: 'int', default: 24, min: 1, max: 32, doc: 'IPv4 prefix length that counts as the same subnet.' },
  { path: 'preferred_ipv6_subnet', kind: 'int', default: 48, min: 1, max: 128, doc: 'IPv6 prefix length that counts as the same subnet.' },
  { path: 'log.level', kind: 'level', default: 'info', doc: `Log level: ${LOG_LEVELS.join(', ')}.` },
  { path: 'shutdown_timeout', kind: 'duration', default: 10, min: 0, max: 600, doc: 'On SIGTERM, seconds to let in-flight requests finish before connections are cut.' },
];

/** `http.addr` -> `TRACKER_HTTP_ADDR` */
export function envName(path: string): string {
  return 'TRACKER_' + path.replace(/\./g, '_').toUpperCase();
}
