/**
 * The management API's resources, over the store's catalogue. JSON field names are snake_case like
 * the configuration's; info hashes are 40 hex characters. PUT replaces the whole resource (fields left
 * out take their defaults) and answers the stored object, 201 when it did not exist; DELETE answers 204,
 * or 404 when there was nothing to delete.
 */
import Router, { type RouterContext } from '@koa/router';
import type { z } from 'zod';
import type { ClientEntry, FreeleechToken, HashList, TorrentEntry } from '../store/catalogue.js';
import type { TrackerStore } from '../store/driver.js';
import { readJsonObject, readOptionalJsonObject } from './body.js';
import { ApiError, badRequest } from './errors.js';
import { bulkRoutes } from './bulk-routes.js';
import { openApiDocument } from './openapi.js';
import { torrentJson, torrentOf, userJson, userOf } from './resources.js';
import {
  ClientBody,
  DeleteTorrentBody,
  type ClientAnswer,
  type ClientsAnswer,
  type FreeleechAnswer,
  FreeleechBody,
  type HashListAnswer,
  type HotSwarmsAnswer,
  type ListEntryAnswer,
  MAX_HOT_SWARMS,
  MAX_USER_ID,
  type SwarmAnswer,
  type AddressesAnswer,
  type PeersAnswer,
  type ReloadAnswer,
  TorrentBody,
  type TokenAnswer,
  TokenBody,
  type TokensAnswer,
  UserBody,
} from './schemas.js';
import { echo, encodeClientPrefix, parseBody, pathClientPrefix, pathId, pathInfoHash } from './validate.js';

const tokenJson = (token: FreeleechToken): z.input<typeof TokenAnswer> => ({
  info_hash: token.infoHash.toString('hex'),
  torrent_id: token.torrentId,
  until: token.until,
});

const clientJson = (client: ClientEntry): z.input<typeof ClientAnswer> => ({
  prefix: encodeClientPrefix(client.prefix),
  name: client.name,
  action: client.action ?? 'allow',
});

function found<T>(value: T | null, what: string): T {
  if (value === null) throw new ApiError(404, `${what} not found`);
  return value;
}

function stored(ctx: RouterContext, created: boolean, body: object): void {
  ctx.status = created ? 201 : 200;
  ctx.body = body;
}

function deleted(ctx: RouterContext, removed: boolean, what: string): void {
  if (!removed) throw new ApiError(404, `${what} not found`);
  ctx.status = 204;
}

function hashList(ctx: RouterContext): HashList {
  const list = ctx.params.list;
  if (list !== 'allow' && list !== 'deny') throw new ApiError(404, 'no such list (lists: allow, deny)');
  return list;
}

/** The hot swarms as the API answers them, or null when the summary is off (metrics.hot_swarms = 0). */
export type HotSwarmsSource = ((limit: number) => Promise<z.input<typeof HotSwarmsAnswer>>) | null;

/** What the routes take from the tracker's configuration. */
export interface AdminRouterOptions {
  /** private.deleted_reason_ttl: seconds a deleted torrent's reason is told; 0: not kept. */
  deletedReasonTtl: number;
  /** What the connectability check knows of an "IP:PORT" (null: unknown); absent when checks are off. */
  connectable?: (key: string) => Promise<boolean | null>;
  /** POST /config/reload: reloads the configuration (with `all`, every replica's); absent: the route answers 404. */
  reload?: (all: boolean) => Promise<z.input<typeof ReloadAnswer>>;
}

export function adminRouter(store: TrackerStore, hotSwarms: HotSwarmsSource = null, options: AdminRouterOptions = { deletedReasonTtl: 604800 }): Router {
  const catalogue = store.catalogue;
  const router = new Router();
  const userId = (ctx: RouterContext): number => pathId('id', ctx.params.id!, MAX_USER_ID);
  const infoHash = (ctx: RouterContext): Buffer => pathInfoHash(ctx.params.info_hash!);
  // The raw segment, still percent-encoded: the router's decoding would read the bytes as UTF-8.
  const clientPrefix = (ctx: RouterContext): string => pathClientPrefix(ctx.captures?.[0] ?? '');

  bulkRoutes(router, catalogue);

  router.get('/users/:id', async (ctx) => {
    const id = userId(ctx);
    ctx.body = userJson(found(await catalogue.getUser(id), `user ${id}`));
  });
  router.put('/users/:id', async (ctx) => {
    const id = userId(ctx);
    const body = parseBody(UserBody, await readJsonObject(ctx));
    echo('id', body.id, (value) => value === id);
    const user = userOf(id, body);
    const created = (await catalogue.getUser(id)) === null;
    await catalogue.putUser(user);
    stored(ctx, created, userJson(user));
  });
  router.delete('/users/:id', async (ctx) => {
    const id = userId(ctx);
    deleted(ctx, await catalogue.deleteUser(id), `user ${id}`);
  });

  // Tokens are named by info hash (either of a hybrid's) and kept by torrent id, so both hashes share one.
  const tokenOn = async (id: number, hash: Buffer): Promise<{ torrent: TorrentEntry | null; token: FreeleechToken | undefined }> => {
    const [tokens, torrent] = await Promise.all([catalogue.listTokens(id), catalogue.getTorrent(hash)]);
    const held = found(tokens, `user ${id}`);
    // A token outlives its torrent's deletion: it is still found, and deleted, by the hash it was put under.
    const token = held.find((t) => (torrent ? t.torrentId === torrent.id : t.infoHash.equals(hash)));
    return { torrent, token };
  };
  router.get('/users/:id/tokens', async (ctx) => {
    const id = userId(ctx);
    ctx.body = { tokens: found(await catalogue.listTokens(id), `user ${id}`).map(tokenJson) } satisfies z.input<typeof TokensAnswer>;
  });
  router.get('/users/:id/tokens/:info_hash', async (ctx) => {
    const id = userId(ctx);
    const hash = infoHash(ctx);
    const { token } = await tokenOn(id, hash);
    ctx.body = tokenJson(found(token ?? null, `token of user ${id} on ${hash.toString('hex')}`));
  });
  router.put('/users/:id/tokens/:info_hash', async (ctx) => {
    const id = userId(ctx);
    const hash = infoHash(ctx);
    const { until } = parseBody(TokenBody, (await readOptionalJsonObject(ctx)) ?? {});
    const { torrent, token: old } = await tokenOn(id, hash);
    const registered = found(torrent, `torrent ${hash.toString('hex')}`);
    const token: FreeleechToken = { torrentId: registered.id, infoHash: registered.infoHash, until };
    await catalogue.putToken(id, token);
    stored(ctx, old === undefined, tokenJson(token));
  });
  router.delete('/users/:id/tokens/:info_hash', async (ctx) => {
    const id = userId(ctx);
    const hash = infoHash(ctx);
    const { token } = await tokenOn(id, hash);
    deleted(ctx, token !== undefined && (await catalogue.deleteToken(id, token.torrentId)), `token of user ${id} on ${hash.toString('hex')}`);
  });

  router.get('/users/:id/addresses', async (ctx) => {
    const addresses = (await store.addresses?.list(userId(ctx))) ?? [];
    ctx.body = {
      count: addresses.length,
      addresses: addresses.map((a) => ({ address: a.member, last_seen: new Date(a.lastSeen).toISOString() })),
    } satisfies z.input<typeof AddressesAnswer>;
  });
  router.get('/users/:id/peers', async (ctx) => {
    const id = userId(ctx);
    const listed = (await store.peers?.list(id)) ?? [];
    const peers = await Promise.all(
      listed.map(async ({ member, lastSeen }) => {
        const colon = member.lastIndexOf(':');
        const connectable = (await options.connectable?.(member)) ?? null;
        return { address: member.slice(0, colon), port: Number(member.slice(colon + 1)), last_seen: new Date(lastSeen).toISOString(), connectable };
      }),
    );
    ctx.body = { count: peers.length, peers } satisfies z.input<typeof PeersAnswer>;
  });
  router.get('/torrents/:info_hash', async (ctx) => {
    const hash = infoHash(ctx);
    ctx.body = torrentJson(found(await catalogue.getTorrent(hash), `torrent ${hash.toString('hex')}`));
  });
  router.get('/torrents/:info_hash/swarm', async (ctx) => {
    const [counts] = await store.scrape([infoHash(ctx)]);
    ctx.body = { complete: counts!.complete, incomplete: counts!.incomplete, downloaded: counts!.downloaded } satisfies z.input<typeof SwarmAnswer>;
  });
  router.put('/torrents/:info_hash', async (ctx) => {
    const hash = infoHash(ctx);
    const body = parseBody(TorrentBody, await readJsonObject(ctx));
    echo('info_hash', body.info_hash, (value) => typeof value === 'string' && value.toLowerCase() === hash.toString('hex'));
    const torrent = torrentOf(hash, body);
    const created = (await catalogue.getTorrent(hash)) === null;
    await catalogue.putTorrent(torrent);
    stored(ctx, created, torrentJson(torrent));
  });
  router.delete('/torrents/:info_hash', async (ctx) => {
    const hash = infoHash(ctx);
    const raw = await readOptionalJsonObject(ctx);
    const body = raw === null ? null : parseBody(DeleteTorrentBody, raw);
    const reason = body && options.deletedReasonTtl > 0 ? { text: body.reason, ttlSeconds: options.deletedReasonTtl } : undefined;
    deleted(ctx, await catalogue.deleteTorrent(hash, reason), `torrent ${hash.toString('hex')}`);
  });

  router.get('/swarms/hot', async (ctx) => {
    if (!hotSwarms) throw new ApiError(404, 'hot swarms are off on this tracker (metrics.hot_swarms is 0)');
    const raw = ctx.query.limit;
    const limit = raw === undefined ? 10 : typeof raw === 'string' && /^[0-9]{1,3}$/.test(raw) ? Number(raw) : NaN;
    if (!(limit >= 1 && limit <= MAX_HOT_SWARMS)) badRequest(`limit: must be an integer from 1 to ${MAX_HOT_SWARMS}`);
    ctx.body = await hotSwarms(limit);
  });

  router.post('/config/reload', async (ctx) => {
    const { reload } = options;
    if (!reload) throw new ApiError(404, 'reloads are not available on this tracker');
    const all = ctx.query.all;
    if (all !== undefined && all !== 'true' && all !== 'false') badRequest('all: must be true or false');
    const report = await reload(all === 'true');
    // Unprocessable: the request was fine, the configuration it read was not.
    ctx.status = report.outcome === 'invalid' ? 422 : 200;
    ctx.body = report;
  });

  router.get('/clients', async (ctx) => {
    ctx.body = { clients: (await catalogue.listClients()).map(clientJson) } satisfies z.input<typeof ClientsAnswer>;
  });
  router.put('/clients/:prefix', async (ctx) => {
    const prefix = clientPrefix(ctx);
    const body = parseBody(ClientBody, await readJsonObject(ctx));
    echo('prefix', body.prefix, (value) => value === encodeClientPrefix(prefix) || value === prefix);
    const client: ClientEntry = { prefix, name: body.name };
    if (body.action === 'deny') client.action = 'deny';
    // Approved lists hold tens of clients: listing them is the cheap way to tell a create.
    const created = !(await catalogue.listClients()).some((c) => c.prefix === prefix);
    await catalogue.putClient(client);
    stored(ctx, created, clientJson(client));
  });
  router.delete('/clients/:prefix', async (ctx) => {
    const prefix = clientPrefix(ctx);
    deleted(ctx, await catalogue.deleteClient(prefix), `client ${encodeClientPrefix(prefix)}`);
  });

  router.get('/lists/:list', async (ctx) => {
    const hashes = await catalogue.listHashes(hashList(ctx));
    ctx.body = { info_hashes: hashes.map((hash) => hash.toString('hex')) } satisfies z.input<typeof HashListAnswer>;
  });
  // Always 200: telling a create would mean reading a list that may hold millions of hashes.
  router.put('/lists/:list/:info_hash', async (ctx) => {
    const list = hashList(ctx);
    const hash = infoHash(ctx);
    await catalogue.addHash(list, hash);
    ctx.body = { list, info_hash: hash.toString('hex') } satisfies z.input<typeof ListEntryAnswer>;
  });
  router.delete('/lists/:list/:info_hash', async (ctx) => {
    const list = hashList(ctx);
    const hash = infoHash(ctx);
    deleted(ctx, await catalogue.removeHash(list, hash), `${hash.toString('hex')} on the ${list} list`);
  });

  router.get('/freeleech', (ctx) => {
    ctx.body = { enabled: catalogue.globalFreeleech() } satisfies z.input<typeof FreeleechAnswer>;
  });
  router.put('/freeleech', async (ctx) => {
    const { enabled } = parseBody(FreeleechBody, await readJsonObject(ctx));
    await catalogue.setGlobalFreeleech(enabled);
    ctx.body = { enabled } satisfies z.input<typeof FreeleechAnswer>;
  });

  // Behind the bearer token like every other path (auth.ts runs before routing). The document is no
  // secret (docs/openapi.json is in the repository), but answering it to anyone would tell a scanner
  // that a shoal management API listens here, and an unauthenticated caller is to learn nothing.
  router.get('/openapi.json', (ctx) => {
    ctx.body = openApiDocument();
  });

  return router;
}
