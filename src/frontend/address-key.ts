/**
 * The key under which a client address is counted by the connection caps and the UDP bans: the 4 bytes of
 * an IPv4 address, or the first 8 bytes (the /64) of an IPv6 one, as a short latin1 string (a cheap Map
 * key). An IPv6 host is routinely given a whole /64, so counting its single addresses would let it open
 * 2^64 times the cap.
 */
export function addressKey(ip: Buffer): string {
  return ip.toString('latin1', 0, ip.length === 4 ? 4 : 8);
}

/**
 * Counts per key with a ceiling, for things that are taken and given back (open connections, requests in
 * flight). Keys at zero are deleted, so the table never holds more keys than there are things taken.
 */
export class AddressCounter {
  private readonly counts = new Map<string, number>();

  constructor(private readonly limit: number) {}

  /** Takes one for `key`; false (and nothing taken) when `key` already holds the limit. */
  tryAcquire(key: string): boolean {
    const count = this.counts.get(key) ?? 0;
    if (count >= this.limit) return false;
    this.counts.set(key, count + 1);
    return true;
  }

  release(key: string): void {
    const count = this.counts.get(key);
    if (count === undefined) return;
    if (count <= 1) this.counts.delete(key);
    else this.counts.set(key, count - 1);
  }

  /** Keys holding at least one. */
  get size(): number {
    return this.counts.size;
  }
}
