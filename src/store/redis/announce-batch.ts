/**
 * Batched announces: the announces waiting for one Redis node within one event-loop turn go in one
 * call of lua/announce-batch.lua, which applies each as lua/announce.lua would and answers one flat
 * array of strings for all. Why: what a script call costs Redis besides the script's own work (EVALSHA, the
 * script's set-up, the clock, the reply) is paid once per call instead of once per announce
 * (measured: docs/performance.md, "Batched announces").
 *
 * Nothing waits for a batch to fill: the queue is flushed after the current turn's I/O callbacks
 * (setImmediate), whatever it holds; a lone announce goes alone, through the single script, as before.
 * Grouped by the fast lane that owns each announce's slot (one per node on Cluster, the one lane
 * otherwise), at most `max` an call. Whatever goes wrong with a batch (the lane not ready, an error
 * reply such as NOSCRIPT, MOVED or OOM, the connection lost) fails each of its announces with
 * LaneFallback, and the store sends each again alone through ioredis, as it does after a single call's
 * fallback; an announce of the batch that failed alone (a slot that moved away) falls back alone.
 */
import { createHash } from 'node:crypto';
import { Cluster } from 'ioredis';
import type { Logger } from 'pino';
import type { RedisClient } from '../../redis/connection.js';
import { LaneFallback, type RespLane, type RespValue, type TaggedKeys } from '../../redis/resp-lane.js';
import { isKeyList } from '../../redis/resp-writer.js';
import { BATCH_REPLY } from './protocol.js';
import { script } from './scripts.js';

/** One announce's answer as lua/announce.lua's reply table: numbers, then strings (and snatched, a number). */
export type DecodedReply = Array<number | Buffer>;

interface Waiting {
  lane: RespLane;
  keys: readonly string[] | TaggedKeys;
  argv: ReadonlyArray<string | Buffer>;
  deadline: number;
  resolve: (value: RespValue) => void;
  reject: (error: unknown) => void;
}

/** Counts of what the queue sent (the store's events()). */
export interface BatchCounts {
  /** calls of the batch script */
  announce_batch_calls: number;
  /** announces those calls carried */
  announce_batched: number;
}

const HEX = '0123456789abcdef';

/** A tagged key list as the key names it stands for (resp-writer.ts writes the same bytes). */
function keyNames(keys: readonly string[] | TaggedKeys): Array<string | Buffer> {
  if (isKeyList(keys)) return keys as string[];
  let hex = '';
  for (const byte of keys.tag) hex += HEX[byte >> 4]! + HEX[byte & 15]!;
  const braced = Buffer.from(`{${hex}}:`, 'latin1');
  return keys.tails.map((tail) => Buffer.concat([keys.head, braced, tail]));
}

/** Whether two announces have the very same keys (the same swarm, announced the same way). */
function sameKeys(a: readonly string[] | TaggedKeys, b: readonly string[] | TaggedKeys): boolean {
  if (isKeyList(a) || isKeyList(b)) {
    if (!isKeyList(a) || !isKeyList(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  return a.tails === b.tails && a.head === b.head && a.tag.equals(b.tag);
}

/**
 * The batch with each swarm's announces together, in their order: announces of different swarms touch
 * no key in common, so their order between them changes nothing, and those of one swarm share their keys.
 */
function bySwarm(part: Waiting[]): Waiting[] {
  if (part.length <= 2) return part;
  const groups = new Map<string, Waiting[]>();
  for (const entry of part) {
    const id = isKeyList(entry.keys) ? entry.keys.join(' ') : entry.keys.tag.toString('latin1');
    const group = groups.get(id);
    if (group === undefined) groups.set(id, [entry]);
    else group.push(entry);
  }
  if (groups.size === part.length) return part;
  const ordered: Waiting[] = [];
  for (const group of groups.values()) for (const entry of group) ordered.push(entry);
  return ordered;
}

export class AnnounceBatcher {
  private waiting: Waiting[] = [];
  private scheduled = false;
  private readonly shared: Buffer;
  readonly counts: BatchCounts = { announce_batch_calls: 0, announce_batched: 0 };
  private readonly flush = (): void => this.send();
  private readonly batchSha = createHash('sha1').update(script('announce-batch')).digest('hex');

  constructor(
    private readonly client: RedisClient,
    /** Most announces of one call (2 or more). */
    private readonly max: number,
    /** SHA1 of lua/announce.lua (a lone announce). */
    private readonly singleSha: string,
    peerTtl: number,
    private readonly logger: Logger,
  ) {
    this.shared = Buffer.alloc(4);
    this.shared.writeUInt32BE(peerTtl);
    // Loaded ahead on every (re)connection, so that the first batches do not fall back (NOSCRIPT).
    client.on('ready', this.preload);
    if (client.status === 'ready') this.preload();
  }

  close(): void {
    this.client.off('ready', this.preload);
  }

  private readonly preload = (): void => {
    const client = this.client;
    for (const node of client instanceof Cluster ? client.nodes('master') : [client]) this.load(node);
  };

  private load(node: { script(...args: string[]): Promise<unknown> }): void {
    node.script('LOAD', script('announce-batch')).catch((error: Error) => this.logger.warn({ err: error }, 'loading the announce batch script failed'));
  }

  /** A node answered NOSCRIPT to the batch script (a new master, a flushed cache): load it there; meanwhile its announces fall back one by one. */
  private onNoScript(lane: RespLane): void {
    const client = this.client;
    const node = client instanceof Cluster ? client.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === lane.address()) : client;
    if (node) this.load(node);
  }

  /** The announce's reply (as the single script's table), through `lane`, alone or in a batch. Rejects with LaneFallback as a lane call does. */
  submit(lane: RespLane, keys: readonly string[] | TaggedKeys, argv: ReadonlyArray<string | Buffer>, deadline: number): Promise<RespValue> {
    return new Promise<RespValue>((resolve, reject) => {
      this.waiting.push({ lane, keys, argv, deadline, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.flush);
      }
    });
  }

  private send(): void {
    const waiting = this.waiting;
    this.waiting = [];
    this.scheduled = false;
    if (waiting.length === 1) return this.single(waiting[0]!);
    const byLane = new Map<RespLane, Waiting[]>();
    for (const entry of waiting) {
      const group = byLane.get(entry.lane);
      if (group === undefined) byLane.set(entry.lane, [entry]);
      else group.push(entry);
    }
    for (const group of byLane.values()) {
      for (let from = 0; from < group.length; from += this.max) {
        const part = group.length <= this.max ? group : group.slice(from, from + this.max);
        if (part.length === 1) this.single(part[0]!);
        else this.batch(part);
      }
    }
  }

  private single(entry: Waiting): void {
    let sent: Promise<RespValue> | null;
    try {
      sent = entry.lane.evalsha(this.singleSha, entry.keys, entry.argv, entry.deadline);
    } catch (error) {
      return entry.reject(error);
    }
    if (sent === null) return entry.reject(new LaneFallback('closed', 'redis fast lane: not ready'));
    sent.then(entry.resolve, entry.reject);
  }

  private batch(unordered: Waiting[]): void {
    const part = bySwarm(unordered);
    const words: Array<string | Buffer> = ['EVALSHA', this.batchSha, '0', this.shared];
    let deadline = Infinity;
    let previous: Waiting | null = null;
    for (const entry of part) {
      if (previous !== null && sameKeys(previous.keys, entry.keys)) {
        // The same swarm's keys as the announce before: the script takes those again (no new strings).
        words.push(Buffer.from([0, entry.argv.length]));
      } else {
        const keys = keyNames(entry.keys);
        words.push(Buffer.from([keys.length, entry.argv.length]));
        for (const key of keys) words.push(key);
      }
      for (const arg of entry.argv) words.push(arg);
      if (entry.deadline < deadline) deadline = entry.deadline;
      previous = entry;
    }
    const lane = part[0]!.lane;
    let sent: Promise<RespValue> | null;
    try {
      sent = lane.command(words, deadline);
    } catch (error) {
      for (const entry of part) entry.reject(error);
      return;
    }
    if (sent === null) {
      const declined = new LaneFallback('closed', 'redis fast lane: not ready');
      for (const entry of part) entry.reject(declined);
      return;
    }
    this.counts.announce_batch_calls++;
    this.counts.announce_batched += part.length;
    sent.then(
      (value) => {
        let replies: Array<DecodedReply | string>;
        try {
          if (!Array.isArray(value)) throw new Error('announce batch script: the reply is no array');
          replies = decodeBatch(value, part.length);
        } catch (error) {
          for (const entry of part) entry.reject(error);
          return;
        }
        // The lane counts calls answered; a batch answers each of its announces.
        lane.answered += part.length - 1;
        for (let i = 0; i < part.length; i++) {
          const reply = replies[i]!;
          if (typeof reply === 'string') part[i]!.reject(new LaneFallback('error_reply', reply));
          else part[i]!.resolve(reply);
        }
      },
      (error: unknown) => {
        if (error instanceof LaneFallback && error.message.startsWith('NOSCRIPT')) this.onNoScript(lane);
        for (const entry of part) entry.reject(error);
      },
    );
  }
}

/**
 * lua/announce-batch.lua's reply (a flat array of strings): `count` answers, each as the single
 * script's reply table (strings as they came, no copies), or an error's message. Throws on a
 * malformed reply.
 */
export function decodeBatch(parts: RespValue[], count: number): Array<DecodedReply | string> {
  const out: Array<DecodedReply | string> = [];
  let at = 0;
  const next = (): Buffer => {
    const part = parts[at++];
    if (!Buffer.isBuffer(part)) throw new Error('announce batch script: an answer cut short or not a string');
    return part;
  };
  for (let n = 0; n < count; n++) {
    const head = next();
    const kind = head[0];
    if (kind === BATCH_REPLY.error && head.length === 1) {
      out.push(next().toString('utf8'));
      continue;
    }
    const snatched = kind === BATCH_REPLY.public || kind === BATCH_REPLY.private;
    if (
      (kind !== BATCH_REPLY.refusal && kind !== BATCH_REPLY.public && kind !== BATCH_REPLY.v2 && kind !== BATCH_REPLY.private) ||
      head.length !== (snatched ? 14 : 13)
    ) {
      throw new Error(`announce batch script: malformed answer (kind ${String(kind)}, ${head.length} bytes)`);
    }
    const reply: DecodedReply = [head.readUInt32BE(1), head.readUInt32BE(5), head.readUInt32BE(9), next(), next(), next()];
    if (kind === BATCH_REPLY.v2) reply.push(next());
    else if (snatched) {
      reply.push(head[13]!);
      if (kind === BATCH_REPLY.private) reply.push(next(), next(), next(), next(), next());
    }
    out.push(reply);
  }
  if (at !== parts.length) throw new Error('announce batch script: more answers than announces');
  return out;
}
