/**
 * A witness of the accounting stream: a connection of its own reads every entry with plain XREAD (not
 * the consumer group, which it must not disturb), as soon as it is written, and notes what it carried and
 * when it was seen. The verdict uses it to tell a record Redis itself lost (it was in the stream, then the
 * stream was gone) from one that never reached the stream. The consumer deletes what it applied, so the
 * tap reads with a blocking XREAD, which Redis answers at the XADD, before the consumer's transaction.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisClient } from '../../src/redis/connection.js';
import { connectSoakClient } from './topology.js';

/** Entries the tap keeps at most: a bound on its memory whatever the run's length (about 100 a second). */
const MAX_RECORDS = 2_000_000;
const BATCH = 1000;
const BLOCK_MS = 1000;

export interface TapRecord {
  streamId: string;
  /** The record id (the stream field `id`, the key of applied_ids). */
  id: string;
  user: number;
  torrent: number;
  peerIdHex: string;
  event: string;
  /** The totals the client reported (its session's), and the bytes this record credits (up, down). */
  totalUp: number;
  totalDown: number;
  credited: { uploaded: number; downloaded: number };
  snatched: boolean;
  /** When the tap read it (ms). */
  seenAt: number;
}

/** [[key, entries]] (RESP2), or the map of RESP3 that ioredis may hand over flat as [key, entries]. */
function entriesOf(reply: unknown): Array<[string, string[]]> {
  if (reply === null) return [];
  if (!Array.isArray(reply) || reply.length === 0) throw new Error('unexpected XREAD reply');
  const entries: unknown = typeof reply[0] === 'string' ? reply[1] : (reply[0] as unknown[])[1];
  if (!Array.isArray(entries)) throw new Error('unexpected XREAD reply');
  return entries as Array<[string, string[]]>;
}

export class StreamTap {
  readonly records: TapRecord[] = [];
  /** Entries it could not read as records (fields missing): printed, they say the format moved. */
  unreadable = 0;
  /** True once MAX_RECORDS was reached: later entries are not kept. */
  overflowed = false;
  errors = 0;
  /** Stream ids read, so that reading a stream again from its start after a reset counts nothing twice. */
  private readonly seen = new Set<string>();
  private cursor = '0-0';
  private generation = 0;
  private running = true;
  private readonly loop: Promise<void>;
  private readonly client: RedisClient;

  constructor(
    connection: Record<string, unknown>,
    private readonly streamKey: string,
  ) {
    // A blocking read holds its command for BLOCK_MS.
    this.client = connectSoakClient(connection, BLOCK_MS + 4000);
    this.loop = this.run();
  }

  /**
   * Redis lost the stream (an empty restart): the new stream's ids start again from the clock, so the
   * tap reads it from its start rather than trusting its old cursor.
   */
  resetCursor(): void {
    this.generation++;
    this.cursor = '0-0';
  }

  private async run(): Promise<void> {
    while (this.running) {
      const generation = this.generation;
      try {
        const reply = await this.client.call('XREAD', 'COUNT', BATCH, 'BLOCK', BLOCK_MS, 'STREAMS', this.streamKey, this.cursor);
        const now = Date.now();
        const entries = entriesOf(reply);
        for (const [streamId, fields] of entries) this.note(streamId, fields, now);
        // A reset while this read was out: the read may be the old stream's; keep its records, not its cursor.
        if (entries.length > 0 && generation === this.generation) this.cursor = entries.at(-1)![0];
      } catch {
        // Redis away (a failover, a restart): the client reconnects; read again shortly.
        this.errors++;
        await sleep(100);
      }
    }
  }

  private note(streamId: string, list: string[], seenAt: number): void {
    if (this.records.length >= MAX_RECORDS) {
      this.overflowed = true;
      return;
    }
    if (this.seen.has(streamId)) return;
    this.seen.add(streamId);
    const fields = new Map<string, string>();
    for (let i = 0; i + 1 < list.length; i += 2) fields.set(list[i]!, list[i + 1]!);
    const id = fields.get('id');
    const user = Number(fields.get('user'));
    const torrent = Number(fields.get('torrent'));
    const totalUp = Number(fields.get('total_up'));
    const totalDown = Number(fields.get('total_down'));
    const credited = { uploaded: Number(fields.get('up')), downloaded: Number(fields.get('down')) };
    const peerIdHex = fields.get('peer_id');
    if (!id || !peerIdHex || ![user, torrent, totalUp, totalDown, credited.uploaded, credited.downloaded].every(Number.isSafeInteger)) {
      this.unreadable++;
      return;
    }
    this.records.push({
      streamId,
      id,
      user,
      torrent,
      peerIdHex,
      event: fields.get('event') ?? '',
      totalUp,
      totalDown,
      credited,
      snatched: fields.get('snatched') === '1',
      seenAt,
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    this.client.disconnect();
  }
}
