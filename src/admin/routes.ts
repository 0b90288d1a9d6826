/**
 * The management API's resources, over the store's catalogue. JSON field names are snake_case like
 * the configuration's; info hashes are 40 hex characters. PUT replaces the whole resource (fields left
 * out take their defaults) and answers the stored object, 201 when it did not exist; DELETE answers 204,
 * or 404 when there was nothing to delete.
 */
import Router, { type RouterContext } from '@koa/router';
import type { ClientEntry, HashList, TorrentEntry, User } from '../tracker/catalogue.js';
import type { TrackerStore } from '../tracker/driver.js';
import { readJsonObject } from './body.js';
import { ApiError } from './errors.js';
import {
  encodeClientPrefix,
  Fields,
  MAX_CLIENT_NAME,
  MAX_MULTIPLIER,
  MAX_TORRENT_ID,
  MAX_USER_ID,
  pathClientPrefix,
  pathId,
  pathInfoHash,
} from './validate.js';

const userJson = (user: User) => ({
  id: user.id,
  passkey: user.passkey,
  up_multiplier: user.upMultiplier,
  down_multiplier: user.downMultiplier,
  enabled: user.enabled,
});

const torrentJson = (torrent: TorrentEntry) => ({
  info_hash: torrent.infoHash.toString('hex'),
  id: torrent.id,
  up_multiplier: torrent.upMultiplier,
  down_multiplier: torrent.downMultiplier,
  freeleech: torrent.freeleech,
});

const clientJson = (client: ClientEntry) => ({ prefix: encodeClientPrefix(client.prefix), name: client.name });

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

const multipliers = ['up_multiplier', 'down_multiplier'] as const;

export function adminRouter(store: TrackerStore): Router {
  const catalogue = store.catalogue;
  const router = new Router();
  const userId = (ctx: RouterContext): number => pathId('id', ctx.params.id!, MAX_USER_ID);
  const infoHash = (ctx: RouterContext): Buffer => pathInfoHash(ctx.params.info_hash!);
  // The raw segment, still percent-encoded: the router's decoding would read the bytes as UTF-8.
  const clientPrefix = (ctx: RouterContext): string => pathClientPrefix(ctx.captures?.[0] ?? '');

  router.get('/users/:id', async (ctx) => {
    const id = userId(ctx);
    ctx.body = userJson(found(await catalogue.getUser(id), `user ${id}`));
  });
  router.put('/users/:id', async (ctx) => {
    const id = userId(ctx);
    const fields = new Fields(await readJsonObject(ctx), ['id', 'passkey', ...multipliers, 'enabled']);
    fields.echo('id', (value) => value === id);
    const user: User = {
      id,
      passkey: fields.passkey('passkey'),
      upMultiplier: fields.number('up_multiplier', 0, MAX_MULTIPLIER, 1),
      downMultiplier: fields.number('down_multiplier', 0, MAX_MULTIPLIER, 1),
      enabled: fields.boolean('enabled', true),
    };
    const created = (await catalogue.getUser(id)) === null;
    await catalogue.putUser(user);
    stored(ctx, created, userJson(user));
  });
  router.delete('/users/:id', async (ctx) => {
    const id = userId(ctx);
    deleted(ctx, await catalogue.deleteUser(id), `user ${id}`);
  });

  router.get('/torrents/:info_hash', async (ctx) => {
    const hash = infoHash(ctx);
    ctx.body = torrentJson(found(await catalogue.getTorrent(hash), `torrent ${hash.toString('hex')}`));
  });
  router.get('/torrents/:info_hash/swarm', async (ctx) => {
    const [counts] = await store.scrape([infoHash(ctx)]);
    ctx.body = { complete: counts!.complete, incomplete: counts!.incomplete, downloaded: counts!.downloaded };
  });
  router.put('/torrents/:info_hash', async (ctx) => {
    const hash = infoHash(ctx);
    const fields = new Fields(await readJsonObject(ctx), ['info_hash', 'id', ...multipliers, 'freeleech']);
    fields.echo('info_hash', (value) => typeof value === 'string' && value.toLowerCase() === hash.toString('hex'));
    const torrent: TorrentEntry = {
      infoHash: hash,
      id: fields.integer('id', 1, MAX_TORRENT_ID),
      upMultiplier: fields.number('up_multiplier', 0, MAX_MULTIPLIER, 1),
      downMultiplier: fields.number('down_multiplier', 0, MAX_MULTIPLIER, 1),
      freeleech: fields.boolean('freeleech', false),
    };
    const created = (await catalogue.getTorrent(hash)) === null;
    await catalogue.putTorrent(torrent);
    stored(ctx, created, torrentJson(torrent));
  });
  router.delete('/torrents/:info_hash', async (ctx) => {
    const hash = infoHash(ctx);
    deleted(ctx, await catalogue.deleteTorrent(hash), `torrent ${hash.toString('hex')}`);
  });

  router.get('/clients', async (ctx) => {
    ctx.body = { clients: (await catalogue.listClients()).map(clientJson) };
  });
  router.put('/clients/:prefix', async (ctx) => {
    const prefix = clientPrefix(ctx);
    const fields = new Fields(await readJsonObject(ctx), ['prefix', 'name']);
    fields.echo('prefix', (value) => value === encodeClientPrefix(prefix) || value === prefix);
    const client: ClientEntry = { prefix, name: fields.text('name', MAX_CLIENT_NAME) };
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
    ctx.body = { info_hashes: hashes.map((hash) => hash.toString('hex')) };
  });
  // Always 200: telling a create would mean reading a list that may hold millions of hashes.
  router.put('/lists/:list/:info_hash', async (ctx) => {
    const list = hashList(ctx);
    const hash = infoHash(ctx);
    await catalogue.addHash(list, hash);
    ctx.body = { list, info_hash: hash.toString('hex') };
  });
  router.delete('/lists/:list/:info_hash', async (ctx) => {
    const list = hashList(ctx);
    const hash = infoHash(ctx);
    deleted(ctx, await catalogue.removeHash(list, hash), `${hash.toString('hex')} on the ${list} list`);
  });

  router.get('/freeleech', (ctx) => {
    ctx.body = { enabled: catalogue.globalFreeleech() };
  });
  router.put('/freeleech', async (ctx) => {
    const enabled = new Fields(await readJsonObject(ctx), ['enabled']).boolean('enabled');
    await catalogue.setGlobalFreeleech(enabled);
    ctx.body = { enabled };
  });

  return router;
}
