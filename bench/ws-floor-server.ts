/**
 * The floor of the WebTorrent bench (bench/webtorrent.ts): a bare `ws` server doing only what the
 * protocol needs per relayed offer, with no tracker logic: parse each frame once; for an announce,
 * answer it and forward each offer to another socket of its swarm (round robin, never the sender);
 * for an answer, forward it to the socket of to_peer_id. No validation, no limits, no pending-offer
 * bookkeeping, no expiry, no metrics: what `ws` (and JSON) cost per relayed offer on this machine.
 *
 * Frames for one socket within one event-loop turn leave in one write (cork at the first, uncork after
 * the turn's I/O), as shoal does: that is the cheapest way to use ws' public send, and without it the
 * floor would sit above the tracker it is the floor of. With the argument `raw`, frames go through
 * shoal's own FrameWriter instead (src/frontend/ws/outbox.ts: one buffer of ready-made frames per socket
 * per turn, written to the TCP socket): the floor of a relay that, like shoal, bypasses ws' Sender.
 * Prints {"port":N}.
 */
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { FrameWriter, Outbox } from '../src/frontend/ws/outbox.js';

interface Peer {
  ws: WebSocket;
  outbox: Outbox;
  corked: boolean;
  /** Where it joined (info_hash, peer_id): it leaves on close, as the load generator reconnects each round. */
  joined: Array<[string, string]>;
}

interface Message {
  info_hash: string;
  peer_id: string;
  to_peer_id?: string;
  offer_id?: string;
  answer?: unknown;
  offers?: Array<{ offer: unknown; offer_id: string }>;
}

const swarms = new Map<string, { peers: Peer[]; next: number }>();
const byPeerId = new Map<string, Peer>();
const corked: Peer[] = [];

const socketOf = (ws: WebSocket): Duplex | null => (ws as unknown as { _socket: Duplex | null })._socket;

function uncorkAll(): void {
  for (const peer of corked.splice(0)) {
    peer.corked = false;
    socketOf(peer.ws)?.uncork();
  }
}

const frames = process.argv[2] === 'raw' ? new FrameWriter() : null;

function send(peer: Peer, text: string): void {
  if (frames) {
    frames.send(peer.outbox, text);
    return;
  }
  if (!peer.corked) {
    peer.corked = true;
    socketOf(peer.ws)?.cork();
    if (corked.push(peer) === 1) setImmediate(uncorkAll);
  }
  peer.ws.send(text);
}

function onMessage(self: Peer, m: Message): void {
  const hash = JSON.stringify(m.info_hash);
  if (m.answer !== undefined) {
    const to = byPeerId.get(m.to_peer_id!);
    if (to)
      send(
        to,
        `{"action":"announce","answer":${JSON.stringify(m.answer)},"offer_id":${JSON.stringify(m.offer_id)},"peer_id":${JSON.stringify(m.peer_id)},"info_hash":${hash}}`,
      );
    return;
  }
  let swarm = swarms.get(m.info_hash);
  if (!swarm) swarms.set(m.info_hash, (swarm = { peers: [], next: 0 }));
  if (!byPeerId.has(m.peer_id)) {
    byPeerId.set(m.peer_id, self);
    swarm.peers.push(self);
    self.joined.push([m.info_hash, m.peer_id]);
  }
  send(self, `{"action":"announce","interval":120,"info_hash":${hash},"complete":0,"incomplete":${swarm.peers.length}}`);
  const from = JSON.stringify(m.peer_id);
  for (const offer of m.offers ?? []) {
    let to = swarm.peers[swarm.next++ % swarm.peers.length]!;
    if (to === self) to = swarm.peers[swarm.next++ % swarm.peers.length]!;
    if (to === self) continue;
    send(to, `{"action":"announce","offer":${JSON.stringify(offer.offer)},"offer_id":${JSON.stringify(offer.offer_id)},"peer_id":${from},"info_hash":${hash}}`);
  }
}

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, clientTracking: false, maxPayload: 65536 });
wss.on('connection', (ws) => {
  const self: Peer = { ws, outbox: new Outbox(ws), corked: false, joined: [] };
  ws.on('error', () => ws.terminate());
  ws.on('close', () => {
    for (const [hash, peerId] of self.joined) {
      byPeerId.delete(peerId);
      const swarm = swarms.get(hash)!;
      swarm.peers.splice(swarm.peers.indexOf(self), 1);
      if (swarm.peers.length === 0) swarms.delete(hash);
    }
  });
  ws.on('message', (data) => onMessage(self, JSON.parse((data as Buffer).toString('utf8')) as Message));
});
wss.on('listening', () => console.log(JSON.stringify({ port: (wss.address() as { port: number }).port })));
// A clean exit on SIGINT/SIGTERM (lets --cpu-prof write its profile when profiling it).
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(0));
