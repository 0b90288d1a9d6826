/**
 * Admission control on Redis's side: with `maxmemory` and the `noeviction` policy, Redis refuses every
 * script that may write ("OOM command not allowed when used memory > 'maxmemory'"). Rather than
 * failing every announce, the store turns degraded for a while: announces run the same script
 * registered with the `allow-oom` flag and the header flag `existingOnly`, so peers already stored are
 * refreshed (no new memory) and new peers are answered but not stored. After DEGRADED_MS the normal
 * script is tried again, so the store leaves degraded mode by itself once Redis has room.
 */
import type { Logger } from 'pino';
import type { NotStored } from '../driver.js';

/** How long one OOM refusal keeps the store degraded before the normal script is tried again. */
const DEGRADED_MS = 1000;
/** At most one log line per reason per this many ms. */
const LOG_INTERVAL_MS = 60_000;

/** Redis's refusal of a write for want of memory. */
export function isOutOfMemory(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('OOM ');
}

/** The announce script as it may run when Redis is out of memory: its shebang with the allow-oom flag. */
export function withAllowOom(lua: string): string {
  if (!lua.startsWith('#!lua\n')) throw new Error('announce script: expected a "#!lua" first line to add allow-oom to');
  return '#!lua flags=allow-oom\n' + lua.slice('#!lua\n'.length);
}

export class OutOfMemory {
  private until = 0;
  private readonly lastLogged = new Map<NotStored, number>();

  constructor(private readonly logger: Logger) {}

  /** Whether announces run degraded now. */
  degraded(): boolean {
    return this.until !== 0 && Date.now() < this.until;
  }

  /** Redis refused a write for want of memory. */
  refused(): void {
    this.until = Date.now() + DEGRADED_MS;
  }

  /** A peer was answered but not stored: a log line now and then says so. */
  turnedAway(reason: NotStored): void {
    const now = Date.now();
    if (now - (this.lastLogged.get(reason) ?? -Infinity) < LOG_INTERVAL_MS) return;
    this.lastLogged.set(reason, now);
    if (reason === 'out_of_memory') {
      this.logger.warn('Redis is out of memory (maxmemory, noeviction): new peers are answered but not stored, known peers keep announcing');
    } else {
      this.logger.warn('a swarm reached tracker.params.max_swarm_peers: new peers of it are answered but not stored');
    }
  }
}
