/** Test-side WebTorrent: real WebSocket clients (the ws package) that queue what the tracker sends. */
import { randomBytes } from 'node:crypto';
import { WebSocket } from 'ws';

export type Message = Record<string, any>;

/** A 20-byte id as WebTorrent writes it: one code point per byte. */
export function binaryId(bytes: Buffer = randomBytes(20)): string {
  return bytes.toString('latin1');
}

export class WsClient {
  readonly messages: Message[] = [];
  private waiters: Array<{ match: (m: Message) => boolean; resolve: (m: Message) => void }> = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const message = JSON.parse((data as Buffer).toString('utf8')) as Message;
      const waiter = this.waiters.find((w) => w.match(message));
      if (waiter) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve(message);
      } else {
        this.messages.push(message);
      }
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  }

  /** Opens a socket (wss:// trusting `ca` when given); rejects with the HTTP status when the upgrade is refused. */
  static open(url: string, headers: Record<string, string> = {}, localAddress?: string, ca?: Buffer): Promise<WsClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers, perMessageDeflate: false, localAddress, ...(ca ? { ca } : {}) });
      const client = new WsClient(ws);
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** The first message (queued or to come) that matches, within `timeoutMs`. */
  next(match: (m: Message) => boolean = () => true, timeoutMs = 5000): Promise<Message> {
    const i = this.messages.findIndex(match);
    if (i !== -1) return Promise.resolve(this.messages.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`no matching message within ${timeoutMs} ms; got ${JSON.stringify(this.messages)}`));
      }, timeoutMs);
      const done = (m: Message): void => {
        clearTimeout(timer);
        resolve(m);
      };
      this.waiters.push({ match, resolve: done });
    });
  }

  /** Sends and waits for the reply that matches. */
  async request(message: unknown, match: (m: Message) => boolean): Promise<Message> {
    const reply = this.next(match);
    this.send(message);
    return reply;
  }

  close(): Promise<{ code: number; reason: string }> {
    this.ws.close();
    return this.closed;
  }
}

/** Matchers of what the tracker sends. */
export const isAnnounceReply = (m: Message): boolean => m.action === 'announce' && m.interval !== undefined;
export const isOffer = (m: Message): boolean => m.offer !== undefined;
export const isAnswer = (m: Message): boolean => m.answer !== undefined;
export const isFailure = (m: Message): boolean => m['failure reason'] !== undefined;
export const isScrape = (m: Message): boolean => m.action === 'scrape' && m.files !== undefined;

export function offers(count: number): Array<{ offer: { type: 'offer'; sdp: string }; offer_id: string }> {
  return Array.from({ length: count }, (_, i) => ({ offer: { type: 'offer', sdp: `v=0 offer ${i} ${randomBytes(4).toString('hex')}` }, offer_id: binaryId() }));
}

export function announce(infoHash: string, peerId: string, extra: Record<string, unknown> = {}): Message {
  return { action: 'announce', info_hash: infoHash, peer_id: peerId, uploaded: 0, downloaded: 0, left: 100, numwant: 10, ...extra };
}
