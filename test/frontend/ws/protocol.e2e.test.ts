/** The WebTorrent protocol over real WebSockets against a booted tracker (memory driver). */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { announcePath, decode, httpGet, peerList, randomHash } from '../../helpers/http.js';
import { startTracker, type TestTracker } from '../../helpers/tracker.js';
import { waitUntil } from '../../helpers/wait.js';
import { announce, binaryId, isAnnounceReply, isAnswer, isFailure, isOffer, isScrape, offers, WsClient, type Message } from '../../helpers/ws.js';

describe('WebTorrent over WebSocket', () => {
  let tracker: TestTracker;
  let url: string;
  const clients: WsClient[] = [];
  const open = async (path = '/announce', headers: Record<string, string> = {}): Promise<WsClient> => {
    const client = await WsClient.open(`ws://127.0.0.1:${tracker.port}${path}`, headers);
    clients.push(client);
    return client;
  };
  const scrape = async (client: WsClient, hash: string): Promise<Message> =>
    (await client.request({ action: 'scrape', info_hash: hash }, isScrape)).files[hash];

  before(async () => {
    tracker = await startTracker({ metrics: { addr: '127.0.0.1:0' }, webtorrent: { max_connections_per_ip: 50, max_swarms_per_socket: 3 } });
    url = `ws://127.0.0.1:${tracker.port}`;
  });
  after(async () => {
    for (const c of clients) c.ws.terminate();
    await tracker.close();
  });

  it('answers an announce on /, /announce with counts and the WebSocket interval', async () => {
    const hash = binaryId();
    const seeder = await WsClient.open(url + '/');
    clients.push(seeder);
    const first = await seeder.request(announce(hash, binaryId(), { left: 0, event: 'started' }), isAnnounceReply);
    assert.deepEqual(first, { action: 'announce', interval: 120, info_hash: hash, complete: 1, incomplete: 0 });
    const leecher = await open();
    const second = await leecher.request(announce(hash, binaryId(), { event: 'started' }), isAnnounceReply);
    assert.deepEqual([second.complete, second.incomplete], [1, 1]);
  });

  it('relays an offer to a peer of the swarm and its answer back to the offerer', async () => {
    const hash = binaryId();
    const [a, b] = [await open(), await open()];
    const idA = binaryId();
    const idB = binaryId();
    await a.request(announce(hash, idA), isAnnounceReply);
    const sent = offers(3);
    await b.request(announce(hash, idB, { offers: sent }), isAnnounceReply);
    const offer = await a.next(isOffer);
    assert.equal(offer.action, 'announce');
    assert.equal(offer.peer_id, idB);
    assert.equal(offer.info_hash, hash);
    const original = sent.find((o) => o.offer_id === offer.offer_id);
    assert.ok(original, 'the offer_id is one B sent');
    assert.deepEqual(offer.offer, original.offer);
    // Only one other peer: one offer is relayed, the rest wait for no one.
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(a.messages.filter(isOffer).length, 0);
    a.send({ action: 'announce', info_hash: hash, peer_id: idA, to_peer_id: idB, offer_id: offer.offer_id, answer: { type: 'answer', sdp: 'v=0 answer' } });
    const answer = await b.next(isAnswer);
    assert.deepEqual(answer, { action: 'announce', answer: { type: 'answer', sdp: 'v=0 answer' }, offer_id: offer.offer_id, peer_id: idA, info_hash: hash });
    assert.equal(b.messages.filter(isAnnounceReply).length, 0, 'an answer gets no announce reply');
  });

  it('never offers to the announcer, and a seeder offers to leechers only', async () => {
    const hash = binaryId();
    const [seederA, seederB, leecher] = [await open(), await open(), await open()];
    const idL = binaryId();
    await seederA.request(announce(hash, binaryId(), { left: 0 }), isAnnounceReply);
    await leecher.request(announce(hash, idL), isAnnounceReply);
    await seederB.request(announce(hash, binaryId(), { left: 0, offers: offers(5) }), isAnnounceReply);
    const offer = await leecher.next(isOffer);
    assert.notEqual(offer.peer_id, idL);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(seederA.messages.filter(isOffer).length, 0, 'no offer from a seeder to a seeder');
    assert.equal(seederB.messages.filter(isOffer).length, 0, 'no offer to oneself');
  });

  it('drops a forged answer (unknown offer_id or to_peer_id) and counts it', async () => {
    const hash = binaryId();
    const [a, b] = [await open(), await open()];
    const idA = binaryId();
    const idB = binaryId();
    await a.request(announce(hash, idA), isAnnounceReply);
    await b.request(announce(hash, idB, { offers: offers(1) }), isAnnounceReply);
    const offer = await a.next(isOffer);
    const answer = (to: string, offerId: string) => ({
      action: 'announce',
      info_hash: hash,
      peer_id: idA,
      to_peer_id: to,
      offer_id: offerId,
      answer: { type: 'answer', sdp: 'x' },
    });
    a.send(answer(idB, binaryId())); // an offer_id never relayed to A
    a.send(answer(binaryId(), offer.offer_id)); // the right offer_id, someone else's peer_id
    await waitUntil('forged answers counted', async () => /tracker_ws_dropped_total\{kind="answer",reason="forged"\} 2/.test(await metricsText()));
    a.send(answer(idB, offer.offer_id)); // the real one still goes through, once
    await b.next(isAnswer);
    a.send(answer(idB, offer.offer_id));
    await waitUntil('a second answer to the same offer is dropped', async () => /reason="forged"\} 3/.test(await metricsText()));
    assert.equal(b.messages.filter(isAnswer).length, 0);
  });

  it('scrapes one hash or a list, with the WebRTC swarm counts', async () => {
    const hash = binaryId();
    const other = binaryId();
    const a = await open();
    await a.request(announce(hash, binaryId(), { left: 0 }), isAnnounceReply);
    assert.deepEqual(await scrape(a, hash), { complete: 1, incomplete: 0, downloaded: 0 });
    const both = await a.request({ action: 'scrape', info_hash: [hash, other] }, isScrape);
    assert.deepEqual(both.files, { [hash]: { complete: 1, incomplete: 0, downloaded: 0 }, [other]: { complete: 0, incomplete: 0, downloaded: 0 } });
  });

  it('counts a completed leecher as a seeder and a snatch', async () => {
    const hash = binaryId();
    const a = await open();
    const id = binaryId();
    await a.request(announce(hash, id, { event: 'started' }), isAnnounceReply);
    const done = await a.request(announce(hash, id, { event: 'completed', left: 0 }), isAnnounceReply);
    assert.deepEqual([done.complete, done.incomplete], [1, 0]);
    assert.deepEqual(await scrape(a, hash), { complete: 1, incomplete: 0, downloaded: 1 });
  });

  it('removes the peers of a closed socket from every swarm it announced in', async () => {
    const [h1, h2] = [binaryId(), binaryId()];
    const a = await open();
    const watcher = await open();
    const id = binaryId();
    await a.request(announce(h1, id), isAnnounceReply);
    await a.request(announce(h2, id, { left: 0 }), isAnnounceReply);
    assert.deepEqual(await scrape(watcher, h1), { complete: 0, incomplete: 1, downloaded: 0 });
    await a.close();
    await waitUntil('both swarms empty', async () => {
      const [s1, s2] = [await scrape(watcher, h1), await scrape(watcher, h2)];
      return s1.incomplete === 0 && s2.complete === 0;
    });
  });

  it('a new peer_id on the same socket and swarm replaces the old one', async () => {
    const hash = binaryId();
    const a = await open();
    await a.request(announce(hash, binaryId()), isAnnounceReply);
    await a.request(announce(hash, binaryId()), isAnnounceReply);
    await waitUntil('one peer left', async () => (await scrape(a, hash)).incomplete === 1);
  });

  it('stopped removes the peer and relays none of its offers', async () => {
    const hash = binaryId();
    const [a, b] = [await open(), await open()];
    const id = binaryId();
    await a.request(announce(hash, binaryId()), isAnnounceReply);
    await b.request(announce(hash, id), isAnnounceReply);
    const stopped = await b.request(announce(hash, id, { event: 'stopped', offers: offers(2) }), isAnnounceReply);
    assert.deepEqual([stopped.complete, stopped.incomplete], [0, 1]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(a.messages.filter(isOffer).length, 0);
  });

  it('keeps WebSocket peers and HTTP peers apart', async () => {
    const hash = randomHash();
    const wsHash = hash.toString('latin1');
    const a = await open();
    await a.request(announce(wsHash, binaryId(), { left: 0 }), isAnnounceReply);
    const http = decode((await tracker.get(announcePath({ infoHash: hash, port: 6881 }))).body);
    assert.deepEqual(peerList(http.peers, 4), [], 'an HTTP leecher gets no WebSocket peer');
    assert.equal(http.complete, 0);
    const b = await open();
    const reply = await b.request(announce(wsHash, binaryId(), { offers: offers(2) }), isAnnounceReply);
    assert.deepEqual([reply.complete, reply.incomplete], [1, 1], 'the HTTP peer is not counted in the WebRTC swarm');
    await a.next(isOffer);
  });

  it('answers every malformed message with a failure reason and changes nothing', async () => {
    const hash = binaryId();
    const a = await open();
    const id = binaryId();
    const cases: Array<[unknown, RegExp]> = [
      ['not json', /not JSON/],
      ['[1,2]', /JSON object/],
      ['"text"', /JSON object/],
      [{ action: 'connect' }, /invalid action/],
      [{ info_hash: hash }, /invalid action/],
      [announce('short', id), /invalid info_hash: must be 20 characters, got 5/],
      [announce(hash.slice(0, 19) + '\u0100', id), /U\+0000 to U\+00FF/],
      [announce(hash.slice(0, 19) + '😀'.slice(0, 1), id), /U\+0000 to U\+00FF/],
      [announce(hash, 12345 as unknown as string), /invalid peer_id/],
      [announce(hash, id, { uploaded: -1 }), /invalid uploaded/],
      [announce(hash, id, { downloaded: 1.5 }), /invalid downloaded/],
      [announce(hash, id, { left: '100' }), /invalid left/],
      [announce(hash, id, { left: 2 ** 60 }), /invalid left/],
      [announce(hash, id, { numwant: -3 }), /invalid numwant/],
      [announce(hash, id, { event: 'finished' }), /unknown event "finished"/],
      [announce(hash, id, { event: 7 }), /invalid event/],
      [announce(hash, id, { offers: {} }), /invalid offers: must be a list/],
      [announce(hash, id, { offers: offers(11) }), /too many offers: at most 10/],
      [announce(hash, id, { offers: [{ offer_id: binaryId() }] }), /invalid offer/],
      [announce(hash, id, { offers: [{ offer: { type: 'answer', sdp: 'x' }, offer_id: binaryId() }] }), /type must be "offer"/],
      [announce(hash, id, { offers: [{ offer: { type: 'offer', sdp: '' }, offer_id: binaryId() }] }), /sdp must be a non-empty string/],
      [announce(hash, id, { offers: [{ offer: { type: 'offer', sdp: 'x'.repeat(20000) }, offer_id: binaryId() }] }), /sdp longer than/],
      [announce(hash, id, { offers: [{ offer: { type: 'offer', sdp: 'x' }, offer_id: 'abc' }] }), /invalid offer_id/],
      [announce(hash, id, { offers: [offers(1)[0], { ...offers(1)[0], offer_id: undefined }] }), /invalid offer_id/],
      [{ ...announce(hash, id), answer: { type: 'answer', sdp: 'x' } }, /invalid to_peer_id/],
      [{ ...announce(hash, id), answer: { type: 'offer', sdp: 'x' }, to_peer_id: binaryId(), offer_id: binaryId() }, /type must be "answer"/],
      [{ ...announce(hash, id), answer: 'x', to_peer_id: binaryId(), offer_id: binaryId() }, /invalid answer/],
      [{ action: 'scrape', info_hash: 42 }, /invalid info_hash/],
      [{ action: 'scrape', info_hash: Array.from({ length: 75 }, () => binaryId()) }, /too many info_hash/],
      [{ action: 'scrape' }, /full scrape is not allowed/],
    ];
    for (const [message, reason] of cases) {
      const reply = await a.request(message, isFailure);
      assert.match(reply['failure reason'], reason, JSON.stringify(message).slice(0, 200));
    }
    const duplicate = offers(1)[0]!;
    const twice = await a.request(announce(hash, id, { offers: [duplicate, duplicate] }), isFailure);
    assert.match(twice['failure reason'], /offer_id appears twice/);
    assert.equal(twice.action, 'announce');
    assert.equal(twice.info_hash, hash, 'a well-formed info_hash is echoed');
    assert.deepEqual(await scrape(a, hash), { complete: 0, incomplete: 0, downloaded: 0 }, 'no failed announce registered the peer');
    assert.equal(a.ws.readyState, a.ws.OPEN, 'bad fields do not close the socket');
  });

  it('limits the torrents one socket announces in', async () => {
    const a = await open();
    const id = binaryId();
    for (let i = 0; i < 3; i++) await a.request(announce(binaryId(), id), isAnnounceReply);
    const refused = await a.request(announce(binaryId(), id), isFailure);
    assert.match(refused['failure reason'], /too many torrents on one connection \(at most 3\)/);
  });

  it('closes the socket on a binary frame (1003) and on a frame over the size limit (1009)', async () => {
    const a = await open();
    a.ws.send(Buffer.from([1, 2, 3]));
    assert.equal((await a.closed).code, 1003);
    const b = await open();
    b.send(JSON.stringify({ action: 'announce', pad: 'x'.repeat(70_000) }));
    assert.equal((await b.closed).code, 1009);
  });

  it('refuses upgrades on other paths (404)', async () => {
    await assert.rejects(open('/scrape'), /upgrade refused: 404/);
    await assert.rejects(open('/a/b/announce'), /upgrade refused: 404/);
  });

  it('does not let a failure reason echo an info_hash that is not one', async () => {
    const a = await open();
    const reply = await a.request({ action: 'announce', info_hash: '<script>', peer_id: binaryId() }, isFailure);
    assert.equal(reply.info_hash, undefined);
  });

  it('still serves HTTP announces on the same listener', async () => {
    const reply = await httpGet('127.0.0.1', tracker.port, announcePath({ infoHash: randomHash(), port: 6881 }));
    assert.equal(reply.status, 200);
    assert.ok(decode(reply.body).interval > 0);
  });

  it('exports socket and message metrics', async () => {
    const text = await metricsText();
    assert.match(text, /tracker_ws_sockets \d+/);
    assert.match(text, /tracker_ws_messages_total\{type="announce",outcome="ok"\} [1-9]/);
    assert.match(text, /tracker_ws_messages_total\{type="invalid",outcome="client_error"\} [1-9]/);
    assert.match(text, /tracker_ws_relayed_total\{kind="offer",route="local"\} [1-9]/);
    assert.match(text, /tracker_ws_relayed_total\{kind="answer",route="local"\} [1-9]/);
    assert.match(text, /tracker_ws_rejected_total\{reason="path"\} [1-9]/);
  });

  async function metricsText(): Promise<string> {
    return (await httpGet('127.0.0.1', tracker.metricsPort!, '/metrics')).body.toString();
  }
});

/** Sends raw bytes to the tracker port and returns what comes back before the server closes. */
function rawUpgrade(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    let reply = '';
    socket.setEncoding('latin1').on('data', (chunk: string) => (reply += chunk));
    socket.on('close', () => resolve(reply));
    socket.on('error', reject);
    socket.setTimeout(5000, () => socket.destroy());
  });
}

describe('WebTorrent limits', () => {
  it('caps sockets per client address (429), checks Origin (403), closes idle sockets and floods (1008)', async () => {
    const tracker = await startTracker({
      webtorrent: {
        max_connections_per_ip: 2,
        origins: ['https://ok.example'],
        announce_interval: 10,
        peer_ttl: 20,
        idle_timeout: 11,
        max_messages_per_minute: 10,
      },
    });
    const url = `ws://127.0.0.1:${tracker.port}/announce`;
    const ok = { Origin: 'https://ok.example' };
    try {
      // Handshakes ws refuses (no Sec-WebSocket-Key) must not keep a slot of the per-address cap.
      for (let i = 0; i < 3; i++) {
        const reply = await rawUpgrade(
          tracker.port,
          'GET /announce HTTP/1.1\r\nHost: x\r\nOrigin: https://ok.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
        );
        assert.match(reply, /^HTTP\/1.1 400/);
      }
      await assert.rejects(WsClient.open(url, { Origin: 'https://evil.example' }), /upgrade refused: 403/);
      await assert.rejects(WsClient.open(url), /upgrade refused: 403/);
      const a = await WsClient.open(url, ok);
      const b = await WsClient.open(url, ok);
      await assert.rejects(WsClient.open(url, ok), /upgrade refused: 429/);
      await b.close();
      const c = await WsClient.open(url, ok); // a slot came free
      for (let i = 0; i < 11; i++) c.send('{}');
      assert.equal((await c.closed).code, 1008);
      const started = Date.now();
      const idle = await a.closed;
      assert.equal(idle.code, 1000);
      assert.equal(idle.reason, 'idle timeout');
      assert.ok(Date.now() - started > 5000, 'not closed before the idle timeout');
    } finally {
      await tracker.close();
    }
  });

  it("counts open sockets against the HTTP listener's connection caps", async () => {
    const tracker = await startTracker({ http: { max_connections_per_address: 2 } });
    try {
      const url = `ws://127.0.0.1:${tracker.port}/announce`;
      const sockets = [await WsClient.open(url), await WsClient.open(url)];
      await assert.rejects(tracker.get('/healthz'), 'an HTTP request from the same address is closed at once');
      await assert.rejects(WsClient.open(url), 'and so is a third socket');
      await sockets[0]!.close();
      await waitUntil('a slot to come free', () =>
        tracker.get('/healthz').then(
          (reply) => reply.status === 200,
          () => false,
        ),
      );
    } finally {
      await tracker.close();
    }
  });

  it('in private mode needs a known passkey in the path', async () => {
    const tracker = await startTracker({ private_enabled: true });
    try {
      const anonymous = await WsClient.open(`ws://127.0.0.1:${tracker.port}/announce`);
      const refused = await anonymous.request(announce(binaryId(), binaryId()), isFailure);
      assert.match(refused['failure reason'], /private tracker/);
      const unknown = await WsClient.open(`ws://127.0.0.1:${tracker.port}/nosuchkey/announce`);
      assert.match((await unknown.request(announce(binaryId(), binaryId()), isFailure))['failure reason'], /unknown passkey/);
      anonymous.ws.terminate();
      unknown.ws.terminate();
    } finally {
      await tracker.close();
    }
  });
});
