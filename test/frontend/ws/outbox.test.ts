/** Frames written straight to the socket, once per turn: what a real ws client reads of them. */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { FrameWriter, Outbox } from '../../../src/frontend/ws/outbox.js';

/** A ws server and one client connected to it: the server's side of the socket and the client. */
async function pair(): Promise<{ server: WebSocket; client: WebSocket; received: string[]; close: () => void }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise((resolve) => wss.once('listening', resolve));
  const serverSide = new Promise<WebSocket>((resolve) => wss.once('connection', resolve));
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`, { perMessageDeflate: false, maxPayload: 1 << 20 });
  const received: string[] = [];
  client.on('message', (data, isBinary) => received.push(isBinary ? 'BINARY' : (data as Buffer).toString('utf8')));
  await new Promise((resolve) => client.once('open', resolve));
  return {
    server: await serverSide,
    client,
    received,
    close: () => {
      client.terminate();
      wss.close();
    },
  };
}

const until = async (done: () => boolean): Promise<void> => {
  for (let i = 0; i < 500 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(done(), 'in time');
};

describe('FrameWriter', () => {
  it('writes frames of every header size, UTF-8 and latin1 text, in order, in one write per turn', async () => {
    const { server, received, close } = await pair();
    try {
      const texts = ['', 'x', 'a'.repeat(125), 'b'.repeat(126), 'é€😀'.repeat(40), 'c'.repeat(65535), 'd'.repeat(65536), '\u00ff\u0000\u0080'.repeat(40000)];
      const writer = new FrameWriter();
      const box = new Outbox(server);
      const socket = (server as unknown as { _socket: { write(chunk: unknown): boolean } })._socket;
      let writes = 0;
      const write = socket.write.bind(socket);
      socket.write = (chunk: unknown) => {
        writes++;
        return write(chunk);
      };
      for (const text of texts) assert.equal(writer.send(box, text), true);
      assert.equal(writes, 0, 'nothing written within the turn');
      assert.ok(box.queuedBytes > 0);
      await until(() => received.length === texts.length);
      assert.deepEqual(received, texts);
      assert.equal(writes, 1);
      assert.equal(box.queuedBytes, 0);
    } finally {
      close();
    }
  });

  it('writes frames of parts (text and bytes, of every header size) between whole ones, in order', async () => {
    const { server, received, close } = await pair();
    try {
      const writer = new FrameWriter();
      const box = new Outbox(server);
      const bytes = Buffer.from('"é\\r\\n€"', 'utf8');
      writer.send(box, 'first');
      writer.sendParts(box, Buffer.from('{"sdp":'), bytes, ',"x":"ü"}');
      writer.sendParts(box, '', Buffer.from('y'.repeat(70000)), '');
      writer.sendParts(box, 'é', bytes.subarray(1, 3), Buffer.alloc(0));
      writer.send(box, 'last');
      await until(() => received.length === 5);
      assert.deepEqual(received, ['first', '{"sdp":"é\\r\\n€","x":"ü"}', 'y'.repeat(70000), 'éé', 'last']);
    } finally {
      close();
    }
  });

  it('a flush before a close puts the frames before the Close; after it, frames are dropped', async () => {
    const { server, client, received, close } = await pair();
    try {
      const writer = new FrameWriter();
      const box = new Outbox(server);
      writer.send(box, 'before');
      writer.flush(box);
      server.close(1000, 'bye');
      assert.equal(writer.send(box, 'after'), false, 'not open any more');
      const closed = new Promise<number>((resolve) => client.once('close', resolve));
      assert.equal(await closed, 1000);
      assert.deepEqual(received, ['before']);
    } finally {
      close();
    }
  });

  it('drops frames queued before a close it was not told about (no data after a Close)', async () => {
    const { server, client, received, close } = await pair();
    try {
      const writer = new FrameWriter();
      const box = new Outbox(server);
      writer.send(box, 'unsent');
      server.close(1000, 'bye'); // ws writes its Close now
      const socket = (server as unknown as { _socket: { write(chunk: unknown): boolean } })._socket;
      let writes = 0;
      socket.write = () => !!++writes;
      assert.equal(await new Promise<number>((resolve) => client.once('close', resolve)), 1000, 'a clean close: no frame after it');
      assert.deepEqual(received, []);
      assert.equal(writes, 0, 'nothing written after the Close');
    } finally {
      close();
    }
  });
});
