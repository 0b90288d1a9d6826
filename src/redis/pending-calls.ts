/**
 * The fast lane's calls awaiting replies: a ring of slots in send order (RESP answers in the same
 * order), no object per call but the caller's promise, and one deadline timer for all of them.
 */
import type { RespValue } from './resp-reader.js';

type Resolve = (value: RespValue) => void;
type Reject = (error: Error) => void;

export class PendingCalls {
  // A slot whose deadline passed keeps its place with no resolver: its reply, when it comes, is dropped.
  private readonly resolves: Array<Resolve | null>;
  private readonly rejects: Array<Reject | null>;
  private readonly deadlines: Float64Array;
  private head = 0;
  /** Calls awaiting a reply, expired ones included (their replies are still to come). */
  count = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly onDeadline = (): void => this.expireDue();

  constructor(
    private readonly size: number,
    /** What a call past its deadline is rejected with. */
    private readonly timeout: () => Error,
  ) {
    this.resolves = new Array<Resolve | null>(size).fill(null);
    this.rejects = new Array<Reject | null>(size).fill(null);
    this.deadlines = new Float64Array(size);
  }

  /** No room for another call. */
  full(): boolean {
    return this.count >= this.size;
  }

  /** The call just sent, last in line; rejected with the timeout once `deadline` (a Date.now() time) has passed. */
  add(resolve: Resolve, reject: Reject, deadline: number): void {
    const slot = (this.head + this.count) % this.size;
    this.resolves[slot] = resolve;
    this.rejects[slot] = reject;
    this.deadlines[slot] = deadline;
    this.count++;
    if (this.timer === null) this.arm(deadline);
  }

  /** The oldest call's reply came (its caller gone past the deadline: dropped). */
  resolveOldest(value: RespValue): void {
    const resolve = this.resolves[this.head];
    this.release();
    resolve?.(value);
  }

  /** The oldest call's reply is an error. */
  rejectOldest(error: Error): void {
    const reject = this.rejects[this.head];
    this.release();
    reject?.(error);
  }

  /** Every call fails with `reason` (the connection is gone). */
  failAll(reason: Error): void {
    while (this.count > 0) this.rejectOldest(reason);
  }

  private release(): void {
    this.resolves[this.head] = null;
    this.rejects[this.head] = null;
    this.head = (this.head + 1) % this.size;
    this.count--;
    if (this.count === 0) this.disarm();
  }

  // Every call of a lane gets the same timeout, so the head's deadline is the earliest: one timer,
  // re-armed for the new head when it fires.

  private arm(at: number): void {
    this.timer = setTimeout(this.onDeadline, Math.max(0, at - Date.now()));
    this.timer.unref();
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private expireDue(): void {
    this.timer = null;
    const now = Date.now();
    // Expired slots stay (their replies are still to come), with no one to tell.
    let next = Infinity;
    for (let i = 0; i < this.count; i++) {
      const slot = (this.head + i) % this.size;
      const reject = this.rejects[slot];
      if (!reject) continue;
      if (this.deadlines[slot]! > now) {
        next = this.deadlines[slot]!;
        break;
      }
      this.resolves[slot] = null;
      this.rejects[slot] = null;
      reject(this.timeout());
    }
    if (next !== Infinity) this.arm(next);
  }
}
