/** The API's users and torrents: from their PUT bodies to the catalogue's entries, and back to JSON answers. */
import type { z } from 'zod';
import type { TorrentEntry, User } from '../store/catalogue.js';
import { ApiError } from './errors.js';
import type { TorrentAnswer, TorrentBody, UserAnswer, UserBody } from './schemas.js';

// Answers are built to the types of their schemas (schemas.ts), which the OpenAPI document publishes.
export const userJson = (user: User): z.input<typeof UserAnswer> => ({
  id: user.id,
  passkey: user.passkey,
  up_multiplier: user.upMultiplier,
  down_multiplier: user.downMultiplier,
  enabled: user.enabled,
  can_leech: user.canLeech ?? true,
  freeleech_until: user.freeleechUntil ?? 0,
  download_slots: user.downloadSlots ?? 0,
});

export const torrentJson = (torrent: TorrentEntry): z.input<typeof TorrentAnswer> => ({
  info_hash: torrent.infoHash.toString('hex'),
  ...(torrent.infoHashV2 ? { info_hash_v2: torrent.infoHashV2.toString('hex') } : {}),
  id: torrent.id,
  up_multiplier: torrent.upMultiplier,
  down_multiplier: torrent.downMultiplier,
  freeleech: torrent.freeleech,
});

/** A user as its PUT body describes it; only what differs from the defaults is stored (a put without the controls is the same as before them). */
export function userOf(id: number, body: z.output<typeof UserBody>): User {
  const user: User = { id, passkey: body.passkey, upMultiplier: body.up_multiplier, downMultiplier: body.down_multiplier, enabled: body.enabled };
  if (!body.can_leech) user.canLeech = false;
  if (body.freeleech_until > 0) user.freeleechUntil = body.freeleech_until;
  if (body.download_slots > 0) user.downloadSlots = body.download_slots;
  return user;
}

/** A torrent as its PUT body describes it, registered under `hash`. */
export function torrentOf(hash: Buffer, body: z.output<typeof TorrentBody>): TorrentEntry {
  const torrent: TorrentEntry = {
    infoHash: hash,
    id: body.id,
    upMultiplier: body.up_multiplier,
    downMultiplier: body.down_multiplier,
    freeleech: body.freeleech,
  };
  if (body.info_hash_v2 !== undefined) {
    torrent.infoHashV2 = Buffer.from(body.info_hash_v2, 'hex');
    if (torrent.infoHashV2.equals(hash)) throw new ApiError(400, 'info_hash_v2: must differ from info_hash');
  }
  return torrent;
}
