/**
 * The WebSocket (WebTorrent) frontend's metrics, on the tracker's registry: open sockets, refused
 * upgrades, messages by type and outcome, signals relayed on this replica or to another, and signals
 * dropped with the reason. Children are bound once: counting is a property read and an add.
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

const TYPES: readonly WsMessageType[] = ['announce', 'answer', 'scrape', 'invalid'];
const OUTCOMES: readonly WsOutcome[] = ['ok', 'client_error', 'server_error'];
const KINDS: readonly SignalKind[] = ['offer', 'answer'];
const ROUTES: readonly SignalRoute[] = ['local', 'remote'];
const DROPS: readonly SignalDrop[] = ['forged', 'no_socket', 'unreachable', 'slow_socket', 'error'];
const REJECTIONS: readonly WsRejection[] = ['path', 'origin', 'ip_limit', 'closing'];

function bound<K extends string, V>(keys: readonly K[], make: (key: K) => V): Record<K, V> {
  return Object.fromEntries(keys.map((key) => [key, make(key)])) as Record<K, V>;
}

export class WebRtcMetrics {
  readonly sockets: Gauge;
  private readonly messageSeries: Record<WsMessageType, Record<WsOutcome, Inc>>;
  private readonly relayedSeries: Record<SignalKind, Record<SignalRoute, Inc>>;
  private readonly droppedSeries: Record<SignalKind, Record<SignalDrop, Inc>>;
  private readonly rejectedSeries: Record<WsRejection, Inc>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.sockets = new Gauge({ name: 'tracker_ws_sockets', help: 'Open WebTorrent WebSockets on this replica.', registers });
    const messages = new Counter({
      name: 'tracker_ws_messages_total',
      help: 'WebTorrent messages received, by type (announce, answer, scrape, invalid) and outcome.',
      labelNames: ['type', 'outcome'],
      registers,
    });
    this.messageSeries = bound(TYPES, (type) => bound(OUTCOMES, (outcome) => messages.labels(type, outcome)));
    const relayed = new Counter({
      name: 'tracker_ws_relayed_total',
      help: 'Offers and answers handed on, to a socket on this replica (local) or to the replica holding it (remote).',
      labelNames: ['kind', 'route'],
      registers,
    });
    this.relayedSeries = bound(KINDS, (kind) => bound(ROUTES, (route) => relayed.labels(kind, route)));
    const dropped = new Counter({
      name: 'tracker_ws_dropped_total',
      help: 'Offers and answers not delivered, by reason (forged, no_socket, unreachable, slow_socket, error).',
      labelNames: ['kind', 'reason'],
      registers,
    });
    this.droppedSeries = bound(KINDS, (kind) => bound(DROPS, (reason) => dropped.labels(kind, reason)));
    const rejected = new Counter({
      name: 'tracker_ws_rejected_total',
      help: 'WebSocket upgrades refused, by reason (path, origin, ip_limit, closing).',
      labelNames: ['reason'],
      registers,
    });
    this.rejectedSeries = bound(REJECTIONS, (reason) => rejected.labels(reason));
    this.sockets.set(0);
    for (const type of TYPES) for (const outcome of OUTCOMES) this.messageSeries[type][outcome].inc(0);
    for (const kind of KINDS) {
      for (const route of ROUTES) this.relayedSeries[kind][route].inc(0);
      for (const reason of DROPS) this.droppedSeries[kind][reason].inc(0);
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
