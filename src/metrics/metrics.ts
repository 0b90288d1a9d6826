/**
 * Prometheus metrics (prom-client). The per-request ones are numbered series (series.ts), so that counting
 * a request on the hot path is an array write, not a label hash.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { SwarmCounts } from '../bittorrent/announce.js';
import { CLIENT_NAMES, clientIndex } from '../bittorrent/clients.js';
import type { SwarmAnnounce, SwarmResult, TrackerStore } from '../store/driver.js';
import { hotSwarmsJson, type HotSwarms } from './hot-swarms.js';
import { SeriesCounter, SeriesHistogram } from './series.js';
import { StreamLagMetrics } from './stream-lag.js';

export type Protocol = 'http' | 'udp';
export type Action = 'announce' | 'scrape' | 'connect' | 'unknown';
export type Outcome = 'ok' | 'client_error' | 'server_error';

/** Hot swarms exported to Prometheus per replica (an info_hash label each): few, so the series stay bounded. */
const HOT_SWARMS_EXPORTED = 10;

/**
 * An object with every member of `target` except those of `replaced`, which it has instead. Members are
 * found by walking `target` and its prototypes (own fields, class methods, accessors; enumerable or not,
 * symbols too), so a member a store gains later is passed on without a line here: a decorator that
 * lists what it copies loses whatever it does not list. Methods are bound to `target` (they run with the
 * store as `this`, so a write to one of its fields lands on the store); accessors read `target` at each
 * access; fields are copied as they are now (a store's members are in place once its driver opened it).
 * Not a Proxy: a trap on every member read would cost the hot path, where the tracker reads the store's
 * members per announce; these are plain own properties, as the store's own are.
 */
export function passThrough<T extends object>(target: T, replaced: Partial<T>): T {
  const out = { ...replaced } as T;
  for (let level: object | null = target; level && level !== Object.prototype; level = Object.getPrototypeOf(level) as object | null) {
    for (const key of Reflect.ownKeys(level)) {
      if (key === 'constructor' || Object.prototype.hasOwnProperty.call(out, key)) continue;
      const member = Object.getOwnPropertyDescriptor(level, key)!;
      if (member.get || member.set) {
        Object.defineProperty(out, key, { get: member.get?.bind(target), set: member.set?.bind(target), enumerable: true });
      } else {
        const value: unknown = member.value;
        Object.defineProperty(out, key, { value: typeof value === 'function' ? value.bind(target) : value, enumerable: true });
      }
    }
  }
  return out;
}

const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

/** What a backend driver reports about its queue; a driver without a queue leaves these at zero. */
export class BackendMetrics {
  private readonly depthGauge: { set(value: number): void };
  private readonly recordCounter: { inc(value?: number): void };
  private readonly flushOk: { inc(value?: number): void };
  private readonly flushError: { inc(value?: number): void };
  private readonly dropCounter: { inc(value?: number): void };
  private readonly blockCounter: { inc(value?: number): void };
  private readonly uncleanCounter: { inc(value?: number): void };
  private readonly writtenOnLane: { inc(value?: number): void };
  private readonly writtenOnClient: { inc(value?: number): void };
  /** The queue's length and consumer lag, for a driver that can read them from the queue (redis-stream). */
  readonly stream: StreamLagMetrics;

  constructor(registry: Registry, backend: string) {
    this.stream = new StreamLagMetrics(registry);
    const registers = [registry];
    const labelNames = ['backend'] as const;
    this.depthGauge = new Gauge({
      name: 'tracker_backend_queue_depth',
      help: 'Accounting records buffered in memory, not yet written to the queue.',
      labelNames,
      registers,
    }).labels(backend);
    this.recordCounter = new Counter({
      name: 'tracker_backend_records_total',
      help: 'Accounting records handed to the backend.',
      labelNames,
      registers,
    }).labels(backend);
    const flushes = new Counter({
      name: 'tracker_backend_flushes_total',
      help: 'Batches written to the queue, by outcome (ok, error; an error is retried).',
      labelNames: ['backend', 'outcome'],
      registers,
    });
    this.flushOk = flushes.labels(backend, 'ok');
    this.flushError = flushes.labels(backend, 'error');
    this.dropCounter = new Counter({
      name: 'tracker_backend_dropped_total',
      help: 'Accounting records dropped because the buffer was full: the oldest under overflow drop_oldest; under block, a record that waited block_timeout or found buffer_limit announces already waiting.',
      labelNames,
      registers,
    }).labels(backend);
    this.blockCounter = new Counter({
      name: 'tracker_backend_blocked_total',
      help: 'Announces that waited for room in a full buffer (overflow policy block).',
      labelNames,
      registers,
    }).labels(backend);
    this.uncleanCounter = new Counter({
      name: 'tracker_backend_unclean_stops_total',
      help: "Previous lives of this replica (backend param replica) found to have ended without a clean shutdown when it started: what they had buffered never reached the queue (the consumer's session marks recover it at each session's next record).",
      labelNames,
      registers,
    }).labels(backend);
    const written = new Counter({
      name: 'tracker_backend_written_total',
      help: "Accounting records written to the queue, by the connection that wrote them: fast_lane (the tracker's own lean connection) or client (ioredis: when no lane is ready, after a lane's failure, or with fast_lane off).",
      labelNames: ['backend', 'path'],
      registers,
    });
    this.writtenOnLane = written.labels(backend, 'fast_lane');
    this.writtenOnClient = written.labels(backend, 'client');
    this.depthGauge.set(0);
    for (const counter of [
      this.recordCounter,
      this.flushOk,
      this.flushError,
      this.dropCounter,
      this.blockCounter,
      this.uncleanCounter,
      this.writtenOnLane,
      this.writtenOnClient,
    ])
      counter.inc(0);
  }

  uncleanStop(): void {
    this.uncleanCounter.inc();
  }

  depth(records: number): void {
    this.depthGauge.set(records);
  }

  recorded(): void {
    this.recordCounter.inc();
  }

  flushed(ok: boolean): void {
    (ok ? this.flushOk : this.flushError).inc();
  }

  dropped(records = 1): void {
    this.dropCounter.inc(records);
  }

  blocked(): void {
    this.blockCounter.inc();
  }

  written(records: number, onLane: boolean): void {
    (onLane ? this.writtenOnLane : this.writtenOnClient).inc(records);
  }
}

const PROTOCOLS: readonly Protocol[] = ['http', 'udp'];
const ACTIONS: readonly Action[] = ['announce', 'scrape', 'connect', 'unknown'];
const FAMILIES = ['4', '6'] as const;
const OUTCOMES: readonly Outcome[] = ['ok', 'client_error', 'server_error'];
const PROTOCOL_NUMBER: Record<Protocol, number> = { http: 0, udp: 1 };
const ACTION_NUMBER: Record<Action, number> = { announce: 0, scrape: 1, connect: 2, unknown: 3 };
const OUTCOME_NUMBER: Record<Outcome, number> = { ok: 0, client_error: 1, server_error: 2 };

/** Every (protocol, action) pair, numbered as protocol × ACTIONS + action. */
const LATENCY_SERIES = PROTOCOLS.flatMap((protocol) => ACTIONS.map((action) => ({ protocol, action })));
/** Every (protocol, action, family, outcome), numbered as ((pair × 2) + family) × OUTCOMES + outcome. */
const REQUEST_SERIES = LATENCY_SERIES.flatMap((pair) => FAMILIES.flatMap((family) => OUTCOMES.map((outcome) => ({ ...pair, family, outcome }))));

export class TrackerMetrics {
  readonly registry = new Registry();
  readonly started = Date.now();
  private readonly requests: SeriesCounter<'protocol' | 'action' | 'family' | 'outcome'>;
  private readonly latency: SeriesHistogram<'protocol' | 'action'>;
  private readonly driverLatency: SeriesHistogram<'driver' | 'operation'>;
  private readonly driverErrors: Counter<'driver' | 'operation'>;
  private readonly clients: SeriesCounter<'client'>;

  constructor(
    private readonly driverName: string,
    store: TrackerStore,
    /** The per-replica heavy-hitter summary of announces per swarm, when on (metrics.hot_swarms). */
    private readonly hotSwarms: HotSwarms | null = null,
  ) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requests = new SeriesCounter({
      name: 'tracker_requests_total',
      help: 'Requests answered, by protocol, action, client address family and outcome.',
      labelNames: ['protocol', 'action', 'family', 'outcome'],
      series: REQUEST_SERIES,
      registers,
    });
    this.latency = new SeriesHistogram({
      name: 'tracker_request_duration_seconds',
      help: 'Time from a parsed request to its answer.',
      labelNames: ['protocol', 'action'],
      series: LATENCY_SERIES,
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.driverLatency = new SeriesHistogram({
      name: 'tracker_driver_duration_seconds',
      help: 'Tracker driver calls.',
      labelNames: ['driver', 'operation'],
      series: [
        { driver: driverName, operation: 'announce' },
        { driver: driverName, operation: 'scrape' },
      ],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.driverErrors = new Counter({
      name: 'tracker_driver_errors_total',
      help: 'Tracker driver calls that failed.',
      labelNames: ['driver', 'operation'],
      registers,
    });
    this.clients = new SeriesCounter({
      name: 'tracker_announces_by_client_total',
      help: 'Announces that reached the tracker driver, by client (peer_id prefix mapped to a fixed list of names; "other" beyond it).',
      labelNames: ['client'],
      series: CLIENT_NAMES.map((client) => ({ client })),
      registers,
    });
    if (hotSwarms) {
      new Gauge({
        name: 'tracker_hot_swarm_announces_per_second',
        help: `Announces per second of this replica's ${HOT_SWARMS_EXPORTED} hottest swarms in its last summary window (space-saving estimate; sum by info_hash over replicas).`,
        labelNames: ['info_hash'],
        registers,
        collect() {
          this.reset();
          for (const swarm of hotSwarms.local(HOT_SWARMS_EXPORTED)) this.labels(swarm.infoHash).set(swarm.announcesPerSecond);
        },
      });
    }
    new Gauge({
      name: 'tracker_driver_ready',
      help: '1 when the tracker driver can serve (as /readyz).',
      registers,
      async collect() {
        this.set((await store.ready().catch(() => false)) ? 1 : 0);
      },
    });
    if (store.addresses) {
      const counters = store.addresses.counters;
      new Counter({
        name: 'tracker_private_address_limit_exceeded_total',
        help: 'Private mode: announces from a new address of a user already at private.addresses_per_user within private.address_window (counted whether enforced or not).',
        registers,
        collect() {
          this.reset();
          this.inc(counters.overLimit);
        },
      });
      new Counter({
        name: 'tracker_private_address_limit_refused_total',
        help: 'Private mode: of those, announces refused (private.enforce_address_limit).',
        registers,
        collect() {
          this.reset();
          this.inc(counters.refused);
        },
      });
    }
    if (store.leeching) {
      const counters = store.leeching.counters;
      new Counter({
        name: 'tracker_private_download_slots_refused_total',
        help: "Private mode: new downloads (started, bytes left) refused because their user's download_slots were all taken.",
        registers,
        collect() {
          this.reset();
          this.inc(counters.refused);
        },
      });
    }
    if (store.events) {
      const events = store.events.bind(store);
      new Counter({
        name: 'tracker_driver_events_total',
        help: 'Counts the tracker driver keeps of its own workings, by event (redis: which path announces took; see the metrics list in docs/operating.md).',
        labelNames: ['driver', 'event'],
        registers,
        collect() {
          this.reset();
          for (const [event, count] of Object.entries(events())) this.labels(driverName, event).inc(count);
        },
      });
    }
    if (store.stats) {
      const stats = store.stats.bind(store);
      new Gauge({
        name: 'tracker_swarms',
        help: "Torrents with at least one live peer, from the driver's own counters (never a scan).",
        registers,
        async collect() {
          this.set((await stats().catch(() => null))?.swarms ?? 0);
        },
      });
      new Gauge({
        name: 'tracker_peers',
        help: "Live peers of both families, from the driver's own counters (never a scan).",
        registers,
        async collect() {
          this.set((await stats().catch(() => null))?.peers ?? 0);
        },
      });
    }
  }

  /** Counts one answered request: three array writes, no allocation (see series.ts). */
  request(protocol: Protocol, action: Action, family: 4 | 6, outcome: Outcome, seconds: number): void {
    const pair = PROTOCOL_NUMBER[protocol] * ACTIONS.length + ACTION_NUMBER[action];
    this.requests.incAt((pair * 2 + (family === 4 ? 0 : 1)) * OUTCOMES.length + OUTCOME_NUMBER[outcome]);
    this.latency.observeAt(pair, seconds);
  }

  /**
   * The store as the tracker sees it: every member of `store` forwarded (see passThrough), only announce
   * and scrape replaced by timed calls that count failures, announces by client and hot swarms.
   */
  instrument(store: TrackerStore): TrackerStore {
    const latency = this.driverLatency;
    const announceErrors = this.driverErrors.labels(this.driverName, 'announce');
    const scrapeErrors = this.driverErrors.labels(this.driverName, 'scrape');
    const timed = <T>(call: Promise<T>, series: number, errors: { inc(): void }): Promise<T> => {
      const started = performance.now();
      return call.then(
        (result) => {
          latency.observeAt(series, (performance.now() - started) / 1000);
          return result;
        },
        (error: unknown) => {
          errors.inc();
          latency.observeAt(series, (performance.now() - started) / 1000);
          throw error;
        },
      );
    };
    const clients = this.clients;
    const hot = this.hotSwarms;
    return passThrough(store, {
      announce: (a: SwarmAnnounce): Promise<SwarmResult> => {
        clients.incAt(clientIndex(a.peerId));
        hot?.add(a.infoHash);
        return timed(store.announce(a), 0, announceErrors);
      },
      scrape: (hashes: Buffer[]): Promise<SwarmCounts[]> => timed(store.scrape(hashes), 1, scrapeErrors),
    });
  }

  /** The seed-era JSON view of the same numbers. */
  async stats(): Promise<Record<string, unknown>> {
    const requests: Record<string, number> = {};
    for (const { labels, value } of (await this.requests.get()).values) {
      const key = `${labels.protocol}_${labels.action}_${labels.outcome}`;
      requests[key] = (requests[key] ?? 0) + value;
    }
    const gauges: Record<string, number> = {};
    for (const name of ['tracker_swarms', 'tracker_peers', 'tracker_driver_ready']) {
      const metric = this.registry.getSingleMetric(name);
      if (metric) gauges[name.replace('tracker_', '')] = (await metric.get()).values[0]?.value ?? 0;
    }
    const clients: Record<string, number> = {};
    for (const { labels, value } of (await this.clients.get()).values) clients[labels.client!] = value;
    const hotSwarms = this.hotSwarms ? hotSwarmsJson(await this.hotSwarms.view(HOT_SWARMS_EXPORTED)) : null;
    return {
      uptime_seconds: Math.floor((Date.now() - this.started) / 1000),
      driver: this.driverName,
      requests,
      ...gauges,
      announces_by_client: clients,
      hot_swarms: hotSwarms,
    };
  }
}
