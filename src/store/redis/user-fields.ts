/** A user and their freeleech tokens as the redis driver's hashes hold them (`u:PASSKEY`, `tokens:ID`). */
import type { FreeleechToken, User } from '../catalogue.js';

export function userFrom(fields: Record<string, string>, passkey: string): User | null {
  if (!fields.id) return null;
  const user: User = {
    id: Number(fields.id),
    passkey,
    upMultiplier: Number(fields.up ?? '1'),
    downMultiplier: Number(fields.down ?? '1'),
    enabled: fields.en !== '0',
  };
  // The optional fields are stored only when given (userFields), so they come back as they were put.
  if (fields.cl !== undefined) user.canLeech = fields.cl === '1';
  if (fields.fu !== undefined) user.freeleechUntil = Number(fields.fu);
  if (fields.ds !== undefined) user.downloadSlots = Number(fields.ds);
  return user;
}

/** A user's tokens from their hash (torrent id -> "UNTIL HEX"); a malformed field is skipped, not trusted. */
export function tokensFrom(fields: Record<string, string>): Map<number, FreeleechToken> {
  const tokens = new Map<number, FreeleechToken>();
  for (const [field, value] of Object.entries(fields)) {
    const torrentId = Number(field);
    const [until, hex] = value.split(' ');
    if (!Number.isSafeInteger(torrentId) || !/^[0-9]{1,10}$/.test(until ?? '') || !/^[0-9a-f]{40}$/.test(hex ?? '')) continue;
    tokens.set(torrentId, { torrentId, infoHash: Buffer.from(hex!, 'hex'), until: Number(until) });
  }
  return tokens;
}

/** A user's hash fields; the optional ones only when given. */
export function userFields(user: User): Record<string, string | number> {
  const fields: Record<string, string | number> = { id: user.id, up: user.upMultiplier, down: user.downMultiplier, en: user.enabled ? '1' : '0' };
  if (user.canLeech !== undefined) fields.cl = user.canLeech ? '1' : '0';
  if (user.freeleechUntil !== undefined) fields.fu = user.freeleechUntil;
  if (user.downloadSlots !== undefined) fields.ds = user.downloadSlots;
  return fields;
}
