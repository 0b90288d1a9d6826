/** The Lua commands assembled from lua/ and lua/includes/, and the contract they share with the store. */
import { SUBNET_OVERSAMPLING as CONTRACT_OVERSAMPLING } from '../../../src/store/driver.js';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { INDEX_KEYS, SWARM_KEY_SUFFIX, SWARM_KEYS, TOTALS_KEYS, WEBTORRENT_KEY_SUFFIX, WEBTORRENT_KEYS } from '../../../src/store/redis/keys.js';
import {
  ANNOUNCE_ARGV,
  ANNOUNCE_HEADER,
  ANNOUNCE_HEADER_FORMAT,
  ANNOUNCE_REPLY,
  packAnnounceHeader,
  PUBLIC_REPLY_LENGTH,
  REFUSAL_REPLY_LENGTH,
  REPLY,
  SUBNET_OVERSAMPLING,
} from '../../../src/store/redis/protocol.js';
import { assembleScript, script, type ScriptSource } from '../../../src/store/redis/scripts.js';
import { redisMissing, startRedis, type RedisServer } from '../../helpers/redis.js';

const ROOT = new URL('../../../../', import.meta.url);
const COMMANDS = ['announce', 'announce-batch', 'scrape', 'webtorrent-announce', 'webtorrent-scrape'] as const;
const read = (path: string): string => readFileSync(new URL(path, ROOT), 'utf8');
const pieces = readdirSync(new URL('lua/includes/', ROOT)).map((file) => file.replace(/\.lua$/, ''));

/** Command and include texts held in memory. */
function memorySource(commands: Record<string, string>, includes: Record<string, string>): ScriptSource {
  return { command: (name) => commands[name]!, include: (name) => includes[name] };
}

/** The header comment of a command file: everything inside its opening --[[ ]]. */
function header(command: string): string {
  return /--\[\[([\s\S]*?)\]\]/.exec(read(`lua/${command}.lua`))![1]!;
}

describe('lua scripts, assembly', () => {
  for (const command of COMMANDS) {
    it(`assembles ${command}: every include resolved, each piece once, the shebang first`, () => {
      const text = script(command);
      assert.doesNotMatch(text, /@include/);
      assert.equal(text.split('\n')[0], read(`lua/${command}.lua`).split('\n')[0]);
      assert.match(text.split('\n')[0]!, /^#!lua/);
      for (const piece of pieces) assert.ok(text.split(`-- >>> includes/${piece}.lua\n`).length <= 2, `${piece} included more than once`);
    });
  }

  it('leaves no piece of lua/includes/ unused', () => {
    const used = COMMANDS.map((command) => script(command)).join('\n');
    for (const piece of pieces) assert.ok(used.includes(`-- >>> includes/${piece}.lua\n`), `lua/includes/${piece}.lua is included by no command`);
  });

  it('includes a piece once, where it is first included, its own includes before it', () => {
    const source = memorySource(
      { main: '--- @include "b"\n--- @include "c"\nmain()\n--- @include "b"' },
      { b: '--- @include "d"\nb()', c: '  --- @include "d"\nc()', d: 'd()' },
    );
    const lines = assembleScript('main', source)
      .split('\n')
      .filter((line) => !line.startsWith('--'));
    assert.deepEqual(lines, ['d()', 'b()', 'c()', 'main()']);
  });

  it('rejects a missing piece, a malformed directive, a cycle, an unknown constant', () => {
    const fails = (main: string, includes: Record<string, string>, reason: RegExp) =>
      assert.throws(() => assembleScript('main', memorySource({ main }, includes)), reason);
    fails('--- @include "nowhere"', {}, /include "nowhere" not found/);
    fails('--- @include "a"', { a: '--- @include "nowhere"' }, /lua\/includes\/a\.lua: include "nowhere" not found/);
    fails('--- @include nowhere', {}, /malformed include/);
    fails("--- @include 'a'", { a: '' }, /malformed include/);
    fails('--- @include "a"', { a: '--- @include "b"', b: '--- @include "a"' }, /include cycle a -> b -> a/);
    fails('--- @include "constants"\nlocal x = FLAG_SEEDR', {}, /FLAG_SEEDR is no constant/);
    fails('local x = FLAG_SEEDER', {}, /without --- @include "constants"/);
    fails('--- @include "constants"', { constants: 'x' }, /"constants" is generated/);
  });

  it('inlines the constants a command mentions, with the values of protocol.ts and keys.ts, and its own', () => {
    const main = [
      '--- @include "constants"',
      '  local OWN_ONE = 1',
      "return { SUBNET_OVERSAMPLING, KEYS[KEY_TORRENT], REPLY_SNATCHED, -OWN_ONE, 'FLAG_SEEDER', x.FLAG_SEEDER } -- FLAG_WANT4",
    ].join('\n');
    const lines = assembleScript('main', memorySource({ main }, {})).split('\n');
    assert.deepEqual(lines, [
      '-- Constants of src/store/redis/protocol.ts and keys.ts, inlined where used (generated):',
      `--   REPLY_SNATCHED = ${REPLY.snatched + 1}`,
      `--   SUBNET_OVERSAMPLING = ${SUBNET_OVERSAMPLING}`,
      `--   KEY_TORRENT = ${SWARM_KEYS.indexOf('torrent') + 1}`,
      '  -- OWN_ONE = 1 (inlined)',
      `return { ${SUBNET_OVERSAMPLING}, KEYS[${SWARM_KEYS.indexOf('torrent') + 1}], ${REPLY.snatched + 1}, -1, 'FLAG_SEEDER', x.FLAG_SEEDER } -- FLAG_WANT4`,
    ]);
    assert.throws(() => assembleScript('main', memorySource({ main: 'local FLAG_SEEDER = 3' }, {})), /FLAG_SEEDER declared twice/);
  });

  it("numbers KEY_<NAME> in each command's own KEYS: the WebTorrent commands' are WEBTORRENT_KEYS", () => {
    const main = '--- @include "constants"\nreturn { KEYS[KEY_TORRENT], KEYS[KEY_ROUTES] }';
    for (const command of ['webtorrent-announce', 'webtorrent-scrape']) {
      const text = assembleScript(command, memorySource({ [command]: main }, {}));
      assert.match(text, new RegExp(`return \\{ KEYS\\[${WEBTORRENT_KEYS.indexOf('torrent') + 1}\\], KEYS\\[${WEBTORRENT_KEYS.indexOf('routes') + 1}\\] \\}`));
      // A compact swarm's key is none of theirs, nor is a WebTorrent key the compact commands'.
      assert.throws(
        () => assembleScript(command, memorySource({ [command]: '--- @include "constants"\nreturn KEYS[KEY_SEEDERS4]' }, {})),
        /KEY_SEEDERS4 is no constant/,
      );
    }
    assert.throws(() => assembleScript('announce', memorySource({ announce: main }, {})), /KEY_ROUTES is no constant/);
  });

  it('shares the access rules between the two announce commands, each with its own refusal reply', () => {
    for (const command of ['announce', 'webtorrent-announce'] as const) {
      const text = script(command);
      assert.ok(text.includes('-- >>> includes/access.lua\n'), `${command} includes access`);
      assert.match(text, /if accessRefusal then return \{ 0, 0, 0, /, command);
      assert.doesNotMatch(read(`lua/${command}.lua`), /'(deny|allow)'/, `${command} reads the access fields itself`);
    }
    // A v2 hash served under its torrent is the compact announce's alone.
    assert.ok(script('announce').includes('-- >>> includes/hybrid.lua\n'));
    assert.ok(!script('webtorrent-announce').includes('-- >>> includes/hybrid.lua\n'));
  });

  it('names flag bits and event codes in every command, as protocol.ts has them (no bare numbers)', () => {
    for (const command of COMMANDS) {
      const code = read(`lua/${command}.lua`)
        .replace(/--\[(=*)\[[\s\S]*?\]\1\]/g, '')
        .replace(/--.*$/gm, '');
      assert.doesNotMatch(code, /band\(flags,\s*\d/, `${command}: a flag bit by number`);
      assert.doesNotMatch(code, /\bevent\s*[=~]=\s*\d/, `${command}: an event code by number`);
    }
  });

  it('leaves no constant of protocol.ts or keys.ts in the code of an assembled command', () => {
    for (const command of COMMANDS) {
      const code = script(command)
        .replace(/--\[(=*)\[[\s\S]*?\]\1\]/g, '')
        .replace(/--.*$/gm, '');
      assert.doesNotMatch(code, /\b[A-Z][A-Z0-9]*_[A-Z0-9_]*\b/, command);
    }
  });
});

describe('lua scripts, the contract with the store', () => {
  it('packs the announce header as it always was, new fields at the end: ">BBHBBIIIII", 26 bytes', () => {
    assert.equal(ANNOUNCE_HEADER_FORMAT, '>BBHBBIIIII');
    const packed = packAnnounceHeader({
      flags: 0x21,
      event: 3,
      numwant: 0x1234,
      subnet4Bits: 24,
      subnet6Bits: 48,
      peerTtl: 0x01020304,
      snatchTtl: 0x0a0b0c0d,
      seed: 0x7fffffff,
      minInterval: 900,
      maxSwarmPeers: 0x00010000,
    });
    assert.equal(packed.toString('hex'), '21' + '03' + '1234' + '18' + '30' + '01020304' + '0a0b0c0d' + '7fffffff' + '00000384' + '00010000');
  });

  it('packs by hand what Buffer.writeUInt8/16/32BE would write, and refuses what they refuse', () => {
    const fields = ANNOUNCE_HEADER.map(([name]) => name);
    const sample = (max: number, i: number): number => [0, 1, max, max - 1, Math.floor(max / 3) + 0.75, NaN][i % 6]!;
    for (let round = 0; round < 12; round++) {
      const values = Object.fromEntries(fields.map((name, i) => [name, sample(2 ** (8 * { B: 1, H: 2, I: 4 }[ANNOUNCE_HEADER[i]![1]]) - 1, round + i)]));
      const expected = Buffer.alloc(packAnnounceHeader(values as never).length);
      let offset = 0;
      for (const [name, code] of ANNOUNCE_HEADER) {
        if (code === 'B') offset = expected.writeUInt8(values[name]!, offset);
        else if (code === 'H') offset = expected.writeUInt16BE(values[name]!, offset);
        else offset = expected.writeUInt32BE(values[name]!, offset);
      }
      assert.equal(packAnnounceHeader(values as never).toString('hex'), expected.toString('hex'));
    }
    const valid = Object.fromEntries(fields.map((name) => [name, 1]));
    assert.throws(() => packAnnounceHeader({ ...valid, numwant: 65_536 } as never), RangeError);
    assert.throws(() => packAnnounceHeader({ ...valid, flags: -1 } as never), RangeError);
    assert.throws(() => packAnnounceHeader({ ...valid, peerTtl: 2 ** 32 } as never), RangeError);
  });

  it("announce.lua's header spells out the keys, their suffixes and positions as keys.ts has them", () => {
    const listed = [...header('announce').matchAll(/^KEYS\[([^\]]+)\]\s+:(\S+)\s+(\w+)/gm)].map((m) => [m[1], m[2], m[3]]);
    const positions = [...SWARM_KEYS, ...INDEX_KEYS].map((name, i) => [String(i + 1), name] as const);
    const expected = [...positions, ['#KEYS-1', TOTALS_KEYS[0]] as const, ['#KEYS', TOTALS_KEYS[1]] as const].map(([at, name]) => [
      at,
      SWARM_KEY_SUFFIX[name],
      name,
    ]);
    assert.deepEqual(listed, expected);
    assert.deepEqual(Object.keys(SWARM_KEY_SUFFIX).sort(), expected.map(([, , name]) => name).sort());
  });

  it("scrape.lua's header lists the first six keys", () => {
    const listed = [...header('scrape').matchAll(/^KEYS\[(\d+)\]\s+:(\S+)\s+(\w+)/gm)].map((m) => [m[1], m[2], m[3]]);
    assert.deepEqual(
      listed,
      SWARM_KEYS.slice(0, 6).map((name, i) => [String(i + 1), SWARM_KEY_SUFFIX[name], name]),
    );
  });

  it("the WebTorrent commands' headers spell out their keys, suffixes and positions as keys.ts has them", () => {
    const listed = (command: string) => [...header(command).matchAll(/^KEYS\[([^\]]+)\]\s+:(\S+)\s+(\w+)/gm)].map((m) => [m[1], m[2], m[3]]);
    const own = WEBTORRENT_KEYS.map((name, i) => [String(i + 1), WEBTORRENT_KEY_SUFFIX[name], name]);
    const totals = [
      ['#KEYS-1', SWARM_KEY_SUFFIX[TOTALS_KEYS[0]], TOTALS_KEYS[0]],
      ['#KEYS', SWARM_KEY_SUFFIX[TOTALS_KEYS[1]], TOTALS_KEYS[1]],
    ];
    assert.deepEqual(listed('webtorrent-announce'), [...own, ...totals]);
    assert.deepEqual(listed('webtorrent-scrape'), own.slice(0, 3));
    assert.equal(WEBTORRENT_KEY_SUFFIX.torrent, SWARM_KEY_SUFFIX.torrent);
  });

  it("announce.lua's header lists ARGV, the header's fields and the reply as protocol.ts has them", () => {
    const text = header('announce');
    assert.deepEqual(
      [...text.matchAll(/^ARGV\[(\d+)\]\s+(\w+)/gm)].map((m) => [Number(m[1]), m[2]]),
      ANNOUNCE_ARGV.map((name, i) => [i + 1, name]),
    );
    assert.ok(text.includes(`struct "${ANNOUNCE_HEADER_FORMAT}"`));
    const fields = [...text.matchAll(/^ {22}(\w+)\s+([BHI])\s/gm)].map((m) => [m[1], m[2]]);
    assert.deepEqual(
      fields,
      ANNOUNCE_HEADER.map(([name, code]) => [name, code]),
    );
    assert.deepEqual(
      [...text.matchAll(/^ {2}\[(\d+)\]\s+(\w+)/gm)].map((m) => [Number(m[1]), m[2]]),
      ANNOUNCE_REPLY.map((name, i) => [i + 1, name]),
    );
  });

  it("over-samples for subnet ordering by the contract's one factor, which the memory driver uses too", () => {
    assert.equal(SUBNET_OVERSAMPLING, CONTRACT_OVERSAMPLING);
    assert.match(read('src/store/memory/store.ts'), /import \{[^}]*\bSUBNET_OVERSAMPLING\b[^}]*\} from '\.\.\/driver\.js'/);
  });
});

const missing = redisMissing();

describe('lua scripts on a real redis-server', { skip: missing ?? false }, () => {
  let server: RedisServer;
  let client: Redis;
  before(async () => {
    server = await startRedis();
    client = new Redis(server.url);
  });
  after(async () => {
    client.disconnect();
    await server.kill();
  });

  it('loads every assembled command (SCRIPT LOAD compiles it)', async () => {
    for (const command of COMMANDS) assert.match(String(await client.script('LOAD', script(command))), /^[0-9a-f]{40}$/);
  });

  const keys = (tag: string, names: readonly (keyof typeof SWARM_KEY_SUFFIX)[]) => names.map((name) => `s:{${tag}}:${SWARM_KEY_SUFFIX[name]}`);
  const headerOf = (flags: number, event = 0) =>
    packAnnounceHeader({ flags, event, numwant: 50, subnet4Bits: 0, subnet6Bits: 0, peerTtl: 60, snatchTtl: 600, seed: 7, minInterval: 0, maxSwarmPeers: 0 });
  const address = Buffer.from([10, 0, 0, 1, 0x1a, 0xe1]);

  it('answers with the reply layout of protocol.ts: refused, public, private', async () => {
    const announce = script('announce');
    await client.hset(keys('denied', ['torrent'])[0]!, 'deny', '1');
    const refused = (await client.eval(announce, 6, ...keys('denied', SWARM_KEYS), headerOf(1), address, '')) as unknown[];
    assert.equal(refused.length, REFUSAL_REPLY_LENGTH);
    assert.equal(refused[REPLY.refusal], 'denied');

    const publicReply = (await client.eval(announce, 6, ...keys('public', SWARM_KEYS), headerOf(1 | 2, 1), address, '')) as unknown[];
    assert.equal(publicReply.length, PUBLIC_REPLY_LENGTH);
    assert.deepEqual([publicReply[REPLY.complete], publicReply[REPLY.incomplete], publicReply[REPLY.downloaded]], [1, 0, 1]);
    assert.deepEqual([publicReply[REPLY.refusal], publicReply[REPLY.snatched]], ['', 1]);

    const tag = 'private';
    await client.hset(keys(tag, ['torrent'])[0]!, { id: '42', up: '1', down: '0.5', fl: '1' });
    const privateArgs = [...keys(tag, [...SWARM_KEYS, ...TOTALS_KEYS]), headerOf(2 | 8), address, '', Buffer.from([0, 0, 0, 9]), 'p'.repeat(20)];
    await client.eval(announce, 8, ...privateArgs, '100:5', 'r1', '', '0');
    const privateReply = (await client.eval(announce, 8, ...privateArgs, '200:6', 'r2', '', '0')) as unknown[];
    assert.equal(privateReply.length, ANNOUNCE_REPLY.length);
    assert.deepEqual(
      [REPLY.incomplete, REPLY.previousTotals, REPLY.torrentId, REPLY.upMultiplier, REPLY.downMultiplier, REPLY.freeleech].map((i) => privateReply[i]),
      // The previous totals, then the session: opened by r1 (an unknown peer, not started: open, from its totals), seq 2, no snatch yet.
      [1, '100:5#r1#2#100:5#1#0', '42', '1', '0.5', '1'],
    );
  });
});
