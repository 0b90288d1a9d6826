/**
 * The WebTorrent load generator (a process of its own, on the other CPU): many WebSockets, each a
 * browser peer in one of a few swarms. After every socket has joined its swarm, each one announces in a
 * closed loop with `offers` offers per announce and answers every offer it receives at once, for
 * `seconds`. Prints one JSON line: announces answered (with latency percentiles), offers received,
 * answers sent and received, failures.
 *
 *   node dist/bench/ws-load.js '{"urls":["ws://127.0.0.1:6969/"],"sockets":200,...}'
 */
import { randomBytes } from 'node:crypto';
import { WebSocket } from 'ws';

export interface WsLoadOptions {
  /** Tracker URLs; socket i uses urls[i % urls.length] (two replicas: half the sockets on each). */
  urls: string[];
  sockets: number;
  swarms: number;
  offers: number;
  sdpBytes: number;
  seconds: number;
  /**
   * Passive peers per swarm besides the looping sockets: a socket each, announced once at the start,
   * never answering. They make a swarm large without more announce traffic.
   */
  fillers: number;
}

export interface WsLoadResult {
  seconds: number;
  announces: number;
  offersReceived: number;
  answersSent: number;
  answersReceived: number;
  failures: number;
  /** Messages through the tracker per second: announces + offers relayed + answers relayed. */
  messagesPerSecond: number;
  p50us: number;
  p99us: number;
}

const binary = (): string => randomBytes(20).toString('latin1');

async function main(o: WsLoadOptions): Promise<WsLoadResult> {
  const hashes = Array.from({ length: o.swarms }, binary);
  const sdp = 'v=0\r\n' + 'a'.repeat(Math.max(0, o.sdpBytes - 5));
  const answerSdp = JSON.stringify({ type: 'answer', sdp });
  let measuring = false;
  let running = true;
  let announces = 0;
  let offersReceived = 0;
  let answersSent = 0;
  let answersReceived = 0;
  let failures = 0;
  const latencies = new Float64Array(4_000_000);

  const sockets = await Promise.all(
    Array.from(
      { length: o.sockets },
      (_, i) =>
        new Promise<{ ws: WebSocket; peerId: string; hash: string; sentAt: number }>((resolve, reject) => {
          const ws = new WebSocket(o.urls[i % o.urls.length]!, { perMessageDeflate: false });
          // Neighbouring sockets share a swarm and use different URLs: with two replicas, every swarm spans both.
          const peer = { ws, peerId: binary(), hash: hashes[Math.floor(i / o.urls.length) % hashes.length]!, sentAt: 0 };
          ws.once('open', () => resolve(peer));
          ws.once('error', reject);
        }),
    ),
  );
  const announceText = (peer: { peerId: string; hash: string }, offers: number): string =>
    JSON.stringify({
      action: 'announce',
      info_hash: peer.hash,
      peer_id: peer.peerId,
      uploaded: 0,
      downloaded: 0,
      left: 1000,
      numwant: offers,
      offers: Array.from({ length: offers }, () => ({ offer: { type: 'offer', sdp }, offer_id: binary() })),
    });

  let joined = 0;
  const allJoined = new Promise<void>((resolve) => {
    for (const peer of sockets) {
      peer.ws.on('message', (data) => {
        const text = (data as Buffer).toString('utf8');
        // Cheap classification, as a browser would parse: only what the loop needs.
        if (text.includes('"failure reason"')) {
          failures++;
        } else if (text.includes('"offer"')) {
          const m = JSON.parse(text) as { offer_id: string; peer_id: string; info_hash: string };
          if (measuring) offersReceived++;
          if (!running) return;
          peer.ws.send(
            `{"action":"announce","info_hash":${JSON.stringify(m.info_hash)},"peer_id":${JSON.stringify(peer.peerId)},"to_peer_id":${JSON.stringify(m.peer_id)},"offer_id":${JSON.stringify(m.offer_id)},"answer":${answerSdp}}`,
          );
          if (measuring) answersSent++;
          return;
        } else if (text.includes('"answer"')) {
          if (measuring) answersReceived++;
          return;
        }
        if (!text.includes('"interval"')) return;
        // An announce reply: the first joins, the rest close a loop iteration.
        if (peer.sentAt === 0) {
          if (++joined === sockets.length) resolve();
          return;
        }
        if (measuring) {
          if (announces < latencies.length) latencies[announces] = (performance.now() - peer.sentAt) * 1000;
          announces++;
        }
        if (running) {
          peer.sentAt = performance.now();
          peer.ws.send(announceText(peer, o.offers));
        }
      });
      peer.ws.send(announceText(peer, 0));
    }
  });
  await allJoined;
  // Passive peers: a socket each (one peer per swarm per socket, as browsers do), joined in batches.
  const fillerSockets: WebSocket[] = [];
  const BATCH = 200;
  for (let h = 0; h < hashes.length && o.fillers > 0; h++) {
    for (let first = 0; first < o.fillers; first += BATCH) {
      const count = Math.min(BATCH, o.fillers - first);
      await Promise.all(
        Array.from(
          { length: count },
          () =>
            new Promise<void>((resolve, reject) => {
              const ws = new WebSocket(o.urls[fillerSockets.length % o.urls.length]!, { perMessageDeflate: false });
              fillerSockets.push(ws);
              ws.once('error', reject);
              ws.once('open', () => ws.send(announceText({ peerId: binary(), hash: hashes[h]! }, 0)));
              let joined = false;
              ws.on('message', (data) => {
                const text = (data as Buffer).toString('utf8');
                // Offers relayed to passive peers are relayed offers too (they are just never answered).
                if (text.includes('"offer"')) {
                  if (measuring) offersReceived++;
                } else if (!joined && text.includes('"interval"')) {
                  joined = true;
                  resolve();
                }
              });
            }),
        ),
      );
    }
  }
  for (const peer of sockets) {
    peer.sentAt = performance.now();
    peer.ws.send(announceText(peer, o.offers));
  }
  await new Promise((resolve) => setTimeout(resolve, 500)); // the loop settles
  // The orchestrator reads the servers' CPU at these two lines: the window only, not the joining.
  console.log(JSON.stringify({ phase: 'start' }));
  measuring = true;
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, o.seconds * 1000));
  measuring = false;
  console.log(JSON.stringify({ phase: 'end' }));
  const seconds = (performance.now() - started) / 1000;
  running = false;
  await new Promise((resolve) => setTimeout(resolve, 300));
  for (const peer of sockets) peer.ws.terminate();
  for (const ws of fillerSockets) ws.terminate();
  const sorted = latencies.subarray(0, Math.min(announces, latencies.length)).sort();
  const at = (q: number): number => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : 0);
  return {
    seconds,
    announces,
    offersReceived,
    answersSent,
    answersReceived,
    failures,
    messagesPerSecond: (announces + offersReceived + answersReceived) / seconds,
    p50us: at(0.5),
    p99us: at(0.99),
  };
}

const options = JSON.parse(process.argv[2] ?? '{}') as WsLoadOptions;
main(options).then(
  (result) => {
    console.log(JSON.stringify(result));
    process.exit(0);
  },
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
