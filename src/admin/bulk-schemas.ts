/**
 * The bulk management API's schemas: batches of users and torrents, pages of them, and syncs. A batch
 * item is the resource's own PUT body (schemas.ts) with its key in the body instead of the URL.
 */
import { z } from 'zod';
import { MAX_BULK_ITEMS } from '../store/catalogue.js';
import { HEX_INFO_HASH, MAX_USER_ID, TorrentAnswer, TorrentBody, UserAnswer, UserBody } from './schemas.js';

/** Items a page answers at most, and by default. */
export const MAX_PAGE = 10_000;
export const DEFAULT_PAGE = 1000;
/** A sync's id as beginSync makes it. */
export const SYNC_ID = /^[0-9a-f]{24}$/;

const USER_ID = `must be an integer from 1 to ${MAX_USER_ID}`;
const INFO_HASH = 'must be 40 hexadecimal characters';

export const BulkUser = UserBody.extend({
  id: z
    .number({ error: (issue) => (issue.input === undefined ? 'required' : USER_ID) })
    .int({ error: USER_ID })
    .min(1, { error: USER_ID })
    .max(MAX_USER_ID, { error: USER_ID })
    .describe("the site's user id"),
}).meta({ id: 'BulkUser', description: 'A user of a batch: its PUT body with its id.' });

export const BulkTorrent = TorrentBody.extend({
  info_hash: z
    .string({ error: (issue) => (issue.input === undefined ? 'required' : INFO_HASH) })
    .regex(HEX_INFO_HASH, { error: INFO_HASH })
    .describe('the info hash it is registered under (any case)'),
}).meta({ id: 'BulkTorrent', description: 'A torrent of a batch: its PUT body with its info hash.' });

export const BulkUsersBody = z
  .array(BulkUser)
  .min(1)
  .max(MAX_BULK_ITEMS)
  .meta({ id: 'BulkUsersBody', description: `1 to ${MAX_BULK_ITEMS} users, distinct ids and passkeys` });
export const BulkTorrentsBody = z
  .array(BulkTorrent)
  .min(1)
  .max(MAX_BULK_ITEMS)
  .meta({ id: 'BulkTorrentsBody', description: `1 to ${MAX_BULK_ITEMS} torrents, no hash (v1 or v2) twice` });

export const BulkAnswer = z
  .strictObject({ count: z.int().min(0).max(MAX_BULK_ITEMS).describe('items put') })
  .meta({ id: 'Bulk', description: 'A batch put whole: every item validated first, then all of them written.' });

export const UsersPageAnswer = z
  .strictObject({
    users: z.array(UserAnswer).describe('by id, ascending'),
    next: z.int().min(1).max(MAX_USER_ID).nullable().describe('the `after` of the next page; null on the last page'),
  })
  .meta({ id: 'UsersPage' });

export const TorrentsPageAnswer = z
  .strictObject({
    torrents: z.array(TorrentAnswer).describe('by info hash, ascending'),
    next: z.string().regex(HEX_INFO_HASH).nullable().describe('the `after` of the next page; null on the last page'),
  })
  .meta({ id: 'TorrentsPage' });

export const SyncAnswer = z
  .strictObject({ sync: z.string().regex(SYNC_ID).describe('name it in `?sync=` of PUT /users or PUT /torrents, then finish it') })
  .meta({ id: 'Sync' });

export const FinishSyncBody = z
  .strictObject({
    replace: z
      .boolean({ error: (issue) => (issue.input === undefined ? 'required' : 'must be true or false') })
      .describe('true: delete every item of the kind not put during the sync (torrents without a deletion reason); false: just end it'),
  })
  .meta({ id: 'FinishSyncBody' });

export const SyncResultAnswer = z
  .strictObject({ kept: z.int().min(0).describe('items of the kind held now'), removed: z.int().min(0).describe('items deleted by the replace') })
  .meta({ id: 'SyncResult' });

export const SyncKindParam = z.enum(['users', 'torrents']).describe('what the sync reconciles');
export const SyncIdParam = z.string().regex(SYNC_ID).describe('the sync, as POST /sync/{kind} answered it');
