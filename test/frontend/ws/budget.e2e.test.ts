/**
 * WebTorrent announces and scrapes spend the request budgets HTTP and UDP requests spend (the same
 * counters per address and subnet): over budget a failure reason and nothing changed; a stop is never
 * refused, so a client over budget still leaves its swarms.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { announcePath, decode, httpGet, randomHash } from '../../helpers/http.js';
import { startTracker, type TestTracker } from '../../helpers/tracker.js';
import { announce, binaryId, isAnnounceReply, isFailure, isScrape, WsClient, type Message } from '../../helpers/ws.js';

const OVER = 'too many requests from your address: slow down and retry later';

describe('WebTorrent and request budgets', () => {
  let tracker: TestTracker;
  const clients: WsClient[] = [];
  const open = async (localAddress = '127.0.0.1'): Promise<WsClient> => {
    const client = await WsClient.open(`ws://127.0.0.1:${tracker.port}/announce`, {}, localAddress);
    clients.push(client);
    return client;
  };
  const reply = (client: WsClient, message: Message): Promise<Message> => client.request(message, (m) => isAnnounceReply(m) || isScrape(m) || isFailure(m));

  before(async () => {
    tracker = await startTracker({ metrics: { addr: '127.0.0.1:0' }, budget: { per_address: 4, per_subnet: 0 } });
  });
  after(async () => {
    for (const c of clients) c.ws.terminate();
    await tracker.close();
  });

  it('counts WebSocket requests with HTTP ones, refuses the one over budget, changes nothing, and lets a stop through', async () => {
    const client = await open();
    const hash = binaryId();
    const refusedHash = binaryId();
    const peerId = binaryId();
    // 1: an HTTP announce from the same address spends the same budget.
    const http = decode((await tracker.get(announcePath({ infoHash: randomHash(), port: 6881 }))).body);
    assert.equal(http['failure reason'], undefined);
    // 2, 3, 4: announce, scrape, announce.
    assert.equal((await reply(client, announce(hash, peerId, { left: 0 }))).complete, 1);
    assert.equal((await reply(client, { action: 'scrape', info_hash: hash })).files[hash].complete, 1);
    assert.equal((await reply(client, announce(hash, peerId, { left: 0 }))).complete, 1);
    // 5: over budget, an announce in another swarm: refused, and that swarm stays empty.
    const refused = await reply(client, announce(refusedHash, binaryId()));
    assert.deepEqual(refused, { 'failure reason': OVER, action: 'announce', info_hash: refusedHash });
    assert.equal((await reply(client, { action: 'scrape', info_hash: hash }))['failure reason'], OVER, 'a scrape too');
    const observer = await open('127.0.0.2'); // another address, another budget
    const counts = (await reply(observer, { action: 'scrape', info_hash: [hash, refusedHash] })).files;
    assert.deepEqual([counts[hash].complete, counts[refusedHash].incomplete], [1, 0], 'the refused announce changed nothing');
    // A stop is never refused: the peer leaves its swarm.
    const stop = await reply(client, announce(hash, peerId, { left: 0, event: 'stopped' }));
    assert.equal(stop['failure reason'], undefined);
    assert.equal((await reply(observer, { action: 'scrape', info_hash: hash })).files[hash].complete, 0);

    const metrics = (await httpGet('127.0.0.1', tracker.metricsPort!, '/metrics')).body.toString();
    assert.match(metrics, /tracker_budget_refusals_total\{protocol="webtorrent",action="announce",scope="address"\} 1\n/);
    assert.match(metrics, /tracker_budget_refusals_total\{protocol="webtorrent",action="scrape",scope="address"\} 1\n/);
    assert.match(metrics, /tracker_budget_refusals_total\{protocol="http",action="announce",scope="address"\} 0\n/);
  });
});
