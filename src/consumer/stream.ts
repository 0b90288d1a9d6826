/** The consumer's Redis side: one consumer of a consumer group on the accounting stream. */
import type { RedisClient } from '../redis/connection.js';
import type { StreamEntry } from './decode.js';

/**
 * Entries of an XREADGROUP or XAUTOCLAIM reply. XREADGROUP's shape depends on the protocol: RESP2
 * gives [[stream, entries]], RESP3 a map that ioredis may hand over flat as [stream, entries].
 */
function parseEntries(list: unknown): StreamEntry[] {
  if (!Array.isArray(list)) throw new Error('unexpected stream reply from Redis');
  return list.map((item: unknown) => {
    if (!Array.isArray(item) || typeof item[0] !== 'string') throw new Error('unexpected stream entry from Redis');
    const fields: unknown = item[1];
    if (fields !== null && !(Array.isArray(fields) && fields.every((f) => typeof f === 'string'))) throw new Error('unexpected stream entry fields from Redis');
    return { streamId: item[0], fields: fields as string[] | null };
  });
}

function readReply(reply: unknown): StreamEntry[] {
  if (reply === null) return [];
  if (!Array.isArray(reply) || reply.length === 0) throw new Error('unexpected XREADGROUP reply from Redis');
  const streamEntries: unknown = typeof reply[0] === 'string' ? reply[1] : (reply[0] as unknown[])[1];
  return parseEntries(streamEntries);
}

export class GroupMember {
  constructor(
    private readonly client: RedisClient,
    readonly stream: string,
    readonly group: string,
    readonly name: string,
  ) {}

  /**
   * Creates the group (and the stream) if missing, reading from the stream's start: nothing written before
   * is skipped. True when it created the group.
   */
  async join(): Promise<boolean> {
    try {
      await this.client.call('XGROUP', 'CREATE', this.stream, this.group, '0', 'MKSTREAM');
      return true;
    } catch (error) {
      if (!/BUSYGROUP/.test((error as Error).message)) throw error;
      return false;
    }
  }

  /**
   * Entries never delivered to any consumer, waiting up to blockMs for some (0: not at all), with the
   * group's generation counter's answer to this read (an INCR in the same round trip: every answer is
   * higher than the last, unless Redis lost data; see position.ts).
   */
  async next(count: number, blockMs: number): Promise<{ entries: StreamEntry[]; generation: number }> {
    const block = blockMs > 0 ? ['BLOCK', blockMs] : [];
    const pipeline = this.client.pipeline();
    pipeline.call('XREADGROUP', 'GROUP', this.group, this.name, 'COUNT', count, ...block, 'STREAMS', this.stream, '>');
    pipeline.call('INCR', generationKey(this.stream));
    const replies = (await pipeline.exec()) ?? [];
    for (const [error] of replies) if (error) throw error;
    if (replies.length !== 2) throw new Error('unexpected reply to a stream read from Redis');
    return { entries: readReply(replies[0]![1]), generation: Number(replies[1]![1]) };
  }

  /** This consumer's own entries delivered but not acknowledged, after `afterId`. */
  async pending(afterId: string, count: number): Promise<StreamEntry[]> {
    return readReply(await this.client.call('XREADGROUP', 'GROUP', this.group, this.name, 'COUNT', count, 'STREAMS', this.stream, afterId));
  }

  /**
   * Takes over entries other consumers read but left unacknowledged for minIdleMs; returns the next
   * cursor ("0-0" at the end). Pending entries deleted from the stream meanwhile, which Redis 7 drops
   * from the group and lists apart, come back with null fields, like XREADGROUP shows them.
   */
  async claim(minIdleMs: number, cursor: string, count: number): Promise<{ cursor: string; entries: StreamEntry[] }> {
    const reply = await this.client.call('XAUTOCLAIM', this.stream, this.group, this.name, minIdleMs, cursor, 'COUNT', count);
    if (!Array.isArray(reply) || typeof reply[0] !== 'string') throw new Error('unexpected XAUTOCLAIM reply from Redis');
    const deleted: unknown = reply[2] ?? [];
    if (!Array.isArray(deleted) || !deleted.every((id) => typeof id === 'string')) throw new Error('unexpected XAUTOCLAIM reply from Redis');
    return { cursor: reply[0], entries: [...parseEntries(reply[1]), ...deleted.map((streamId: string) => ({ streamId, fields: null }))] };
  }

  /** Acknowledges applied entries and deletes them: the stream only holds what is still to be applied. */
  async done(streamIds: string[]): Promise<void> {
    if (streamIds.length === 0) return;
    const pipeline = this.client.pipeline();
    pipeline.call('XACK', this.stream, this.group, ...streamIds);
    pipeline.call('XDEL', this.stream, ...streamIds);
    for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
  }
}

/**
 * The generation counter's key, in the stream's hash slot (on a Cluster both live and fail over together):
 * `<stream>:generation` when the stream's name has a hash tag, `{<stream>}:generation` otherwise.
 */
export function generationKey(stream: string): string {
  return /\{[^}]+\}/.test(stream) ? `${stream}:generation` : `{${stream}}:generation`;
}
