/** Private mode's values as the Lua scripts take and reply them (announce.lua and webrtc-announce.lua alike). */
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
  const [up, down] = text.split(':');
  const uploaded = Number(up);
  const downloaded = Number(down);
  return Number.isFinite(uploaded) && Number.isFinite(downloaded) ? { uploaded, downloaded } : null;
}

/**
 * The scripts' reply of the previous totals and the session (lua/includes/totals.lua):
 * "uploaded:downloaded#epoch#seq#baseUp:baseDown#open#completed", the totals "" for a peer it did not know.
 */
export function parsePrevious(reply: Buffer | undefined): { previous: { uploaded: number; downloaded: number } | null; session?: AccountingSession } {
  if (!reply || reply.length === 0) return { previous: null };
  const [totals, epoch, seq, base, open, completed] = reply.toString('latin1').split('#');
  const previous = parseTotals(totals);
  if (!epoch || !seq || !base) return { previous };
  const [up, down] = base.split(':');
  const session = { epoch, seq: Number(seq), baseUploaded: Number(up), baseDownloaded: Number(down), open: open === '1', completed: completed === '1' };
  const valid = Number.isSafeInteger(session.seq) && Number.isSafeInteger(session.baseUploaded) && Number.isSafeInteger(session.baseDownloaded);
  return valid ? { previous, session } : { previous };
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
