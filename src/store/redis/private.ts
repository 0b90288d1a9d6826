/** Private mode's values as the Lua scripts take and reply them (announce.lua and webtorrent-announce.lua alike). */
import type { TorrentTerms } from '../driver.js';
import type { AccountingSession } from '../session.js';
import { USER_ID_SIZE } from './protocol.js';

/** A user id as the scripts take it: USER_ID_SIZE bytes, big-endian. */
export function userBytes(id: number): Buffer {
  const out = Buffer.allocUnsafe(USER_ID_SIZE);
  out.writeUIntBE(id, 0, USER_ID_SIZE);
  return out;
}

/** "uploaded:downloaded" as the script stores it. */
export function parseTotals(text: string | undefined): { uploaded: number; downloaded: number } | null {
  if (!text) return null;
  return totalsIn(text, 0, text.length);
}

/** "uploaded:downloaded" in text[start, end), without a copy of the whole; null when it is not two numbers. */
function totalsIn(text: string, start: number, end: number): { uploaded: number; downloaded: number } | null {
  if (start >= end) return null;
  const colon = text.indexOf(':', start);
  const uploaded = Number(text.slice(start, colon < 0 || colon > end ? end : colon));
  const downloaded = colon < 0 || colon > end ? NaN : Number(text.slice(colon + 1, end));
  return Number.isFinite(uploaded) && Number.isFinite(downloaded) ? { uploaded, downloaded } : null;
}

/**
 * The scripts' reply of the previous totals and the session (lua/includes/totals.lua):
 * "uploaded:downloaded#epoch#seq#baseUp:baseDown#open#completed", the totals "" for a peer it did not know.
 * Read by position (no arrays of parts): it runs on every private announce.
 */
export function parsePrevious(reply: Buffer | undefined): { previous: { uploaded: number; downloaded: number } | null; session?: AccountingSession } {
  if (!reply || reply.length === 0) return { previous: null };
  const text = reply.toString('latin1');
  const end = text.length;
  const afterTotals = hashAt(text, 0, end);
  const previous = totalsIn(text, 0, afterTotals);
  const afterEpoch = hashAt(text, afterTotals + 1, end);
  const afterSeq = hashAt(text, afterEpoch + 1, end);
  const afterBase = hashAt(text, afterSeq + 1, end);
  const afterOpen = hashAt(text, afterBase + 1, end);
  // Epoch, seq and base must be there and not empty.
  if (afterEpoch <= afterTotals + 1 || afterSeq <= afterEpoch + 1 || afterBase <= afterSeq + 1) return { previous };
  const base = totalsIn(text, afterSeq + 1, afterBase);
  const seq = Number(text.slice(afterEpoch + 1, afterSeq));
  if (!base || !Number.isSafeInteger(seq) || !Number.isSafeInteger(base.uploaded) || !Number.isSafeInteger(base.downloaded)) return { previous };
  const session = {
    epoch: text.slice(afterTotals + 1, afterEpoch),
    seq,
    baseUploaded: base.uploaded,
    baseDownloaded: base.downloaded,
    open: text.slice(afterBase + 1, afterOpen) === '1',
    completed: text.slice(afterOpen + 1, hashAt(text, afterOpen + 1, end)) === '1',
  };
  return { previous, session };
}

/** The index of the next '#' at or after `from`, or `end` when there is none (or `from` is past it). */
function hashAt(text: string, from: number, end: number): number {
  if (from >= end) return end;
  const at = text.indexOf('#', from);
  return at < 0 ? end : at;
}

/** A torrent's registration as the scripts reply it (the fields of its `:t` hash); undefined when unregistered. */
export function torrentTerms(
  id: Buffer | undefined,
  up: Buffer | undefined,
  down: Buffer | undefined,
  freeleech: Buffer | undefined,
): TorrentTerms | undefined {
  if (!id || id.length === 0) return undefined;
  return {
    id: Number(id.toString('latin1')),
    upMultiplier: Number(up!.toString('latin1')),
    downMultiplier: Number(down!.toString('latin1')),
    freeleech: freeleech!.toString('latin1') === '1',
  };
}
