/**
 * Noticing that Redis lost the unread part of the stream. Every consumer of a group counts its reads on
 * one counter in Redis (`{<stream>}:generation`, generationKey() in stream.ts; INCR: each answer is higher than every one before) and
 * keeps the highest answer it saw, here and in PostgreSQL (stream_position). An answer at or below it
 * means Redis went back to an older copy of its data: a restart from an old snapshot or without
 * persistence (the counter gone: 1), a failover to a replica that had not caught up. The stream's own
 * ids cannot tell: entries added after such a loss get ids above every earlier one, and the group's
 * position comes back with the older copy. A consumer that starts after a loss notices it too.
 */
import type { Pool } from 'pg';

export class StreamPosition {
  /** The highest generation seen (by this process, or stored); 0: none. */
  private seen = 0;
  private stored = 0;
  private lastStore = 0;
  private replaceNext = false;

  constructor(
    private readonly pool: Pool,
    private readonly stream: string,
    private readonly group: string,
    /** At most one write per this many milliseconds (a small upsert, outside the batches' transactions). */
    private readonly storeEveryMs = 1000,
  ) {}

  /** Reads the stored generation: whether the group counted reads before. */
  async load(): Promise<boolean> {
    const { rows } = await this.pool.query<{ generation: string }>('SELECT generation FROM stream_position WHERE stream = $1 AND grp = $2', [
      this.stream,
      this.group,
    ]);
    if (rows[0]) this.seen = this.stored = Math.max(this.seen, Number(rows[0].generation));
    return this.seen > 0;
  }

  /** Redis lost the counter with the group (NOGROUP, already reported): the next answer starts afresh. */
  forget(): void {
    this.seen = 0;
    this.replaceNext = true;
  }

  /** Takes the counter's answer to this read; true when Redis went back (the answer is not above every earlier one). */
  async observe(generation: number): Promise<boolean> {
    const wentBack = this.seen > 0 && generation <= this.seen;
    // After a loss the older copy's counter is the reference from now on.
    this.seen = wentBack ? generation : Math.max(this.seen, generation);
    const replace = wentBack || this.replaceNext;
    if (replace || Date.now() - this.lastStore >= this.storeEveryMs) await this.store(replace);
    this.replaceNext = false;
    return wentBack;
  }

  private async store(replace: boolean): Promise<void> {
    if (this.seen === this.stored && !replace) return;
    this.lastStore = Date.now();
    // Forward only (several consumers share the row), unless this consumer found that Redis went back.
    await this.pool.query(
      `INSERT INTO stream_position AS p (stream, grp, generation) VALUES ($1, $2, $3)
       ON CONFLICT (stream, grp) DO UPDATE SET generation = EXCLUDED.generation WHERE $4 OR p.generation < EXCLUDED.generation`,
      [this.stream, this.group, this.seen, replace],
    );
    this.stored = this.seen;
  }
}
