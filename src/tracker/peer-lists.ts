/**
 * Private mode's peer-list budget (private.peer_list_budget): how many announces with peers one user
 * may get per window. A user past it is still tracked and credited, but answered counts without peers:
 * fetching peer lists faster than any client needs (a scraper of peers) stops paying off.
 *
 * Counted in this process, in fixed windows, so a check costs no round trip. Behind K replicas a user's
 * announces spread over them, so a user may get up to K times the budget; with the usual sticky
 * balancing by client address, about the budget.
 */

/** Users whose count is kept (least recently announcing dropped first): bounded memory. */
const MAX_USERS = 200_000;

export class PeerListBudget {
  /** user -> [window start (ms), lists taken in it]; Map order is recency. */
  private readonly users = new Map<number, [number, number]>();

  constructor(
    private readonly budget: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one peer list for the user; false when its budget for this window is spent. */
  take(userId: number): boolean {
    const now = this.now();
    const start = now - (now % this.windowMs);
    let entry = this.users.get(userId);
    if (entry) this.users.delete(userId);
    if (!entry || entry[0] !== start) entry = [start, 0];
    this.users.set(userId, entry);
    if (this.users.size > MAX_USERS) this.users.delete(this.users.keys().next().value!);
    if (entry[1] >= this.budget) return false;
    entry[1]++;
    return true;
  }
}
