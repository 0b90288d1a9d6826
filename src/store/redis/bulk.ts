/**
 * The redis driver's bulk catalogue writes and reads (PUT /users, PUT /torrents, paging, syncs). A batch
 * is read first (every conflict found before anything is written), then written: single-key commands
 * sent together (ioredis auto-pipelining, per node on a Cluster), and one change message for the batch,
 * on which every replica drops what it cached of that kind. Not one transaction: the keys span hash
 * slots; a batch cut half way (Redis gone) is put again whole, which is idempotent.
 */
import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../../redis/connection.js';
import { CatalogueConflict, type SyncKind, type TorrentEntry, UnknownSync, type User } from '../catalogue.js';
import { catalogueKeys, torrentKey } from './keys.js';
import { userFields, userFrom } from './user-fields.js';

/** A sync idle this long is forgotten (its items stay; nothing is removed). */
const SYNC_IDLE_SECONDS = 3600;
/** Members per ZADD, SADD or SMISMEMBER: large commands, but none that blocks Redis long. */
const CHUNK = 1000;
/** Index entries read per step of a sync's replace. */
const SCAN_PAGE = 10_000;

/**
 * Runs `each` over the items a slice at a time: a slice's commands go out together (auto-pipelined),
 * and no more of them wait in line than one slice's, so none waits past the command timeout.
 */
async function bySlice<T, R>(items: readonly T[], each: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let from = 0; from < items.length; from += CHUNK) {
    out.push(...(await Promise.all(items.slice(from, from + CHUNK).map((item, i) => each(item, from + i)))));
  }
  return out;
}

function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** A hash replaced whole in one step (DEL, then HSET of the fields in ARGV): one call instead of MULTI, DEL, HSET, EXEC. */
const REPLACE_HASH_LUA = `redis.call('DEL', KEYS[1])
return redis.call('HSET', KEYS[1], unpack(ARGV))`;

export class RedisBulk {
  private readonly keys: ReturnType<typeof catalogueKeys>;
  private readonly scripted: { trackerReplaceHash(key: string, ...fields: Array<string | number>): Promise<number> };

  constructor(
    private readonly client: RedisClient,
    private readonly prefix: string,
    /** Publishes a catalogue change ("users", "torrents" or one item's) to every replica. */
    private readonly publish: (message: string) => Promise<void>,
  ) {
    this.keys = catalogueKeys(prefix);
    client.defineCommand('trackerReplaceHash', { numberOfKeys: 1, lua: REPLACE_HASH_LUA });
    this.scripted = client as unknown as RedisBulk['scripted'];
  }

  async putUsers(users: readonly User[], sync?: string): Promise<void> {
    if (sync !== undefined) await this.touchSync('users', sync);
    const c = this.client;
    const [holders, olds] = await Promise.all([
      bySlice(users, (u) => c.hget(this.keys.user(u.passkey), 'id')),
      bySlice(users, (u) => c.get(this.keys.userId(u.id))),
    ]);
    users.forEach((user, i) => {
      const holder = holders[i];
      if (holder && Number(holder) !== user.id) throw new CatalogueConflict(`user ${user.id}: passkey already belongs to user ${holder}`);
    });
    await bySlice(users, async (user, i) => {
      const key = this.keys.user(user.passkey);
      const old = olds[i];
      await Promise.all([
        // Replaced whole, in one step, as a single put does.
        this.scripted.trackerReplaceHash(key, ...Object.entries(userFields(user)).flat()),
        c.set(this.keys.userId(user.id), user.passkey),
        old && old !== user.passkey ? c.del(this.keys.user(old)) : undefined,
      ]);
    });
    const writes: Array<Promise<unknown>> = [];
    for (const part of chunks(users)) writes.push(c.zadd(this.keys.users, ...part.flatMap((u) => [u.id, String(u.id)])));
    if (sync !== undefined) for (const part of chunks(users)) writes.push(c.sadd(this.keys.syncSeen('users', sync), ...part.map((u) => String(u.id))));
    await Promise.all(writes);
    if (sync !== undefined) await c.expire(this.keys.syncSeen('users', sync), SYNC_IDLE_SECONDS + 60);
    await this.publish('users');
  }

  async putTorrents(torrents: readonly TorrentEntry[], sync?: string): Promise<void> {
    if (sync !== undefined) await this.touchSync('torrents', sync);
    const c = this.client;
    const hexes = torrents.map((t) => t.infoHash.toString('hex'));
    const v2s = torrents.map((t) => (t.infoHashV2 && !t.infoHashV2.equals(t.infoHash) ? t.infoHashV2.toString('hex') : undefined));
    const [own, held] = await Promise.all([
      bySlice(torrents, (t) => c.hmget(torrentKey(this.prefix, t.infoHash), 'of', 'v2')),
      bySlice(torrents, (t, i) => (v2s[i] ? c.hmget(torrentKey(this.prefix, t.infoHashV2!), 'id', 'of') : Promise.resolve(null))),
    ]);
    torrents.forEach((_t, i) => {
      const [ofOther] = own[i]!;
      if (ofOther) throw new CatalogueConflict(`${hexes[i]} is the v2 info hash of torrent ${ofOther}`);
      const [id, of] = held[i] ?? [];
      if (id || (of && of !== hexes[i])) throw new CatalogueConflict(`info_hash_v2 ${v2s[i]} is registered to another torrent`);
    });
    await bySlice(torrents, async (t, i) => {
      const writes: Array<Promise<unknown>> = [];
      const key = torrentKey(this.prefix, t.infoHash);
      const [, oldV2] = own[i]!;
      const v2 = v2s[i];
      if (oldV2 && oldV2 !== v2) writes.push(c.hdel(torrentKey(this.prefix, Buffer.from(oldV2, 'hex')), 'of'));
      // Registered again: a deletion's reason is forgotten.
      writes.push(c.del(this.keys.deletion(hexes[i]!)));
      const fields: Record<string, string | number> = { id: t.id, up: t.upMultiplier, down: t.downMultiplier, fl: t.freeleech ? '1' : '0' };
      if (v2) {
        writes.push(c.del(this.keys.deletion(v2)));
        writes.push(c.hset(torrentKey(this.prefix, t.infoHashV2!), 'of', hexes[i]!));
        writes.push(c.hset(key, { ...fields, v2 }));
      } else {
        writes.push(c.hset(key, fields));
        if (oldV2) writes.push(c.hdel(key, 'v2'));
      }
      await Promise.all(writes);
    });
    const writes: Array<Promise<unknown>> = [];
    for (const part of chunks(hexes)) writes.push(c.zadd(this.keys.torrents, ...part.flatMap((hex) => [0, hex])));
    if (sync !== undefined) for (const part of chunks(hexes)) writes.push(c.sadd(this.keys.syncSeen('torrents', sync), ...part));
    await Promise.all(writes);
    if (sync !== undefined) await c.expire(this.keys.syncSeen('torrents', sync), SYNC_IDLE_SECONDS + 60);
    await this.publish('torrents');
  }

  async listUsers(after: number, limit: number): Promise<User[]> {
    const ids = await this.client.zrangebyscore(this.keys.users, `(${after}`, '+inf', 'LIMIT', 0, limit);
    const passkeys = await bySlice(ids, (id) => this.client.get(this.keys.userId(Number(id))));
    const found = await bySlice(passkeys, (passkey) => (passkey ? this.client.hgetall(this.keys.user(passkey)) : Promise.resolve(null)));
    const users: User[] = [];
    found.forEach((fields, i) => {
      const user = fields && userFrom(fields, passkeys[i]!);
      if (user) users.push(user);
    });
    return users;
  }

  async listTorrents(after: Buffer | null, limit: number): Promise<TorrentEntry[]> {
    const from = after ? `(${after.toString('hex')}` : '-';
    const hexes = await this.client.zrangebylex(this.keys.torrents, from, '+', 'LIMIT', 0, limit);
    const rows = await bySlice(hexes, (hex) => this.client.hmget(torrentKey(this.prefix, Buffer.from(hex, 'hex')), 'id', 'up', 'down', 'fl', 'v2'));
    const torrents: TorrentEntry[] = [];
    rows.forEach(([id, up, down, fl, v2], i) => {
      if (!id) return; // unregistered since (an index entry left by a write cut half way)
      const torrent: TorrentEntry = {
        infoHash: Buffer.from(hexes[i]!, 'hex'),
        id: Number(id),
        upMultiplier: Number(up ?? '1'),
        downMultiplier: Number(down ?? '1'),
        freeleech: fl === '1',
      };
      if (v2) torrent.infoHashV2 = Buffer.from(v2, 'hex');
      torrents.push(torrent);
    });
    return torrents;
  }

  async beginSync(kind: SyncKind): Promise<string> {
    const id = randomBytes(12).toString('hex');
    await this.client.set(this.keys.sync(kind, id), '1', 'EX', SYNC_IDLE_SECONDS);
    return id;
  }

  async hasSync(kind: SyncKind, id: string): Promise<boolean> {
    return (await this.client.exists(this.keys.sync(kind, id))) === 1;
  }

  /**
   * Ends a sync; with replace, deletes the items of its kind that were not put under it, through
   * `remove` (the catalogue's own delete), a page of the index at a time.
   */
  async finishSync(kind: SyncKind, id: string, replace: boolean, remove: (member: string) => Promise<boolean>): Promise<{ kept: number; removed: number }> {
    if ((await this.client.del(this.keys.sync(kind, id))) === 0) throw new UnknownSync(`no open ${kind} sync ${id}`);
    const seenKey = this.keys.syncSeen(kind, id);
    let removed = 0;
    if (replace) {
      const index = kind === 'users' ? this.keys.users : this.keys.torrents;
      let after = kind === 'users' ? '(0' : '-';
      for (;;) {
        const page =
          kind === 'users'
            ? await this.client.zrangebyscore(index, after, '+inf', 'LIMIT', 0, SCAN_PAGE)
            : await this.client.zrangebylex(index, after, '+', 'LIMIT', 0, SCAN_PAGE);
        if (page.length === 0) break;
        const seen = (await Promise.all(chunks(page).map((part) => this.client.smismember(seenKey, ...part)))).flat();
        const gone = page.filter((_member, i) => seen[i] === 0);
        removed += (await bySlice(gone, remove)).filter(Boolean).length;
        after = `(${page.at(-1)!}`;
      }
    }
    await this.client.del(seenKey);
    const kept = await this.client.zcard(kind === 'users' ? this.keys.users : this.keys.torrents);
    await this.publish(kind);
    return { kept, removed };
  }

  /** Checks that the sync is open and keeps it open another idle period. */
  private async touchSync(kind: SyncKind, id: string): Promise<void> {
    if ((await this.client.expire(this.keys.sync(kind, id), SYNC_IDLE_SECONDS)) === 0) throw new UnknownSync(`no open ${kind} sync ${id}`);
  }
}
