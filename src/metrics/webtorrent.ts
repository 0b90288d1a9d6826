/**
 * The WebSocket (WebTorrent) frontend's metrics, on the tracker's registry: open sockets, refused
 * upgrades, messages by type and outcome, signals relayed on this replica or to another, and signals
 * dropped with the reason. Counting is an add to a plain number, handed to prom-client when the registry
 * is read: a bound prom-client child still hashes its labels on every inc() (a few counted per
 * message) (measured: docs/performance.md, "Hand-written hot paths").
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export type WsMessageType = 'announce' | 'answer' | 'scrape' | 'invalid';
export type WsOutcome = 'ok' | 'client_error' | 'server_error';
export type WsRejection = 'path' | 'origin' | 'ip_limit' | 'closing';
export type SignalKind = 'offer' | 'answer';
export type SignalRoute = 'local' | 'remote';
/**
 * forged: an answer for no offer relayed to that peer (or one too old); no_socket: the target's socket
 * is not on this replica any more; unreachable: no replica listens under the route's name (it died);
 * slow_socket: the target reads too slowly; error: the store failed to deliver.
 */
export type SignalDrop = 'forged' | 'no_socket' | 'unreachable' | 'slow_socket' | 'error';

interface Inc {
  inc(value?: number): void;
}

/** One series' count, added to its prom-client child when the registry is read (Counter collect). */
class Tally {
  private count = 0;
  private reported = 0;

  constructor(private readonly child: Inc) {}

  inc(): void {
    this.count++;
  }

  report(): void {
    if (this.count === this.reported) return;
    this.child.inc(this.count - this.reported);
    this.reported = this.count;
  }
}

/** A counter's series, reported when the registry is read: `collect` of the Counter they belong to. */
function tallies(): { make: (child: Inc) => Tally; collect: () => void } {
  const all: Tally[] = [];
  return {
    make: (child) => {
      const tally = new Tally(child);
      all.push(tally);
      return tally;
    },
    collect: () => {
      for (const tally of all) tally.report();
    },
  };
}

const TYPES: readonly WsMessageType[] = ['announce', 'answer', 'scrape', 'invalid'];
const OUTCOMES: readonly WsOutcome[] = ['ok', 'client_error', 'server_error'];
const KINDS: readonly SignalKind[] = ['offer', 'answer'];
const ROUTES: readonly SignalRoute[] = ['local', 'remote'];
const DROPS: readonly SignalDrop[] = ['forged', 'no_socket', 'unreachable', 'slow_socket', 'error'];
const REJECTIONS: readonly WsRejection[] = ['path', 'origin', 'ip_limit', 'closing'];

function bound<K extends string, V>(keys: readonly K[], make: (key: K) => V): Record<K, V> {
  return Object.fromEntries(keys.map((key) => [key, make(key)])) as Record<K, V>;
}

export class WebTorrentMetrics {
  readonly sockets: Gauge;
  private readonly messageSeries: Record<WsMessageType, Record<WsOutcome, Tally>>;
  private readonly relayedSeries: Record<SignalKind, Record<SignalRoute, Tally>>;
  private readonly droppedSeries: Record<SignalKind, Record<SignalDrop, Tally>>;
  private readonly rejectedSeries: Record<WsRejection, Inc>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.sockets = new Gauge({ name: 'tracker_ws_sockets', help: 'Open WebTorrent WebSockets on this replica.', registers });
    const messageTallies = tallies();
    const messages = new Counter({
      name: 'tracker_ws_messages_total',
      help: 'WebTorrent messages received, by type (announce, answer, scrape, invalid) and outcome.',
      labelNames: ['type', 'outcome'],
      registers,
      collect: messageTallies.collect,
    });
    this.messageSeries = bound(TYPES, (type) => bound(OUTCOMES, (outcome) => messageTallies.make(messages.labels(type, outcome))));
    const relayedTallies = tallies();
    const relayed = new Counter({
      name: 'tracker_ws_relayed_total',
      help: 'Offers and answers handed on, to a socket on this replica (local) or to the replica holding it (remote).',
      labelNames: ['kind', 'route'],
      registers,
      collect: relayedTallies.collect,
    });
    this.relayedSeries = bound(KINDS, (kind) => bound(ROUTES, (route) => relayedTallies.make(relayed.labels(kind, route))));
    const droppedTallies = tallies();
    const dropped = new Counter({
      name: 'tracker_ws_dropped_total',
      help: 'Offers and answers not delivered, by reason (forged, no_socket, unreachable, slow_socket, error).',
      labelNames: ['kind', 'reason'],
      registers,
      collect: droppedTallies.collect,
    });
    this.droppedSeries = bound(KINDS, (kind) => bound(DROPS, (reason) => droppedTallies.make(dropped.labels(kind, reason))));
    const rejected = new Counter({
      name: 'tracker_ws_rejected_total',
      help: 'WebSocket upgrades refused, by reason (path, origin, ip_limit, closing).',
      labelNames: ['reason'],
      registers,
    });
    this.rejectedSeries = bound(REJECTIONS, (reason) => rejected.labels(reason));
    this.sockets.set(0);
    // Every series from the start at 0 (the tallies report only what they counted).
    for (const type of TYPES) for (const outcome of OUTCOMES) messages.labels(type, outcome).inc(0);
    for (const kind of KINDS) {
      for (const route of ROUTES) relayed.labels(kind, route).inc(0);
      for (const reason of DROPS) dropped.labels(kind, reason).inc(0);
    }
    for (const reason of REJECTIONS) this.rejectedSeries[reason].inc(0);
  }

  message(type: WsMessageType, outcome: WsOutcome): void {
    this.messageSeries[type][outcome].inc();
  }

  relayed(kind: SignalKind, route: SignalRoute): void {
    this.relayedSeries[kind][route].inc();
  }

  dropped(kind: SignalKind, reason: SignalDrop): void {
    this.droppedSeries[kind][reason].inc();
  }

  rejected(reason: WsRejection): void {
    this.rejectedSeries[reason].inc();
  }
}
