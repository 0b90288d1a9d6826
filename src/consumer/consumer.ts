/**
 * The reference consumer's loop: its own unacknowledged entries first (a previous run of this consumer
 * may have died holding them), then new entries, and from time to time the entries of consumers that
 * died, taken over with XAUTOCLAIM. Each batch is committed to PostgreSQL before it is acknowledged,
 * so a crash anywhere means a redelivery, which applied_ids turns into a no-op: exactly once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { retryDelay } from '../redis/backoff.js';
import { clean, decodeEntries, type StreamEntry } from './decode.js';
import type { ConsumerMetrics } from './metrics.js';
import { applyBatch, type BatchOutcome, type ConsumerRun, createSchema, DEFAULT_PEER_OPTIONS, pruneAppliedIds } from './postgres.js';
import { emptyRecovery, pruneActivePeers, pruneSessions, type PeerOptions, type Recovery } from './sessions.js';
import type { GroupMember } from './stream.js';
import { StreamPosition } from './position.js';

export interface ConsumerOptions {
  member: GroupMember;
  pool: Pool;
  logger: Logger;
  batchSize: number;
  /** Milliseconds an entry stays unacknowledged by another consumer before it is claimed. */
  claimIdleMs: number;
  /** Milliseconds a read waits for new entries (also how long a stop may wait for the read). */
  blockMs: number;
  /** Milliseconds between prunings of old applied ids. */
  pruneEveryMs?: number;
  /** Seed time's grace and the peer TTL of active_peers (consumer.seed_grace, peer_ttl). */
  peers?: PeerOptions;
  /** Milliseconds between prunings of active_peers rows older than the peer TTL. */
  peerPruneEveryMs?: number;
  /** Seconds a session's marks are kept after its last record (consumer.session_retention; at least twice the peer TTL is used). */
  sessionRetentionSeconds?: number;
  /** Where batches are counted (the consumer's /metrics); optional. */
  metrics?: ConsumerMetrics;
  /**
   * Milliseconds after a stream loss during which an open epoch of a session never seen counts from 0
   * (about one announce interval: every live session announces again within it).
   */
  recoveryWindowMs?: number;
}

export interface ConsumerTotals {
  applied: number;
  duplicates: number;
  deadLetters: number;
  claimed: number;
  /** Raw bytes the session marks credited beyond the records' own deltas, this run. */
  recoveredUploaded: number;
  recoveredDownloaded: number;
}

export class Consumer {
  readonly totals: ConsumerTotals = { applied: 0, duplicates: 0, deadLetters: 0, claimed: 0, recoveredUploaded: 0, recoveredDownloaded: 0 };
  /** This run, as credit_recovery names it. */
  readonly thisRun: ConsumerRun;
  private readonly stopping = new AbortController();
  private lastErrorLog = 0;

  constructor(private readonly options: ConsumerOptions) {
    const startedAt = new Date();
    this.thisRun = { id: `${options.member.name}@${startedAt.toISOString()}`, startedAt };
  }

  /** When this run found that Redis lost the unread part of the stream, unix ms; 0: never. */
  private streamLostAt = 0;

  /** Redis lost the unread part of the stream: sessions that began in it count from 0 for a while. */
  private streamLost(how: 'group_gone' | 'went_back'): void {
    this.streamLostAt = Date.now();
    this.options.metrics?.streamLost(how);
    this.options.logger.warn(
      { how },
      how === 'group_gone'
        ? 'the accounting stream or its consumer group is gone (Redis lost data?): joining it again from its start'
        : 'Redis went back to an older copy of the accounting stream (a restart from an old snapshot, a failover to a replica behind): its unread part is lost',
    );
  }

  /** The peer options of a batch: after a stream loss, unknown sessions' open epochs count from 0 for a while. */
  private peerOptions(): PeerOptions {
    const peers = this.options.peers ?? DEFAULT_PEER_OPTIONS;
    if (this.streamLostAt === 0) return peers;
    return { ...peers, unknownFromZeroUntil: this.streamLostAt + (this.options.recoveryWindowMs ?? 120_000) };
  }

  /** Finishes the batch in hand, then run() returns. */
  stop(): void {
    this.stopping.abort();
  }

  get stopped(): boolean {
    return this.stopping.signal.aborted;
  }

  async run(): Promise<void> {
    const { member, pool, batchSize, claimIdleMs, blockMs } = this.options;
    const pruneEveryMs = this.options.pruneEveryMs ?? 3600_000;
    // Claim passes come often enough that a dead consumer's entries wait about claim_idle, no more.
    const claimEveryMs = Math.min(Math.max(claimIdleMs / 2, 500), 30_000);
    const position = new StreamPosition(pool, member.stream, member.group);
    await this.retrying('start-up', async () => {
      await createSchema(pool);
      await position.load();
      await member.join();
    });
    let pendingAfter: string | null = '0';
    let nextClaim = 0;
    let nextPrune = 0;
    let nextPeerPrune = 0;
    const peers = this.options.peers ?? DEFAULT_PEER_OPTIONS;
    let failures = 0;
    /** The next batch, read while the one in hand is applied; its entries are pending for this consumer until applied. */
    let ahead: ReturnType<GroupMember['next']> | null = null;
    while (!this.stopped) {
      try {
        // Not before its own pending entries are applied: a batch committed but never acknowledged by a
        // run that died long ago must still find its ids.
        if (pendingAfter === null && Date.now() >= nextPrune) {
          const pruned = await pruneAppliedIds(pool);
          if (pruned > 0) this.options.logger.info({ pruned }, 'pruned old applied ids');
          nextPrune = Date.now() + pruneEveryMs;
        }
        if (Date.now() >= nextPeerPrune) {
          await pruneActivePeers(pool, peers.peerTtlSeconds);
          await pruneSessions(pool, Math.max(this.options.sessionRetentionSeconds ?? 86400, 2 * peers.peerTtlSeconds));
          nextPeerPrune = Date.now() + (this.options.peerPruneEveryMs ?? 30_000);
        }
        if (Date.now() >= nextClaim) {
          await this.claimAbandoned();
          nextClaim = Date.now() + claimEveryMs;
        }
        if (pendingAfter !== null) {
          const entries = await member.pending(pendingAfter, batchSize);
          if (entries.length === 0) pendingAfter = null;
          else {
            await this.apply(entries);
            pendingAfter = entries.at(-1)!.streamId;
          }
        } else {
          const read = ahead ?? member.next(batchSize, blockMs);
          ahead = null;
          const { entries, generation } = await read;
          if (entries.length > 0) {
            // Before they are applied: entries read after Redis lost data are credited knowing it.
            if (await position.observe(generation)) this.streamLost('went_back');
            ahead = this.readAhead();
            await this.apply(entries);
          }
        }
        failures = 0;
      } catch (error) {
        failures++;
        // A batch read ahead is pending for this consumer: the pending pass below reads it again.
        ahead = null;
        if (isNoGroup(error)) {
          // The stream or its group is gone: Redis lost its data (a restart without persistence, a failover
          // to a replica that never had them). Whatever is written from now on must still be read.
          this.streamLost('group_gone');
          await member.join().catch(() => false);
          position.forget(); // the counter went with the group: this loss is reported once
          pendingAfter = '0';
          continue;
        }
        this.logFailure(error as Error);
        // Whatever was read but not applied is pending for this consumer: read it again first.
        pendingAfter = '0';
        await this.pause(retryDelay(failures));
      }
    }
    // Applied now rather than left pending until this consumer runs again or another claims them.
    if (ahead) await this.applyRead(ahead, position);
    this.options.logger.info(this.totals, 'consumer stopped');
  }

  /**
   * Reads the next batch without waiting, while the batch in hand is applied: the read and its decoding
   * overlap the PostgreSQL transaction. Not once stopping. A failed read fails when awaited.
   */
  private readAhead(): ReturnType<GroupMember['next']> | null {
    if (this.stopped) return null;
    const read = this.options.member.next(this.options.batchSize, 0);
    read.catch(() => {}); // awaited later, or dropped after a failure (its entries stay pending)
    return read;
  }

  /** Applies a batch read ahead when the loop ended; a failure leaves its entries pending, as a crash would. */
  private async applyRead(read: ReturnType<GroupMember['next']>, position: StreamPosition): Promise<void> {
    try {
      const { entries, generation } = await read;
      if (entries.length === 0) return;
      if (await position.observe(generation)) this.streamLost('went_back');
      await this.apply(entries);
    } catch (error) {
      this.logFailure(error as Error);
    }
  }

  /** Claims and applies the entries that dead consumers left, a batch at a time. */
  private async claimAbandoned(): Promise<void> {
    const { member, batchSize, claimIdleMs } = this.options;
    let cursor = '0-0';
    do {
      const claimed = await member.claim(claimIdleMs, cursor, batchSize);
      cursor = claimed.cursor;
      if (claimed.entries.length > 0) {
        this.totals.claimed += claimed.entries.length;
        this.options.logger.info({ entries: claimed.entries.length }, 'claimed entries a stopped consumer left');
        await this.apply(claimed.entries);
      }
    } while (cursor !== '0-0' && !this.stopped);
  }

  private async apply(entries: StreamEntry[]): Promise<void> {
    const decoded = decodeEntries(entries);
    let outcome: BatchOutcome;
    try {
      outcome = await applyBatch(this.options.pool, decoded, this.peerOptions(), this.thisRun);
    } catch (error) {
      // A record the database refuses (a total beyond bigint) would fail its batch forever and stop
      // everyone's accounting: find it, one entry at a time, and set it aside.
      if (!isDataError(error)) throw error;
      outcome = await this.applyOneByOne(entries);
    }
    await this.options.member.done(entries.map((e) => e.streamId));
    this.totals.applied += outcome.applied;
    this.totals.duplicates += outcome.duplicates;
    this.totals.deadLetters += outcome.deadLetters;
    this.totals.recoveredUploaded += Number(outcome.recovery.uploaded);
    this.totals.recoveredDownloaded += Number(outcome.recovery.downloaded);
    this.options.metrics?.batch(outcome);
    if (outcome.recovery.records > 0) {
      this.options.logger.info(
        { records: outcome.recovery.records, uploaded: String(outcome.recovery.uploaded), downloaded: String(outcome.recovery.downloaded) },
        "credited bytes of records that never reached the stream, from their sessions' later records",
      );
    }
    if (outcome.deadLetters > 0) {
      this.options.logger.warn({ count: outcome.deadLetters, first: decoded.deadLetters[0] }, 'malformed stream entries set aside in dead_letters');
    }
    this.options.logger.debug({ entries: entries.length, ...outcome }, 'batch applied');
  }

  private async applyOneByOne(entries: StreamEntry[]): Promise<BatchOutcome> {
    const sum: BatchOutcome = { applied: 0, duplicates: 0, deadLetters: 0, recovery: emptyRecovery() };
    for (const entry of entries) {
      let outcome: BatchOutcome;
      try {
        outcome = await applyBatch(this.options.pool, decodeEntries([entry]), this.peerOptions(), this.thisRun);
      } catch (error) {
        if (!isDataError(error)) throw error;
        const reason = clean(`the database refused the record: ${(error as Error).message}`);
        outcome = await applyBatch(this.options.pool, {
          records: [],
          deadLetters: [{ streamId: entry.streamId, fields: entry.fields?.map(clean) ?? null, error: reason }],
        });
      }
      sum.applied += outcome.applied;
      sum.duplicates += outcome.duplicates;
      sum.deadLetters += outcome.deadLetters;
      addRecovery(sum.recovery, outcome.recovery);
    }
    return sum;
  }

  private async retrying(what: string, work: () => Promise<void>): Promise<void> {
    for (let failures = 1; !this.stopped; failures++) {
      try {
        return await work();
      } catch (error) {
        this.logFailure(error as Error, what);
        await this.pause(retryDelay(failures));
      }
    }
  }

  /** Sleeps, cut short by stop(). */
  private async pause(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.stopping.signal }).catch(() => {});
  }

  private logFailure(error: Error, what = 'applying the stream'): void {
    const now = Date.now();
    if (now - this.lastErrorLog < 5000) return;
    this.lastErrorLog = now;
    this.options.logger.error({ err: error }, `${what} failed; retrying`);
  }
}

/** Redis' answer to a group command once the stream or its group no longer exists. */
function isNoGroup(error: unknown): boolean {
  return /NOGROUP/.test((error as Error | null)?.message ?? '');
}

function addRecovery(into: Recovery, more: Recovery): void {
  into.records += more.records;
  into.uploaded += more.uploaded;
  into.downloaded += more.downloaded;
  into.suppressedRecords += more.suppressedRecords;
  into.suppressedUploaded += more.suppressedUploaded;
  into.suppressedDownloaded += more.suppressedDownloaded;
}

/** PostgreSQL's class 22, data exceptions (such as 22003, numeric value out of range): the data is at fault, not the connection. */
function isDataError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('22');
}
