/**
 * The WebRTC (WebTorrent) part of the tracker driver contract: swarms of browser peers, kept apart from
 * the compact HTTP/UDP peers, and the delivery of signalling messages (offers, answers) to the replica
 * that holds the target's WebSocket. A driver offers it as `TrackerStore.webtorrent`; without it the
 * WebSocket frontend answers every announce with a failure reason.
 *
 * Obligations (the conformance suite in src/testing/webtorrent.ts checks each one):
 * - `announce` is atomic and, for a networked store, one round trip. It registers or refreshes the peer
 *   (by peer_id) in the swarm's WebRTC set, with the replica that holds its socket, and applies the
 *   event as the compact swarms do: `stopped` removes it and picks no one; `completed` makes it a seeder
 *   and counts one snatch unless it was one; left = 0 makes it a seeder without a snatch.
 * - WebRTC peers are never in the compact swarms and compact peers never in these: the two never meet.
 * - `peers`: up to `numwant` other live peers at random (never the announcer, never the same peer twice;
 *   a seeder gets leechers only), each with the replica of its socket, in O(numwant).
 * - Counts (`complete`, `incomplete`, `downloaded`) are the WebRTC swarm's, after the announce.
 * - Peers not seen for `peerTtl` seconds are neither counted nor picked, and their routes go with them:
 *   a replica that died leaves no route behind for longer than that.
 * - Access: the same refusals as the compact announce (deny list; allow list; registration), and a
 *   refused announce changes nothing. A hybrid torrent's v2 hash is not served here (WebTorrent
 *   announces v1 hashes): registered only as a v2 hash, it is `unregistered`.
 * - Private mode (`access.userId`), as the compact announce's (driver.ts): the peer's previous reported
 *   totals are returned and replaced in the same atomic step (removed on `stopped`), in the very
 *   totals the compact swarms keep per (user, torrent, peer_id), so that a client announcing the same
 *   peer_id over HTTP/UDP and WebSocket (WebTorrent desktop does) is credited once; they expire with
 *   the compact peers' TTL (`ctx.peerTtl`), not the WebRTC one. `torrent` carries the registered terms;
 *   `snatched` says whether this announce counted a snatch (a peer counts one per torrent, whichever
 *   swarm it completes in); the per-user peer limit (`access.peerLimit`) counts these peers too and
 *   is checked before anything changes. A retried call with the same `announceId` answers as the first.
 * - `send` hands a signal to the named replica; it resolves false when no replica listens there. At
 *   most once: a lost signal is a WebRTC connection the browsers retry, not state.
 */
import type { AccountingSession } from './session.js';
import type { AnnounceEvent, SwarmCounts } from '../bittorrent/announce.js';
import type { Refusal, SwarmAccess, TorrentTerms } from './driver.js';

/**
 * A 20-byte id (info_hash, peer_id, offer_id) as WebTorrent writes it: a string of 20 code points, each
 * one byte (latin1). Kept in this form from the frame to the driver: no conversion on the hot path.
 */
export type BinaryId = string;

export interface WebTorrentAnnounce {
  infoHash: BinaryId;
  peerId: BinaryId;
  /** left = 0 */
  seeder: boolean;
  event: AnnounceEvent;
  /** Peers to pick as offer targets; 0 picks none. */
  numwant: number;
  /** Access rules, and in private mode the user and its totals (`ownPeers` does not apply here). */
  access?: SwarmAccess;
}

export interface WebTorrentPeer {
  peerId: BinaryId;
  /** The replica holding the peer's socket (WebTorrentSwarms.replica of that process). */
  replica: string;
}

export interface WebTorrentResult extends SwarmCounts {
  peers: WebTorrentPeer[];
  /** Set when access rules refused the announce; nothing was changed. */
  refused?: Refusal;
  /** Private mode: the registered torrent's terms. */
  torrent?: TorrentTerms;
  /** Private mode: the totals this peer reported last time, or null for a peer unknown until now. */
  previous?: { uploaded: number; downloaded: number } | null;
  /** Private mode: the peer's accounting session after this announce (session.ts). */
  session?: AccountingSession;
  /** This announce counted a snatch. */
  snatched?: boolean;
}

/** An offer on its way to the peer chosen for it, or an answer on its way back to the offerer. */
export interface WebTorrentSignal {
  kind: 'offer' | 'answer';
  infoHash: BinaryId;
  /** The sender's peer_id (the offerer of an offer, the answerer of an answer). */
  from: BinaryId;
  /** The replica holding the sender's socket: where the answer to an offer goes. */
  fromReplica: string;
  to: BinaryId;
  offerId: BinaryId;
  /**
   * The SDP of the `offer` or `answer` as a JSON string token, quotes and escapes included, in UTF-8
   * (checked by the frontend, relayed as it is: a view of the sender's frame, never decoded).
   */
  sdp: Uint8Array;
}

export interface WebTorrentSwarms {
  /** This process's name among the replicas: what the swarms record as the route to its sockets. */
  readonly replica: string;
  announce(request: WebTorrentAnnounce): Promise<WebTorrentResult>;
  /** The WebRTC swarms' counts, in the order given; unknown hashes count zero. */
  scrape(infoHashes: BinaryId[]): Promise<SwarmCounts[]>;
  /** Delivers a signal to another replica; false when none listens under that name. */
  send(replica: string, signal: WebTorrentSignal): Promise<boolean>;
  /** Where signals sent to this replica arrive (one handler; the WebSocket frontend); resolves once listening. */
  onSignal(handler: (signal: WebTorrentSignal) => void): Promise<void>;
}
