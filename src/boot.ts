/** boot(): configuration -> drivers -> tracker -> listeners, and a graceful stop. */
import type { Server } from 'node:http';
import type { Server as SecureServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import { createAdminApp } from './admin/app.js';
import { Blocklists } from './blocklist/lists.js';
import { createLimitedServer, listenHttp, type ListenerLimits } from './common/listen.js';
import type { Backend } from './backend/driver.js';
import { backendDrivers } from './backend/registry.js';
import { ConfigError, loadConfigTree, trustedProxyList, type Config, type LoadOptions } from './config/config.js';
import { blocklistOptions, TrackerReloads, webSocketLimits, type ConfigReloader, type ReloadReport } from './boot-reload.js';
import { randomBytes } from 'node:crypto';
import { createHttpApp } from './frontend/http/app.js';
import { createTrackerHttpServer, type AnyHttpServer, type ConnectionLimits } from './frontend/http/server.js';
import { CertificateReloader, readTlsPair, TlsFileError, type TlsPair } from './frontend/http/tls.js';
import { TlsMetrics } from './metrics/tls.js';
import { UdpOffenders } from './frontend/udp/offenders.js';
import { ConnectionMetrics, UdpBanMetrics } from './metrics/hygiene.js';
import { ConnectionIds } from './frontend/udp/connection-id.js';
import { shareConnectionKeys, type SharedKeysHandle } from './frontend/udp/shared-keys.js';
import { HotSwarms, hotSwarmsJson } from './metrics/hot-swarms.js';
import { BackendMetrics, TrackerMetrics } from './metrics/metrics.js';
import { BlocklistMetrics } from './metrics/blocklist.js';
import { DefenceMetrics } from './metrics/defences.js';
import { listenMetrics } from './metrics/server.js';
import { UdpFrontend } from './frontend/udp/server.js';
import { WebSocketFrontend } from './frontend/ws/server.js';
import { WebTorrentMetrics } from './metrics/webtorrent.js';
import { WebTorrentTracker } from './tracker/webtorrent.js';
import type { TrackerStore } from './store/driver.js';
import { trackerDrivers } from './store/registry.js';
import { Tracker, trackerPolicy } from './tracker/tracker.js';

export interface BootOptions extends LoadOptions {
  /** Use this logger instead of one made from `log.level`. */
  logger?: Logger;
  /** Stop gracefully and exit on SIGTERM and SIGINT (the CLI does; embedders usually manage this themselves). */
  handleSignals?: boolean;
}

export interface RunningTracker {
  /** The configuration in force (a reload replaces it). */
  readonly config: Config;
  logger: Logger;
  tracker: Tracker;
  /** The bound HTTP address (port 0 in the configuration becomes the real port here). */
  httpAddress: AddressInfo;
  /** The bound http.https_addr, when it is set. */
  httpsAddress: AddressInfo | null;
  /** The certificate of the HTTPS listener, when TLS is on: reload() reads its files again. */
  certificates: CertificateReloader | null;
  /** The bound UDP address, when UDP is on. */
  udpAddress: AddressInfo | null;
  /** The bound metrics address, when metrics are on. */
  metricsAddress: AddressInfo | null;
  /** The bound management API address, when admin.addr is set. */
  adminAddress: AddressInfo | null;
  /** Reloads: parts that take a new configuration at run time register here (src/config/reload.ts). */
  reloader: ConfigReloader;
  /** Reads the configuration again and applies what can change at run time, as SIGHUP does. */
  reload(): Promise<ReloadReport>;
  /** Stops accepting, lets in-flight requests finish (up to shutdown_timeout), then closes the drivers. */
  close(): Promise<void>;
}

export async function boot(options: BootOptions = {}): Promise<RunningTracker> {
  const source = (): LoadOptions => ({ config: options.config, env: options.env ?? process.env });
  const loaded = loadConfigTree(source());
  const config = loaded.config;
  const logger = options.logger ?? pino({ level: config.log.level });

  const trackerDriver = trackerDrivers.get(config.tracker.driver);
  if (!trackerDriver)
    throw new ConfigError('tracker.driver', `unknown driver ${JSON.stringify(config.tracker.driver)} (registered: ${trackerDrivers.names().join(', ')})`);
  const backendDriver = backendDrivers.get(config.backend.driver);
  if (!backendDriver)
    throw new ConfigError('backend.driver', `unknown driver ${JSON.stringify(config.backend.driver)} (registered: ${backendDrivers.names().join(', ')})`);

  const tlsPair = await readCertificate(config);
  const blocklists = await openBlocklists(config, logger);
  const rawStore: TrackerStore = await trackerDriver.open(config.tracker.params, {
    peerTtl: config.peer_ttl,
    webTorrentPeerTtl: config.webtorrent.peer_ttl,
    logger: logger.child({ driver: config.tracker.driver }),
  });
  // A custom driver written for a public tracker may come without a catalogue: fine, unless asked for one.
  if (!rawStore.catalogue && (config.private_enabled || config.approved_clients_only || config.approved_torrents_only)) {
    await rawStore.close();
    throw new ConfigError('tracker.driver', `the ${config.tracker.driver} driver keeps no catalogue, which private_enabled and approved_*_only need`);
  }
  if (config.allow_full_scrape && !rawStore.scrapeAll) {
    logger.warn('allow_full_scrape: the %s driver offers no full scrape; such scrapes get a failure reason', config.tracker.driver);
  }
  const hotSwarms =
    config.metrics.hot_swarms > 0
      ? new HotSwarms({ capacity: config.metrics.hot_swarms, windowSeconds: config.metrics.hot_swarms_window, shared: rawStore.shared, logger })
      : null;
  hotSwarms?.start();
  const metrics = new TrackerMetrics(config.tracker.driver, rawStore, hotSwarms);
  blocklists.observer = new BlocklistMetrics(metrics.registry, blocklists);
  const store = metrics.instrument(rawStore);
  let backend: Backend;
  try {
    backend = await backendDriver.open(config.backend.params, {
      logger: logger.child({ backend: config.backend.driver }),
      metrics: new BackendMetrics(metrics.registry, config.backend.driver),
    });
  } catch (error) {
    hotSwarms?.stop();
    await store.close();
    throw error;
  }

  let tracker: Tracker | null = null;
  const defences = new DefenceMetrics(metrics.registry, () => tracker?.budget ?? null);
  const policy = { ...trackerPolicy(config), blockedPeers: config.blocklist.peers ? blocklists : null };
  tracker = new Tracker(store, backendDriver.wantsRecords ? backend : null, policy, defences);

  // One object, read per request: a reload replaces both fields at once (boot-reload.ts).
  const clientIp = {
    trusted: config.trusted_proxies.length > 0 ? trustedProxyList(config.trusted_proxies) : null,
    header: (config.real_ip_header || 'x-forwarded-for').toLowerCase(),
  };
  const app = createHttpApp({
    tracker,
    metrics,
    logger,
    maxQueryLength: config.http.max_query_length,
    clientIp,
    externalIp: config.http.external_ip,
    blocklists,
  });
  // Koa's handler returns a promise it settles itself (errors go to the app), so nothing is left floating.
  const handleHttp = app.callback();
  const connectionMetrics = new ConnectionMetrics(metrics.registry, () => httpListener.openConnections);
  const httpListener = createTrackerHttpServer((req, res) => void handleHttp(req, res), {
    limits: httpConnectionLimits(config),
    clientIp,
    metrics: connectionMetrics,
    logger,
    tls: tlsPair && {
      context: { cert: tlsPair.cert, key: tlsPair.key },
      handshakeTimeoutMs: config.http.tls.handshake_timeout * 1000,
      separate: config.http.https_addr !== null,
    },
  });
  const server = httpListener.server;
  const secureServer = httpListener.secureServer;
  const ws = webSocketFrontend(config, store, tracker, metrics, logger, clientIp, blocklists);
  if (ws) server.on('upgrade', ws.handleUpgrade);
  if (ws) secureServer?.on('upgrade', ws.handleUpgrade);
  if (ws) blocklists.onChange(ws.closeBlocked);
  const certificates =
    tlsPair &&
    new CertificateReloader({
      files: config.http.tls,
      current: tlsPair,
      servers: [secureServer ?? (server as SecureServer)],
      logger,
      metrics: new TlsMetrics(metrics.registry),
    });
  const reloads = new TrackerReloads({ config: loaded, source, logger, registry: metrics.registry, tracker, store, clientIp, blocklists, ws, certificates });
  let udp: UdpFrontend | null = null;
  let udpAddress: AddressInfo | null = null;
  let metricsServer: Server | null = null;
  let metricsAddress: AddressInfo | null = null;
  let adminServer: Server | null = null;
  let adminAddress: AddressInfo | null = null;
  let sharedKeys: SharedKeysHandle | null = null;
  let httpsAddress: AddressInfo | null = null;
  try {
    await listenHttp(server, config.http.addr.host, config.http.addr.port);
    if (secureServer && config.http.https_addr) httpsAddress = await listenHttp(secureServer, config.http.https_addr.host, config.http.https_addr.port);
    if (config.udp.addr) {
      // A configured key wins. Otherwise the replicas of a shared driver agree on keys through it; the
      // memory driver is one process, so a key of its own is correct. Any other driver must be given one.
      let secret = config.udp.secret;
      if (!secret && !store.shared) {
        if (config.tracker.driver !== 'memory') {
          throw new ConfigError('udp.secret', `required: the ${config.tracker.driver} driver cannot share one between replicas (set TRACKER_UDP_SECRET)`);
        }
        secret = randomBytes(32).toString('hex');
      }
      const ids = new ConnectionIds(secret, config.udp.previous_secret, config.udp.connection_id_grace);
      if (!secret && store.shared) {
        sharedKeys = await shareConnectionKeys({ shared: store.shared, ids, rotateSeconds: config.udp.secret_rotation, logger });
      }
      udp = new UdpFrontend({ tracker, metrics, logger, ids, offenders: udpOffenders(config, metrics), blocklists });
      udpAddress = await udp.listen(config.udp.addr.host, config.udp.addr.port);
    }
    if (config.metrics.addr) {
      ({ server: metricsServer, address: metricsAddress } = await listenMetrics(
        metrics,
        config.metrics.addr.host,
        config.metrics.addr.port,
        auxiliaryLimits(config),
      ));
    }
    if (config.admin.addr) {
      const hotSwarmsSource = hotSwarms && (async (limit: number) => hotSwarmsJson(await hotSwarms.view(limit)));
      const connectability = tracker.connectability;
      const handleAdmin = createAdminApp({
        store,
        token: config.admin.token,
        logger: logger.child({ admin: true }),
        hotSwarms: hotSwarmsSource,
        deletedReasonTtl: config.private.deleted_reason_ttl,
        connectable: connectability ? (key) => connectability.known(key) : undefined,
        reload: (all) => reloads.reloadFromApi(all),
      }).callback();
      adminServer = createLimitedServer((req, res) => void handleAdmin(req, res), auxiliaryLimits(config));
      adminAddress = await listenHttp(adminServer, config.admin.addr.host, config.admin.addr.port);
    }
  } catch (error) {
    sharedKeys?.stop();
    hotSwarms?.stop();
    blocklists.close();
    server.close();
    secureServer?.close();
    void ws?.close(0);
    metricsServer?.close();
    adminServer?.close();
    await Promise.allSettled([store.close(), backend.close(), udp?.close()]);
    tracker.close();
    throw error;
  }
  blocklists.start();
  certificates?.start();
  const httpAddress = server.address() as AddressInfo;
  logger.info(
    {
      http: formatAddress(httpAddress),
      https: httpsAddress ? formatAddress(httpsAddress) : null,
      tls: tlsPair ? { fingerprint: tlsPair.fingerprint, not_after: tlsPair.notAfter.toISOString() } : null,
      udp: udpAddress ? formatAddress(udpAddress) : null,
      metrics: metricsAddress ? formatAddress(metricsAddress) : null,
      admin: adminAddress ? formatAddress(adminAddress) : null,
      tracker: config.tracker.driver,
      backend: config.backend.driver,
      webtorrent: ws !== null,
    },
    'tracker started',
  );

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      process.off('SIGHUP', onHangup);
      certificates?.close();
      const timeoutMs = reloads.config.shutdown_timeout * 1000;
      await Promise.all([
        ws?.close(timeoutMs),
        drain(server, timeoutMs),
        secureServer && drain(secureServer, timeoutMs),
        udp?.close(timeoutMs),
        adminServer && drain(adminServer, timeoutMs),
      ]);
      sharedKeys?.stop();
      hotSwarms?.stop();
      blocklists.close();
      metricsServer?.closeAllConnections();
      metricsServer?.close();
      await backend.flush().catch((error: unknown) => logger.error({ err: error }, 'backend flush failed at shutdown'));
      tracker.close();
      await Promise.allSettled([backend.close(), store.close()]);
      logger.info('tracker stopped');
    })();
    return closing;
  };

  // SIGHUP reloads the configuration and the certificates (boot-reload.ts).
  const onHangup = (): void => void reloads.reload('signal');
  if (options.handleSignals) {
    process.on('SIGHUP', onHangup);
    const onSignal = (signal: NodeJS.Signals): void => {
      logger.info({ signal }, 'stopping');
      close().then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'unclean stop');
          process.exit(1);
        },
      );
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }

  return {
    get config() {
      return reloads.config;
    },
    logger,
    tracker,
    httpAddress,
    httpsAddress,
    certificates,
    udpAddress,
    metricsAddress,
    adminAddress,
    reloader: reloads.reloader,
    reload: () => reloads.reload('api'),
    close,
  };
}

function httpConnectionLimits(config: Config): ConnectionLimits {
  return {
    headerTimeoutMs: config.http.header_timeout * 1000,
    requestTimeoutMs: config.http.request_timeout * 1000,
    keepAliveTimeoutMs: config.http.keep_alive_timeout * 1000,
    maxConnections: config.http.max_connections,
    maxPerAddress: config.http.max_connections_per_address,
  };
}

/** Open connections the metrics and management listeners accept: a few scrapers and operators, not the public. */
const AUXILIARY_MAX_CONNECTIONS = 64;

/** The metrics and management listeners: the tracker's timeouts, and few connections. */
function auxiliaryLimits(config: Config): ListenerLimits {
  return { ...httpConnectionLimits(config), maxConnections: AUXILIARY_MAX_CONNECTIONS };
}

/** http.tls's certificate and key, read and checked (null when TLS is off); a bad pair stops the start. */
async function readCertificate(config: Config): Promise<TlsPair | null> {
  const { cert, key } = config.http.tls;
  if (cert === '') return null;
  try {
    return await readTlsPair({ cert, key });
  } catch (error) {
    throw error instanceof TlsFileError ? new ConfigError(error.key, error.message) : error;
  }
}

/** The lists of blocklist.files, loaded (none when there are none: a reload may add some); a file that cannot be loaded stops the start. */
async function openBlocklists(config: Config, logger: Logger): Promise<Blocklists> {
  try {
    return await Blocklists.open(blocklistOptions(config, logger));
  } catch (error) {
    throw new ConfigError('blocklist.files', (error as Error).message);
  }
}

/** The table of UDP addresses that send invalid packets; null when bans are off (ban_threshold 0). */
function udpOffenders(config: Config, metrics: TrackerMetrics): UdpOffenders | null {
  if (config.udp.ban_threshold === 0) return null;
  const offenders: UdpOffenders = new UdpOffenders({
    threshold: config.udp.ban_threshold,
    windowMs: config.udp.ban_window * 1000,
    banMs: config.udp.ban_duration * 1000,
    tableSize: config.udp.ban_table_size,
    metrics: new UdpBanMetrics(metrics.registry, () => offenders.bannedCount()),
  });
  return offenders;
}

/** The WebTorrent frontend, when it is on and the driver keeps WebRTC swarms. */
function webSocketFrontend(
  config: Config,
  store: TrackerStore,
  tracker: Tracker,
  metrics: TrackerMetrics,
  logger: Logger,
  clientIp: { trusted: ReturnType<typeof trustedProxyList> | null; header: string },
  blocklists: Blocklists | null,
): WebSocketFrontend | null {
  const settings = config.webtorrent;
  if (!settings.enabled) return null;
  // A driver without WebRTC swarms: no upgrades (the start line says webtorrent: false).
  if (!store.webtorrent) return null;
  return new WebSocketFrontend({
    tracker: new WebTorrentTracker(tracker, store.webtorrent, settings.announce_interval),
    metrics: new WebTorrentMetrics(metrics.registry),
    logger: logger.child({ frontend: 'ws' }),
    clientIp,
    blocklists,
    maxScrapeHashes: config.max_scrape_infohashes,
    limits: webSocketLimits(settings),
  });
}

function formatAddress(address: AddressInfo): string {
  return address.family === 'IPv6' ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
}

/** Stops accepting; idle keep-alive connections go at once, busy ones after their response or the timeout. */
function drain(server: AnyHttpServer, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const sweeper = setInterval(() => server.closeIdleConnections(), 50);
    const deadline = setTimeout(() => server.closeAllConnections(), timeoutMs);
    server.close(() => {
      clearInterval(sweeper);
      clearTimeout(deadline);
      resolve();
    });
    server.closeIdleConnections();
  });
}
