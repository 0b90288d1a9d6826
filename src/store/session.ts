/**
 * A private peer's accounting session, as the store's atomic step numbers it. Only that step sees a
 * peer's announces in their true order (replicas flush their records at different moments, so the
 * stream does not), so it names each run of the peer's counters and numbers the run's announces. The
 * consumer keeps a high-water mark per run and credits what the counters passed it by: a record lost,
 * repeated or late then changes nothing in the end, because the session's next record carries the same
 * cumulative counters.
 *
 * The memory driver runs `nextSession`; the redis driver's lua/includes/totals.lua is the same rule in
 * Lua. The conformance suite (src/testing/accounting.ts) holds both to it.
 */
import type { AnnounceEvent } from '../bittorrent/announce.js';
import type { AccountingSession } from '../backend/driver.js';

export type { AccountingSession };

export interface Counters {
  uploaded: number;
  downloaded: number;
}

/**
 * The session of an announce that is not a retry. `stored`: the peer's session as the store kept it
 * (null when the store has none, as for totals kept before sessions existed); `previous`: the totals
 * it reported last (null: the store does not know the peer).
 */
export function nextSession(
  stored: AccountingSession | null,
  previous: Counters | null,
  reported: Counters,
  event: AnnounceEvent,
  recordId: string,
): AccountingSession {
  if (!previous) {
    return event === 'started'
      ? { epoch: recordId, seq: 1, baseUploaded: 0, baseDownloaded: 0, open: false }
      : { epoch: recordId, seq: 1, baseUploaded: reported.uploaded, baseDownloaded: reported.downloaded, open: true };
  }
  const upBack = reported.uploaded < previous.uploaded;
  const downBack = reported.downloaded < previous.downloaded;
  if (stored && !upBack && !downBack) return { ...stored, seq: stored.seq + 1 };
  // A counter that went back counts from 0; the other one, and totals kept before sessions, from the stored value.
  return { epoch: recordId, seq: 1, baseUploaded: upBack ? 0 : previous.uploaded, baseDownloaded: downBack ? 0 : previous.downloaded, open: false };
}
