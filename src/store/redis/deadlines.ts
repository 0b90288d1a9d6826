/**
 * Hard deadlines for many concurrent calls under one timer. Every announce of the redis driver has one
 * (command_timeout over all its attempts); a setTimeout, a clearTimeout and a Promise.race per call took
 * about a fifth of the redis store's CPU per announce (measured in process, 50 announces in flight).
 * Pending calls are kept in deadline order: a new call's deadline is nearly always the latest, so it goes
 * at the tail (a retry keeps its first attempt's deadline and is placed by a walk back from the tail), and
 * the one timer is armed for the earliest.
 */

interface Pending {
  deadline: number;
  expire: () => void;
  prev: Pending | null;
  next: Pending | null;
  /** Out of the list: settled, or expired. */
  done: boolean;
}

export class Deadlines {
  private head: Pending | null = null;
  private tail: Pending | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** When the timer fires (a Date.now() time), Infinity when none is armed. */
  private timerAt = Infinity;
  private readonly onTimer = (): void => this.expireDue();

  /**
   * `call`'s outcome, or a rejection with `timeout()` once `deadline` (a Date.now() time) has passed; a
   * late outcome of `call` after that is dropped (a late rejection is not unhandled).
   */
  race<T>(call: Promise<T>, deadline: number, timeout: () => Error): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = { deadline, expire: () => reject(timeout()), prev: null, next: null, done: false };
      this.insert(pending);
      call.then(
        (value) => {
          this.remove(pending);
          resolve(value);
        },
        // Passed on as it came (Promise.race did the same); the driver's calls reject with Errors.
        (error: Error) => {
          this.remove(pending);
          reject(error);
        },
      );
    });
  }

  private insert(pending: Pending): void {
    let before = this.tail;
    while (before && before.deadline > pending.deadline) before = before.prev;
    pending.prev = before;
    pending.next = before ? before.next : this.head;
    if (pending.next) pending.next.prev = pending;
    else this.tail = pending;
    if (before) before.next = pending;
    else this.head = pending;
    if (pending.deadline < this.timerAt) this.arm(pending.deadline);
  }

  private remove(pending: Pending): void {
    if (pending.done) return;
    pending.done = true;
    if (pending.prev) pending.prev.next = pending.next;
    else this.head = pending.next;
    if (pending.next) pending.next.prev = pending.prev;
    else this.tail = pending.prev;
    pending.prev = pending.next = null;
    // Nothing left to time: no timer keeps the process alive. (Otherwise it stays armed for an earlier
    // deadline than needed and finds nothing due, which costs one firing.)
    if (!this.head) this.disarm();
  }

  private arm(at: number): void {
    this.disarm();
    this.timerAt = at;
    this.timer = setTimeout(this.onTimer, Math.max(0, at - Date.now()));
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
  }

  private expireDue(): void {
    this.timer = null;
    this.timerAt = Infinity;
    const now = Date.now();
    while (this.head && this.head.deadline <= now) {
      const due = this.head;
      this.remove(due);
      due.expire();
    }
    if (this.head) this.arm(this.head.deadline);
  }
}
