/**
 * Configuration reloads of a running tracker (src/config/reload.ts does the reading, validating and
 * diffing): the parts boot() registers, SIGHUP, the management API's POST /config/reload, and the
 * request to every replica of a shared driver (?all=true) through the store.
 *
 * What a part applies is swapped in by replacing the one reference its readers go through: the
 * Tracker's policy object (read once per request), the client-address rules object (its two fields
 * together), the WebSocket frontend's options, the blocklists' list array. A key no part owns needs a
 * restart: listeners and their connection limits, drivers and their parameters, peer_ttl, the UDP
 * keys and bans, the management API, the connectability check, and the like.
 */
import type { CertificateReloader } from './frontend/http/tls.js';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { Blocklists } from './blocklist/lists.js';
import { trustedProxyList, type Config, type LoadedConfig, type LoadOptions } from './config/config.js';
import { ConfigReloader, RELOAD_OUTCOMES, type ReloadOutcome, type ReloadReport } from './config/reload.js';
import type { ClientIpOptions } from './frontend/http/client-ip.js';
import type { WebSocketFrontend, WsLimits } from './frontend/ws/server.js';
import type { SharedState, TrackerStore } from './store/driver.js';
import { trackerPolicy, type Tracker } from './tracker/tracker.js';

export { ConfigReloader, type ReloadablePart, type ReloadReport } from './config/reload.js';

/** The tracker's policy keys: what trackerPolicy() reads, save those behind the connectability check and download slots. */
const POLICY_KEYS = [
  'announce_interval',
  'min_announce_interval',
  'interval_jitter',
  'min_interval_enforcement',
  'default_numwant',
  'max_numwant',
  'max_scrape_infohashes',
  'allow_full_scrape',
  'full_scrape_interval',
  'full_scrape_max_swarms',
  'allow_ip_spoofing',
  'respect_af',
  'preferred_subnet',
  'preferred_ipv4_subnet',
  'preferred_ipv6_subnet',
  'approved_clients_only',
  'approved_torrents_only',
  'budget.',
  'blocklist.peers',
  'private.peers_per_torrent',
  'private.own_peers',
  'private.denied_user_agents',
  'private.denied_ports',
  'private.peer_list_budget',
  'private.peer_list_window',
  'private.addresses_per_user',
  'private.address_window',
  'private.enforce_address_limit',
];

const WEBTORRENT_KEYS = [
  'webtorrent.announce_interval',
  'webtorrent.idle_timeout',
  'webtorrent.max_connections_per_ip',
  'webtorrent.max_swarms_per_socket',
  'webtorrent.max_messages_per_minute',
  'webtorrent.origins',
];

/** What a reload for every replica answers. */
export interface ReloadAnswer extends ReloadReport {
  /** ?all=true: whether the request went to the other replicas, and how many subscribers received it. */
  published?: { subscribers: number } | false;
}

export interface ReloadParts {
  config: LoadedConfig;
  source: () => LoadOptions;
  logger: Logger;
  registry: Registry;
  tracker: Tracker;
  store: TrackerStore;
  clientIp: ClientIpOptions;
  blocklists: Blocklists;
  ws: WebSocketFrontend | null;
  /** http.tls's certificate files, re-read by every reload (their paths need a restart). */
  certificates?: CertificateReloader | null;
}

/** The WebSocket frontend's limits a configuration asks for. */
export function webSocketLimits(settings: Config['webtorrent']): WsLimits {
  return {
    maxMessageBytes: settings.max_message_bytes,
    idleTimeoutMs: settings.idle_timeout * 1000,
    maxConnectionsPerIp: settings.max_connections_per_ip,
    maxSwarmsPerSocket: settings.max_swarms_per_socket,
    maxMessagesPerMinute: settings.max_messages_per_minute,
    origins: settings.origins.map((origin) => origin.toLowerCase()),
  };
}

/** The blocklists' settings a configuration asks for. */
export function blocklistOptions(config: Config, logger: Logger) {
  const settings = config.blocklist;
  return {
    files: settings.files,
    maxFileBytes: settings.max_file_bytes,
    maxRanges: settings.max_ranges,
    checkIntervalMs: settings.check_interval * 1000,
    logger: logger.child({ blocklist: true }),
  };
}

/** A running tracker's reloads: the reloader with boot()'s parts, logged and counted. */
export class TrackerReloads {
  readonly reloader: ConfigReloader;
  /** This process among the replicas: a reload it publishes is not applied twice. */
  private readonly replica = randomBytes(8).toString('hex');
  private readonly shared: SharedState | undefined;
  private readonly logger: Logger;
  private readonly certificates: CertificateReloader | null;

  constructor(parts: ReloadParts) {
    const { tracker, store, clientIp, blocklists, ws } = parts;
    this.logger = parts.logger;
    this.certificates = parts.certificates ?? null;
    this.shared = store.shared;
    const counter = new Counter({
      name: 'tracker_config_reloads_total',
      help: 'Configuration reloads (SIGHUP, POST /config/reload, or one published by another replica), by outcome: applied, unchanged, restart_needed (some changed keys wait for a restart; the others are applied), invalid (nothing changed; see the log).',
      labelNames: ['outcome'],
      registers: [parts.registry],
    });
    const outcomes = new Map<ReloadOutcome, { inc(): void }>();
    for (const outcome of RELOAD_OUTCOMES) {
      const child = counter.labels(outcome);
      child.inc(0);
      outcomes.set(outcome, child);
    }
    this.reloader = new ConfigReloader(parts.source, parts.config, (report) => outcomes.get(report.outcome)!.inc());
    const reloader = this.reloader;

    reloader.register({
      name: 'tracker policy',
      keys: POLICY_KEYS,
      prepare: (next) => {
        // boot() refuses these without a catalogue; so does a reload.
        if (!store.catalogue && (next.approved_clients_only || next.approved_torrents_only)) {
          throw new Error(`the ${next.tracker.driver} driver keeps no catalogue, which approved_*_only need`);
        }
        const policy = { ...trackerPolicy(next), blockedPeers: next.blocklist.peers ? blocklists : null };
        return () => tracker.reconfigure(policy);
      },
    });
    reloader.register({
      name: 'client addresses',
      keys: ['trusted_proxies', 'real_ip_header'],
      prepare: (next) => {
        const trusted = next.trusted_proxies.length > 0 ? trustedProxyList(next.trusted_proxies) : null;
        const header = (next.real_ip_header || 'x-forwarded-for').toLowerCase();
        return () => Object.assign(clientIp, { trusted, header });
      },
    });
    reloader.register({
      name: 'blocklist.files',
      keys: ['blocklist.files', 'blocklist.check_interval', 'blocklist.max_file_bytes', 'blocklist.max_ranges'],
      prepare: (next) => blocklists.prepare(blocklistOptions(next, parts.logger)),
    });
    reloader.register({
      name: 'log',
      keys: ['log.level'],
      // pino's children follow their parent's level unless made with one of their own.
      prepare: (next) => () => void (parts.logger.level = next.log.level),
    });
    // Read where it is used (the stop), from the configuration in force.
    reloader.register({ name: 'shutdown', keys: ['shutdown_timeout'], prepare: () => () => undefined });
    if (ws) {
      reloader.register({
        name: 'webtorrent',
        keys: WEBTORRENT_KEYS,
        prepare: (next) => {
          const limits = webSocketLimits(next.webtorrent);
          return () => ws.reconfigure(limits, next.webtorrent.announce_interval);
        },
      });
    }
    this.shared?.onReload?.((origin) => {
      if (origin !== this.replica) void this.reload('published');
    });
  }

  /** The configuration in force. */
  get config(): Config {
    return this.reloader.config;
  }

  /** Reloads this process's configuration, and logs what it did; `cause` is for the log. */
  async reload(cause: 'signal' | 'api' | 'published'): Promise<ReloadReport> {
    const report = await this.reloader.reload();
    // Certificates renewed in place (certbot, cert-manager) are read again whatever the file says; a bad
    // pair keeps the served one and is logged and counted by the reloader itself.
    await this.certificates?.reload();
    const fields = { cause, changed: report.changed, restart: report.restart, unchanged: report.unchanged };
    if (report.outcome === 'invalid') this.logger.error({ cause, errors: report.errors }, 'configuration not reloaded: invalid, nothing changed');
    else if (report.restart.length > 0) this.logger.warn(fields, 'configuration reloaded; some changed keys need a restart and keep their old value');
    else this.logger.info(fields, report.outcome === 'applied' ? 'configuration reloaded' : 'configuration reloaded: nothing changed');
    return report;
  }

  /** POST /config/reload: this process, and with `all` every replica of a shared driver. */
  async reloadFromApi(all: boolean): Promise<ReloadAnswer> {
    const report = await this.reload('api');
    if (!all) return report;
    // Published even when this replica's file is invalid: each replica reads its own file.
    if (!this.shared?.publishReload) return { ...report, published: false };
    const subscribers = await this.shared.publishReload(this.replica);
    return { ...report, published: { subscribers } };
  }
}
