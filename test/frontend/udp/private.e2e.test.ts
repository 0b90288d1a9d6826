/** Private mode over UDP: the passkey travels in the BEP 41 URL data ("/PASSKEY/announce"). */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startAdminTracker, type AdminClient } from '../../helpers/admin.js';
import type { TestTracker } from '../../helpers/tracker.js';
import { announcePacket, readAnnounceReply, readError, scrapePacket, udpConnect, udpRequest } from '../../helpers/udp.js';

/** BEP 41 URL data options carrying `path`, split in chunks of at most 255 bytes. */
function urlData(path: string): Buffer {
  const bytes = Buffer.from(path, 'latin1');
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 255) {
    const chunk = bytes.subarray(i, i + 255);
    parts.push(Buffer.from([2, chunk.length]), chunk);
  }
  return Buffer.concat([...parts, Buffer.from([0])]);
}

describe('UDP in private mode', () => {
  let tracker: TestTracker & { admin: AdminClient };
  const passkey = randomBytes(16).toString('hex');
  const infoHash = randomBytes(20);

  before(async () => {
    tracker = await startAdminTracker({ private_enabled: true });
    assert.equal((await tracker.admin.put('/users/42', { passkey })).status, 201);
    assert.equal((await tracker.admin.put(`/torrents/${infoHash.toString('hex')}`, { id: 7 })).status, 201);
  });
  after(() => tracker.close());

  const announce = async (options?: Buffer, hash = infoHash): Promise<Buffer> => {
    const connectionId = await udpConnect('127.0.0.1', tracker.udpPort);
    const reply = await udpRequest('127.0.0.1', tracker.udpPort, announcePacket({ connectionId, infoHash: hash, options }));
    assert.ok(reply, 'an answer');
    return reply;
  };

  it('refuses an announce without a passkey, or with an unknown one, with an error packet', async () => {
    assert.match(readError(await announce()), /private tracker/);
    assert.match(readError(await announce(urlData('/0123456789abcdef/announce'))), /unknown passkey/);
  });

  it('accepts the passkey from the URL data, also when split over several options', async () => {
    const reply = readAnnounceReply(await announce(urlData(`/${passkey}/announce`)));
    assert.equal(reply.leechers, 1);
    const long = `/${passkey}/announce?` + 'x'.repeat(300);
    assert.equal(readAnnounceReply(await announce(urlData(long))).leechers, 1, 'the same peer, refreshed');
  });

  it('refuses an unregistered torrent', async () => {
    assert.match(readError(await announce(urlData(`/${passkey}/announce`), randomBytes(20))), /unregistered torrent/);
  });

  it('refuses a scrape, which carries no passkey over UDP', async () => {
    const connectionId = await udpConnect('127.0.0.1', tracker.udpPort);
    const reply = await udpRequest('127.0.0.1', tracker.udpPort, scrapePacket(connectionId, [infoHash]));
    assert.match(readError(reply!), /private tracker/);
  });
});
