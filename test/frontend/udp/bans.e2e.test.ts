/**
 * UDP bans over real sockets: an address that keeps sending invalid connection ids or garbage is ignored
 * for ban_duration, then served again; a proper connect and a valid id are served meanwhile (a forged
 * source must not lock a real client out); other addresses never notice; replies never outgrow requests.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { randomHash } from '../../helpers/http.js';
import { metric } from '../../helpers/slow-client.js';
import { startTracker, type TestTracker } from '../../helpers/tracker.js';
import { announcePacket, connectPacket, readAnnounceReply, readError } from '../../helpers/udp.js';

/** A UDP client bound to one loopback address, asking one question at a time. */
class Client {
  private constructor(private readonly socket: Socket) {}

  static async bind(address: string): Promise<Client> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind({ address, port: 0 }, resolve));
    return new Client(socket);
  }

  /** The answer, or null after `timeoutMs` of silence. */
  ask(port: number, packet: Buffer, timeoutMs = 300): Promise<Buffer | null> {
    return new Promise((resolve) => {
      const done = (reply: Buffer | null): void => {
        clearTimeout(timer);
        this.socket.off('message', onMessage);
        resolve(reply);
      };
      const onMessage = (reply: Buffer): void => done(reply);
      const timer = setTimeout(() => done(null), timeoutMs);
      this.socket.on('message', onMessage);
      this.socket.send(packet, port, '127.0.0.1');
    });
  }

  close(): void {
    this.socket.close();
  }
}

/** An announce with a made-up connection id: the "invalid connection id" a flooder sends. */
const forged = (): Buffer => announcePacket({ connectionId: randomBytes(8), infoHash: randomHash() });

describe('UDP bans', () => {
  let t: TestTracker;
  const clients: Client[] = [];
  const client = async (address: string): Promise<Client> => {
    const c = await Client.bind(address);
    clients.push(c);
    return c;
  };
  before(async () => {
    t = await startTracker({ udp: { ban_threshold: 5, ban_window: 10, ban_duration: 3 }, metrics: { addr: '127.0.0.1:0' } });
  });
  after(async () => {
    for (const c of clients) c.close();
    await t.close();
  });

  it('ignores an address after ban_threshold invalid packets, serves its valid ones meanwhile, and releases it after ban_duration', async () => {
    const flooder = await client('127.0.7.1');
    const bystander = await client('127.0.7.2');
    // Below the threshold: each answered with an error no longer than the request.
    for (let i = 0; i < 4; i++) {
      const packet = forged();
      const reply = await flooder.ask(t.udpPort, packet);
      assert.ok(reply, `invalid packet ${i + 1} answered`);
      assert.ok(reply.length <= packet.length);
      assert.match(readError(reply), /^invalid conn/);
    }
    // The fifth starts the ban (still answered), garbage counts too: then silence.
    assert.ok((await flooder.ask(t.udpPort, Buffer.from('garbage!'), 100)) === null, 'under 16 bytes: never answered');
    const bannedAt = performance.now();
    let ignored = 0;
    for (let i = 0; i < 10; i++) if ((await flooder.ask(t.udpPort, forged(), 100)) === null) ignored++;
    assert.equal(ignored, 10, 'every invalid packet of a banned address is ignored');
    assert.equal(await metric(t.metricsPort!, 'tracker_udp_banned_addresses'), 1);
    assert.equal(await metric(t.metricsPort!, 'tracker_udp_bans_total'), 1);
    assert.equal(await metric(t.metricsPort!, 'tracker_udp_ignored_total'), 10);

    // A proper connect and an announce with its id are still served.
    const connected = await flooder.ask(t.udpPort, connectPacket(5));
    assert.ok(connected && connected.length === 16, 'a banned address can still connect');
    const served = await flooder.ask(t.udpPort, announcePacket({ connectionId: connected.subarray(8, 16), infoHash: randomHash() }));
    assert.equal(readAnnounceReply(served!).leechers, 1);
    // Another address is not touched.
    assert.match(readError((await bystander.ask(t.udpPort, forged()))!), /^invalid conn/);

    assert.ok(performance.now() - bannedAt < 2900, 'all of this within the ban');
    // After ban_duration (3 s) the address is answered again.
    await sleep(Math.max(0, 3100 - (performance.now() - bannedAt)));
    const again = await flooder.ask(t.udpPort, forged());
    assert.ok(again, 'released');
    assert.match(readError(again), /^invalid conn/);
    assert.equal(await metric(t.metricsPort!, 'tracker_udp_banned_addresses'), 0);
    assert.equal(await metric(t.metricsPort!, 'tracker_udp_ignored_total'), 10);
  });

  it('counts connects without the protocol id as garbage', async () => {
    const sender = await client('127.0.7.3');
    const bad = connectPacket(1);
    bad.writeUInt32BE(0xdead, 0);
    for (let i = 0; i < 5; i++) assert.equal(await sender.ask(t.udpPort, bad, 100), null);
    // Banned now: its next invalid id gets no answer.
    assert.equal(await sender.ask(t.udpPort, forged(), 200), null);
    assert.equal(await metric(t.metricsPort!, 'tracker_udp_banned_addresses'), 1);
  });
});
