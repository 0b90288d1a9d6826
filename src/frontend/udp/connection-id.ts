/**
 * Stateless UDP connection ids (BEP 15): issue time (u32, seconds) followed by the first four bytes of
 * HMAC-SHA256(secret, issue time || client IP). Any process holding the secret accepts an id issued by
 * any other, so a client's connect and announce may reach different replicas. The previous secret is
 * still accepted, so the key can rotate without dropping clients.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** BEP 15: a client may use a connection id for two minutes. */
export const CONNECTION_ID_LIFETIME = 120;
/** Allowed clock difference between replicas, seconds. */
const CLOCK_SKEW = 5;

/** Verified ids remembered, so a client re-using its id costs a map lookup instead of an HMAC. */
const VERIFIED_CACHE_SIZE = 65_536;
/** Where a cache key (id, then IP) is put together, so that it becomes one string, not two joined. */
const cacheKeyBytes = Buffer.alloc(8 + 16);

export class ConnectionIds {
  /** The issuing key first, then the others accepted; empty until keys are known (shared keys not read yet). */
  private keys: Buffer[] = [];
  /** id bytes + client IP (latin1) of ids whose MAC was valid; their age is still checked every time. */
  private verified = new Set<string>();

  /** An empty `secret` leaves the ids without keys until setKeys() (see `ready`). */
  constructor(
    secret: string,
    previousSecret: string,
    private readonly graceSeconds: number,
  ) {
    if (secret) this.setKeys(secret, previousSecret);
  }

  /** False until there is a key to issue with: connects must then be refused, not answered with a bad id. */
  get ready(): boolean {
    return this.keys.length > 0;
  }

  /** Issues with `current` from now on, and accepts ids under it or any of `others` ('' entries skipped). */
  setKeys(current: string, ...others: string[]): void {
    this.keys = [current, ...others.filter((key) => key !== '' && key !== current)].map((key) => Buffer.from(key, 'utf8'));
    // A key that left the set must not keep its ids alive through the cache.
    this.verified = new Set();
  }

  issue(ip: Buffer, nowSeconds = Math.floor(Date.now() / 1000)): Buffer {
    if (this.keys.length === 0) throw new Error('connection ids have no key yet');
    const id = Buffer.allocUnsafe(8);
    id.writeUInt32BE(nowSeconds >>> 0, 0);
    this.mac(this.keys[0]!, id, ip).copy(id, 4, 0, 4);
    return id;
  }

  /** `id` is the 8 bytes at `offset` of `packet`. */
  verify(packet: Buffer, offset: number, ip: Buffer, nowSeconds = Math.floor(Date.now() / 1000)): boolean {
    const issued = packet.readUInt32BE(offset);
    const age = nowSeconds - issued;
    if (age > CONNECTION_ID_LIFETIME + this.graceSeconds || age < -CLOCK_SKEW) return false;
    packet.copy(cacheKeyBytes, 0, offset, offset + 8);
    ip.copy(cacheKeyBytes, 8);
    const cacheKey = cacheKeyBytes.toString('latin1', 0, 8 + ip.length);
    if (this.verified.has(cacheKey)) return true;
    const given = packet.subarray(offset + 4, offset + 8);
    const time = packet.subarray(offset, offset + 4);
    let valid = false;
    // Every key is tried, whatever matched, so the time taken does not tell which key it was.
    for (const key of this.keys) if (timingSafeEqual(this.mac(key, time, ip).subarray(0, 4), given)) valid = true;
    if (valid) {
      if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified = new Set();
      this.verified.add(cacheKey);
    }
    return valid;
  }

  private mac(key: Buffer, time: Buffer, ip: Buffer): Buffer {
    return createHmac('sha256', key).update(time.subarray(0, 4)).update(ip).digest();
  }
}
