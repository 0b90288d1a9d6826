/**
 * The bulk management API: whole batches of users or torrents (PUT /users, PUT /torrents), pages of
 * what the tracker holds (GET /users, GET /torrents), and syncs (POST /sync/{kind}, then the batches
 * with ?sync=, then POST /sync/{kind}/{id} with {"replace": true}) that reconcile the tracker with the
 * site's database after an outage. A batch is validated whole (every item, and no key twice) before
 * anything is written.
 */
import type Router from '@koa/router';
import type { RouterContext } from '@koa/router';
import type { z } from 'zod';
import { type Catalogue, MAX_BULK_ITEMS, type SyncKind } from '../store/catalogue.js';
import { MAX_BULK_BODY_BYTES, readJsonArray, readJsonObject } from './body.js';
import {
  type BulkAnswer,
  BulkTorrent,
  BulkUser,
  DEFAULT_PAGE,
  FinishSyncBody,
  MAX_PAGE,
  type SyncAnswer,
  SYNC_ID,
  type SyncResultAnswer,
  type TorrentsPageAnswer,
  type UsersPageAnswer,
} from './bulk-schemas.js';
import { ApiError, badRequest } from './errors.js';
import { torrentJson, torrentOf, userJson, userOf } from './resources.js';
import { HEX_INFO_HASH, MAX_USER_ID, PATH_ID } from './schemas.js';
import { parseBody } from './validate.js';

/** `?limit=`: 1 to MAX_PAGE, default DEFAULT_PAGE. */
function pageLimit(ctx: RouterContext): number {
  const raw = ctx.query.limit;
  if (raw === undefined) return DEFAULT_PAGE;
  const limit = typeof raw === 'string' && /^[0-9]{1,5}$/.test(raw) ? Number(raw) : NaN;
  if (!(limit >= 1 && limit <= MAX_PAGE)) badRequest(`limit: must be an integer from 1 to ${MAX_PAGE}`);
  return limit;
}

/** `?sync=`: an open sync's id, or undefined. */
function syncOf(ctx: RouterContext): string | undefined {
  const raw = ctx.query.sync;
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !SYNC_ID.test(raw)) badRequest('sync: must be the id POST /sync answered (24 hexadecimal characters)');
  return raw;
}

function syncKind(ctx: RouterContext): SyncKind {
  const kind = ctx.params.kind;
  if (kind !== 'users' && kind !== 'torrents') throw new ApiError(404, 'no such sync kind (kinds: users, torrents)');
  return kind;
}

/** Every item through `schema`, or a 400 naming the first bad one by its index ("[3].passkey: required"). */
function parseItems<S extends z.ZodType>(schema: S, items: unknown[]): Array<z.output<S>> {
  if (items.length === 0 || items.length > MAX_BULK_ITEMS) badRequest(`the body must be a JSON array of 1 to ${MAX_BULK_ITEMS} items`);
  return items.map((item, i) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) badRequest(`[${i}]: must be a JSON object`);
    try {
      return parseBody(schema, item as Record<string, unknown>);
    } catch (error) {
      if (error instanceof ApiError) throw new ApiError(400, `[${i}].${error.message}`);
      throw error;
    }
  });
}

/** A 400 naming the first item whose key another item of the batch has already. */
function distinct(keys: Array<[item: number, key: string]>, what: string): void {
  const seen = new Set<string>();
  for (const [i, key] of keys) {
    if (seen.has(key)) badRequest(`[${i}]: ${what} ${key} comes twice in the batch`);
    seen.add(key);
  }
}

export function bulkRoutes(router: Router, catalogue: Catalogue): void {
  router.get('/users', async (ctx) => {
    const raw = ctx.query.after ?? '0';
    const after = typeof raw === 'string' && (raw === '0' || PATH_ID.test(raw)) ? Number(raw) : NaN;
    if (!(after >= 0 && after <= MAX_USER_ID)) badRequest(`after: must be an integer from 0 to ${MAX_USER_ID}`);
    const limit = pageLimit(ctx);
    const users = await catalogue.listUsers(after, limit);
    ctx.body = { users: users.map(userJson), next: users.length === limit ? users.at(-1)!.id : null } satisfies z.input<typeof UsersPageAnswer>;
  });
  router.put('/users', async (ctx) => {
    const sync = syncOf(ctx);
    const users = parseItems(BulkUser, await readJsonArray(ctx, MAX_BULK_BODY_BYTES)).map((body) => userOf(body.id, body));
    distinct(
      users.map((u, i) => [i, String(u.id)]),
      'user id',
    );
    distinct(
      users.map((u, i) => [i, u.passkey]),
      'passkey',
    );
    await catalogue.putUsers(users, sync);
    ctx.body = { count: users.length } satisfies z.input<typeof BulkAnswer>;
  });

  router.get('/torrents', async (ctx) => {
    const raw = ctx.query.after;
    if (raw !== undefined && (typeof raw !== 'string' || !HEX_INFO_HASH.test(raw))) badRequest('after: must be an info hash, 40 hexadecimal characters');
    const limit = pageLimit(ctx);
    const torrents = await catalogue.listTorrents(raw === undefined ? null : Buffer.from(raw, 'hex'), limit);
    ctx.body = {
      torrents: torrents.map(torrentJson),
      next: torrents.length === limit ? torrents.at(-1)!.infoHash.toString('hex') : null,
    } satisfies z.input<typeof TorrentsPageAnswer>;
  });
  router.put('/torrents', async (ctx) => {
    const sync = syncOf(ctx);
    const bodies = parseItems(BulkTorrent, await readJsonArray(ctx, MAX_BULK_BODY_BYTES));
    const torrents = bodies.map((body, i) => {
      try {
        return torrentOf(Buffer.from(body.info_hash, 'hex'), body);
      } catch (error) {
        if (error instanceof ApiError) throw new ApiError(400, `[${i}].${error.message}`);
        throw error;
      }
    });
    // One hash, whichever field it is in, names one torrent of the batch.
    distinct(
      torrents.flatMap((t, i): Array<[number, string]> => [
        [i, t.infoHash.toString('hex')],
        ...(t.infoHashV2 ? [[i, t.infoHashV2.toString('hex')] as [number, string]] : []),
      ]),
      'info hash',
    );
    await catalogue.putTorrents(torrents, sync);
    ctx.body = { count: torrents.length } satisfies z.input<typeof BulkAnswer>;
  });

  router.post('/sync/:kind', async (ctx) => {
    ctx.status = 201;
    ctx.body = { sync: await catalogue.beginSync(syncKind(ctx)) } satisfies z.input<typeof SyncAnswer>;
  });
  router.post('/sync/:kind/:sync', async (ctx) => {
    const kind = syncKind(ctx);
    const id = ctx.params.sync!;
    if (!SYNC_ID.test(id)) badRequest('sync: must be the id POST /sync answered (24 hexadecimal characters)');
    const { replace } = parseBody(FinishSyncBody, await readJsonObject(ctx));
    ctx.body = (await catalogue.finishSync(kind, id, replace)) satisfies z.input<typeof SyncResultAnswer>;
  });
}
