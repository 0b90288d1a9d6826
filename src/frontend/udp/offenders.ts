/**
 * UDP addresses that keep sending invalid packets (a bad or expired connection id, a connect without the
 * protocol id, fewer than 16 bytes): after `threshold` of them within `windowMs` an address is banned for
 * `banMs`, and its invalid packets get no answer at all (a valid connection id or a proper connect is still
 * served: a UDP source address can be forged, and a forger must not be able to lock a real client out).
 * Valid packets never look at this table, so it costs nothing on the hot path.
 *
 * The table is bounded: beyond `tableSize` entries the oldest is forgotten (a Map keeps insertion order,
 * so that is O(1)); a ban is re-inserted when it starts, so it is the youngest entry then. A flood from
 * forged sources, one packet each, ages bans out; each such packet is answered with no more bytes than
 * it carried anyway (no amplification), which is the defence against that flood.
 */
import type { UdpBanMetrics } from '../../metrics/hygiene.js';

export interface UdpOffendersOptions {
  threshold: number;
  windowMs: number;
  banMs: number;
  tableSize: number;
  metrics?: UdpBanMetrics;
}

interface Entry {
  strikes: number;
  windowStart: number;
  /** 0 while not banned. */
  bannedUntil: number;
}

export class UdpOffenders {
  private readonly table = new Map<string, Entry>();

  constructor(private readonly options: UdpOffendersOptions) {}

  /**
   * Called for an invalid packet from `key` (see address-key.ts): true when the address is banned, so the
   * packet is to be ignored (and is counted as such); otherwise the packet counts towards a ban.
   */
  offended(key: string, now = Date.now()): boolean {
    const { threshold, windowMs, banMs, tableSize, metrics } = this.options;
    let entry = this.table.get(key);
    if (entry && entry.bannedUntil !== 0) {
      if (now < entry.bannedUntil) {
        metrics?.ignored();
        return true;
      }
      this.table.delete(key); // released: it starts again from nothing
      entry = undefined;
    }
    if (!entry) {
      if (this.table.size >= tableSize) this.table.delete(this.table.keys().next().value!);
      entry = { strikes: 0, windowStart: now, bannedUntil: 0 };
      this.table.set(key, entry);
    } else if (now - entry.windowStart >= windowMs) {
      entry.strikes = 0;
      entry.windowStart = now;
    }
    if (++entry.strikes >= threshold) {
      entry.bannedUntil = now + banMs;
      this.table.delete(key);
      this.table.set(key, entry);
      metrics?.banned();
    }
    return false;
  }

  /** Addresses banned now; forgets the entries that no longer matter (read at each metrics scrape). */
  bannedCount(now = Date.now()): number {
    let banned = 0;
    for (const [key, entry] of this.table) {
      if (entry.bannedUntil > now) banned++;
      else if (entry.bannedUntil !== 0 || now - entry.windowStart >= this.options.windowMs) this.table.delete(key);
    }
    return banned;
  }

  /** Entries held (for tests and the bound). */
  get size(): number {
    return this.table.size;
  }
}
