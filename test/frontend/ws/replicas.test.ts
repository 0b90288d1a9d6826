/**
 * WebTorrent across replicas: two tracker processes (the real CLI) sharing one Redis, then a Redis
 * Cluster. A browser peer's socket lives on one replica; offers and answers must reach it from the other.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { redisMissing, SHIPPED_CONFIG, startCluster, startRedis, type RedisCluster, type RedisServer } from '../../helpers/redis.js';
import { startTrackerProcess, type TestTracker } from '../../helpers/tracker.js';
import { waitUntil } from '../../helpers/wait.js';
import { announce, binaryId, isAnnounceReply, isAnswer, isOffer, isScrape, offers, WsClient } from '../../helpers/ws.js';

const missing = redisMissing();

async function twoTrackers(params: Record<string, unknown>): Promise<TestTracker[]> {
  const prefix = `x${randomBytes(3).toString('hex')}:`;
  const env = { TRACKER_TRACKER_DRIVER: 'redis', TRACKER_TRACKER_PARAMS: JSON.stringify({ ...params, prefix }) };
  const trackers = await Promise.all([0, 1].map(() => startTrackerProcess(env)));
  // Ready once its Redis connection is up and it listens for signals from the other replicas.
  for (const tracker of trackers) await waitUntil('replica ready', async () => (await tracker.get('/readyz')).status === 200, 30_000, 50);
  return trackers;
}

function crossReplicaTests(getTrackers: () => TestTracker[]): void {
  const clients: WsClient[] = [];
  const open = async (tracker: TestTracker): Promise<WsClient> => {
    const client = await WsClient.open(`ws://127.0.0.1:${tracker.port}/announce`);
    clients.push(client);
    return client;
  };
  after(() => {
    for (const c of clients) c.ws.terminate();
  });

  it('relays the offer of a peer on B to a peer on A, and its answer back to B', async () => {
    const [a, b] = getTrackers() as [TestTracker, TestTracker];
    for (let round = 0; round < 3; round++) {
      const hash = binaryId();
      const onA = await open(a);
      const onB = await open(b);
      const idA = binaryId();
      const idB = binaryId();
      await onA.request(announce(hash, idA, { left: 0 }), isAnnounceReply);
      const sent = offers(2);
      const reply = await onB.request(announce(hash, idB, { offers: sent }), isAnnounceReply);
      assert.deepEqual([reply.complete, reply.incomplete], [1, 1], 'B counts the peer announced on A');
      const offer = await onA.next(isOffer);
      assert.equal(offer.peer_id, idB);
      assert.equal(offer.info_hash, hash);
      assert.ok(sent.some((o) => o.offer_id === offer.offer_id && o.offer.sdp === offer.offer.sdp));
      onA.send({
        action: 'announce',
        info_hash: hash,
        peer_id: idA,
        to_peer_id: idB,
        offer_id: offer.offer_id,
        answer: { type: 'answer', sdp: `v=0 answer ${round}` },
      });
      const answer = await onB.next(isAnswer);
      assert.deepEqual(answer, {
        action: 'announce',
        answer: { type: 'answer', sdp: `v=0 answer ${round}` },
        offer_id: offer.offer_id,
        peer_id: idA,
        info_hash: hash,
      });
    }
  });

  it('counts and scrapes the same on both replicas, and a socket closed on A leaves the swarm for B', async () => {
    const [a, b] = getTrackers() as [TestTracker, TestTracker];
    const hash = binaryId();
    const onA = await open(a);
    const onB = await open(b);
    await onA.request(announce(hash, binaryId(), { left: 0 }), isAnnounceReply);
    await onB.request(announce(hash, binaryId()), isAnnounceReply);
    for (const client of [onA, onB]) {
      const s = await client.request({ action: 'scrape', info_hash: hash }, isScrape);
      assert.deepEqual(s.files[hash], { complete: 1, incomplete: 1, downloaded: 0 });
    }
    await onA.close();
    await waitUntil('the closed socket leaves', async () => (await onB.request({ action: 'scrape', info_hash: hash }, isScrape)).files[hash].complete === 0);
  });

  it('offers from many peers on both replicas each reach their target once', async () => {
    const [a, b] = getTrackers() as [TestTracker, TestTracker];
    const hash = binaryId();
    const peers = await Promise.all(Array.from({ length: 6 }, (_, i) => open(i % 2 === 0 ? a : b)));
    const ids = peers.map(() => binaryId());
    for (let i = 0; i < peers.length; i++) await peers[i]!.request(announce(hash, ids[i]!), isAnnounceReply);
    const newcomer = await open(a);
    const sent = offers(10);
    await newcomer.request(announce(hash, binaryId(), { offers: sent }), isAnnounceReply);
    const received = await Promise.all(peers.map((p) => p.next(isOffer)));
    assert.equal(new Set(received.map((o) => o.offer_id)).size, 6, 'six peers, six distinct offers');
  });
}

describe('WebTorrent across replicas', { skip: missing ?? false }, () => {
  describe('two trackers sharing one Redis', () => {
    let server: RedisServer;
    let trackers: TestTracker[];
    before(async () => {
      server = await startRedis({ args: [SHIPPED_CONFIG] });
      trackers = await twoTrackers({ url: server.url });
    });
    after(async () => {
      await Promise.all(trackers.map((t) => t.close()));
      await server.kill();
    });
    crossReplicaTests(() => trackers);

    it('costs one Redis command per announce and one per signal relayed across replicas', async () => {
      const [a, b] = trackers as [TestTracker, TestTracker];
      const hash = binaryId();
      const onA = await WsClient.open(`ws://127.0.0.1:${a.port}/`);
      const onB = await WsClient.open(`ws://127.0.0.1:${b.port}/`);
      const idA = binaryId();
      const idB = binaryId();
      await onA.request(announce(hash, idA), isAnnounceReply);
      const client = new Redis(server.port, '127.0.0.1');
      const monitor = await client.monitor();
      const commands: string[] = [];
      let hotSummaries = 0;
      monitor.on('monitor', (_time: string, args: string[], source: string) => {
        // In the background: the catalogue's version poll, and each replica's hot-swarm summary (once per
        // metrics.hot_swarms_window, its keys tagged {hot}, in a MULTI of its own, counted apart).
        const background = (/^get$/i.test(args[0] ?? '') && /catalogue:version$/.test(args[1] ?? '')) || (args[1] ?? '').includes('{hot}');
        if (background && /^set$/i.test(args[0] ?? '')) hotSummaries++;
        if (source !== 'lua' && !background && !/^(ping|info|monitor)$/i.test(args[0] ?? '')) commands.push(String(args[0]).toLowerCase());
      });
      await new Promise((resolve) => setTimeout(resolve, 200));
      await onB.request(announce(hash, idB, { offers: offers(1) }), isAnnounceReply);
      const offer = await onA.next(isOffer);
      onA.send({ action: 'announce', info_hash: hash, peer_id: idA, to_peer_id: idB, offer_id: offer.offer_id, answer: { type: 'answer', sdp: 'x' } });
      await onB.next(isAnswer);
      await new Promise((resolve) => setTimeout(resolve, 300));
      monitor.disconnect();
      client.disconnect();
      onA.ws.terminate();
      onB.ws.terminate();
      // The announce: one script call (EVALSHA; an EVAL only retries a script not cached yet). The offer to
      // A and the answer back: one SPUBLISH each. Nothing else.
      const counts = commands.reduce<Record<string, number>>((acc, cmd) => ({ ...acc, [cmd]: (acc[cmd] ?? 0) + 1 }), {});
      // The summaries' MULTI and EXEC, one pair per summary.
      for (const wrap of ['multi', 'exec']) {
        assert.equal(counts[wrap] ?? 0, hotSummaries, `${wrap}: ${JSON.stringify(counts)}`);
        delete counts[wrap];
      }
      assert.equal(counts.evalsha, 1, JSON.stringify(counts));
      assert.equal(counts.spublish, 2, JSON.stringify(counts));
      assert.deepEqual(
        Object.keys(counts).filter((c) => !['evalsha', 'eval', 'spublish'].includes(c)),
        [],
        JSON.stringify(counts),
      );
    });

    it('a replica that dies takes its routes with it: offers to its peers are dropped, none reach a wrong socket', async () => {
      const prefix = `d${randomBytes(3).toString('hex')}:`;
      const env = { TRACKER_TRACKER_DRIVER: 'redis', TRACKER_TRACKER_PARAMS: JSON.stringify({ url: server.url, prefix }) };
      const [doomed, survivor] = await Promise.all([startTrackerProcess(env), startTrackerProcess(env)]);
      try {
        const hash = binaryId();
        const onDoomed = await WsClient.open(`ws://127.0.0.1:${doomed.port}/`);
        await onDoomed.request(announce(hash, binaryId()), isAnnounceReply);
        doomed.proc.child.kill('SIGKILL'); // no stopped, no goodbye
        await doomed.proc.exit;
        const onSurvivor = await WsClient.open(`ws://127.0.0.1:${survivor.port}/`);
        const reply = await onSurvivor.request(announce(hash, binaryId(), { offers: offers(1) }), isAnnounceReply);
        assert.equal(reply.incomplete, 2, "the dead replica's peer stays until webtorrent.peer_ttl");
        await new Promise((resolve) => setTimeout(resolve, 200));
        assert.equal(onSurvivor.messages.filter(isOffer).length, 0);
        onSurvivor.ws.terminate();
      } finally {
        await survivor.close();
      }
    });
  });

  describe('two trackers sharing a Redis Cluster', () => {
    let cluster: RedisCluster;
    let trackers: TestTracker[];
    before(async () => {
      cluster = await startCluster();
      trackers = await twoTrackers({ cluster: cluster.addresses });
    });
    after(async () => {
      await Promise.all(trackers.map((t) => t.close()));
      await cluster.stop();
    });
    crossReplicaTests(() => trackers);
  });
});
