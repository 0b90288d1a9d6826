/**
 * One WebTorrent socket's state on this replica: the swarms it announced in (a close is a `stopped` in
 * each), the offers relayed to it (an answer is relayed only for one of these), and its message budget.
 */
import type { WebSocket } from 'ws';
import { Outbox } from './outbox.js';

/** How long an offer relayed to a peer may be answered: WebTorrent clients give up on an offer sooner. */
export const OFFER_LIFETIME_MS = 120_000;
/** Offers remembered per socket; the oldest go first (a peer in many busy swarms sees many offers). */
export const MAX_PENDING_OFFERS = 1000;

export interface PendingOffer {
  /** The offerer's peer_id (the one the answer goes back to). */
  from: string;
  /** The peer_id the offer was relayed to (the one that may answer it). */
  to: string;
  infoHash: string;
  /** The replica holding the offerer's socket. */
  replica: string;
  expires: number;
}

/** What a socket's peer reported last in one swarm: its close is a `stopped` reporting the same (private accounting). */
export interface LastReport {
  uploaded: number;
  downloaded: number;
  left: number | undefined;
}

export class Connection {
  closed = false;
  /** The frames it is sent in this event-loop turn (outbox.ts). */
  readonly outbox: Outbox;
  lastMessage: number;
  private windowStart: number;
  private windowCount = 0;
  /** info_hash (latin1) -> the peer_id (latin1) announced in that swarm. */
  readonly swarms = new Map<string, string>();
  /**
   * info_hash + peer_id (latin1) -> what that peer sent last, from the moment it is sent: only for the
   * peers of `swarms` and announces on their way (so at most one per swarm, and a few more).
   */
  readonly reports = new Map<string, LastReport>();
  /**
   * Offers relayed to this socket, by offer_id (latin1), oldest first. Keyed by the offer_id alone (no
   * key made by joining two ids per offer and per answer): offer_ids are 20 random bytes chosen by each
   * offerer, and an answer must name the offerer too (`takeOffer`). An offerer that sends this socket
   * an offer_id it already sent replaces its own offer; another offerer could only do so by guessing.
   */
  private readonly pending = new Map<string, PendingOffer>();
  /** At most the expiry of the oldest pending offer (offers are remembered in the order they expire). */
  private earliestExpiry = 0;

  constructor(
    readonly ws: WebSocket,
    /** The client address (after trusted proxies), 4 or 16 bytes: what request budgets count. */
    readonly ip: Buffer,
    /** The same address as hex, the per-address socket count's key. */
    readonly address: string,
    readonly passkey: string | undefined,
    now: number,
    /** The upgrade request's User-Agent (private.denied_user_agents); Node bounds the head's size. */
    readonly userAgent?: string,
  ) {
    this.lastMessage = now;
    this.windowStart = now;
    this.outbox = new Outbox(ws);
  }

  /** Counts a message against the per-minute budget; false when the socket is over it. */
  spend(now: number, perMinute: number): boolean {
    this.lastMessage = now;
    if (now - this.windowStart >= 60_000) {
      this.windowStart = now;
      this.windowCount = 0;
    }
    return ++this.windowCount <= perMinute;
  }

  rememberOffer(offerId: string, offer: PendingOffer): void {
    this.pending.delete(offerId);
    this.pending.set(offerId, offer);
    const now = offer.expires - OFFER_LIFETIME_MS;
    if (this.pending.size === 1) this.earliestExpiry = offer.expires;
    // Nothing expired and not over the cap: no walk (an iterator per relayed offer costs).
    if (this.earliestExpiry > now && this.pending.size <= MAX_PENDING_OFFERS) return;
    // Oldest first: drop what has expired, and the oldest beyond the cap.
    for (const [k, entry] of this.pending) {
      if (entry.expires > now && this.pending.size <= MAX_PENDING_OFFERS) {
        this.earliestExpiry = entry.expires;
        break;
      }
      this.pending.delete(k);
    }
  }

  /** The offer an answer answers, taken (one answer per offer), or undefined when there was none in time. */
  takeOffer(offerer: string, offerId: string, now: number): PendingOffer | undefined {
    const offer = this.pending.get(offerId);
    // An answer naming another offerer is forged: it leaves the offer to its real answer.
    if (!offer || offer.from !== offerer) return undefined;
    this.pending.delete(offerId);
    return offer.expires >= now ? offer : undefined;
  }
}
