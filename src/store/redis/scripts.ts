/**
 * The Lua scripts, assembled once at start-up. Each command file in lua/ (announce.lua, scrape.lua and the
 * WebTorrent ones, webtorrent-announce.lua and webtorrent-scrape.lua) opens with a header (its KEYS, ARGV and reply) and pulls in named pieces with a line
 *
 *   --- @include "name"
 *
 * replaced by lua/includes/name.lua, which may include others in turn. Each piece goes in once per
 * command, where it is first included (Lua locals must be declared before use: a piece includes what it
 * needs before its own code). Two pieces are generated here rather than read:
 *   "constants"        the constants of protocol.ts and keys.ts (FLAG_SEEDER, KEY_TORRENT, ...) the
 *                      command mentions, listed; every use is replaced by its value
 *   "announce-header"  announce's ARGV[1] unpacked into locals named as the fields of ANNOUNCE_HEADER
 * so that the store and the scripts cannot drift: a name in capitals with an underscore (outside
 * comments and strings) that is no constant fails the assembly. A script's own constants are lines
 * `local NAME = <number>`; they are inlined too (see assembleScript). The result is one plain script
 * per command, the text that defineCommand gets: nothing of this costs anything per call.
 */
import { readFileSync } from 'node:fs';
import { INDEX_KEYS, PACKED_COPY_SUFFIX, SWARM_KEYS, WEBTORRENT_KEYS } from './keys.js';
import { ANNOUNCE_HEADER, ANNOUNCE_HEADER_FORMAT, luaConstants, luaName } from './protocol.js';

/** Where the command files and their pieces are read from. */
export interface ScriptSource {
  command(name: string): string;
  /** undefined when there is no such piece */
  include(name: string): string | undefined;
}

const LUA_DIR = new URL('../../../../lua/', import.meta.url);

function readIfExists(url: URL): string | undefined {
  try {
    return readFileSync(url, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** lua/<name>.lua and lua/includes/<name>.lua. */
export const fileSource: ScriptSource = {
  command: (name) => readFileSync(new URL(`${name}.lua`, LUA_DIR), 'utf8'),
  include: (name) => readIfExists(new URL(`includes/${name}.lua`, LUA_DIR)),
};

/** The compact commands' KEYS: the swarm's keys, then in exact subnet mode their indexes. */
const SWARM_COMMAND_KEYS: readonly string[] = [...SWARM_KEYS, ...INDEX_KEYS];
/** Commands whose KEYS are others (KEY_<NAME> is a position in the command's own KEYS). */
const COMMAND_KEYS: Readonly<Record<string, readonly string[]>> = { 'webtorrent-announce': WEBTORRENT_KEYS, 'webtorrent-scrape': WEBTORRENT_KEYS };

/**
 * Every constant a command may use: protocol.ts', the positions of its KEYS (keys.ts) and the packed
 * copies' suffixes. The totals keys of private mode are the last two, whatever comes before them.
 */
export function scriptConstants(keys: readonly string[] = SWARM_COMMAND_KEYS): Record<string, number | string> {
  const constants = luaConstants();
  keys.forEach((name, i) => (constants[`KEY_${luaName(name)}`] = i + 1));
  constants.PACKED_COPY_SUFFIX = PACKED_COPY_SUFFIX.public;
  constants.PACKED_COPY_PRIVATE_SUFFIX = PACKED_COPY_SUFFIX.private;
  return constants;
}

const GENERATED = new Set(['constants', 'announce-header']);
const INCLUDE = /^\s*---\s*@include\b(.*)$/;
const INCLUDE_NAME = /^\s+"([a-z0-9][a-z0-9-]*)"\s*$/;
/** A name in capitals with an underscore: a constant, generated or declared in the script. */
const CONSTANT_LIKE = /(?<![.\w])[A-Z][A-Z0-9]*_[A-Z0-9_]*\b/g;
/** A constant of the script's own: a whole line `local NAME = <number>`. */
const DECLARED_CONSTANT = /^([ \t]*)local[ \t]+([A-Z][A-Z0-9]*_[A-Z0-9_]*)[ \t]*=[ \t]*(-?\d+(?:\.\d+)?)[ \t]*$/gm;
const CONSTANTS_MARK = '\0constants\0';

function luaLiteral(value: number | string): string {
  return typeof value === 'number' ? String(value) : `'${value}'`;
}

/**
 * Lua text cut into runs of code and of the rest (comments, string literals), so that names are
 * replaced in code only.
 */
function luaRuns(text: string): Array<{ code: boolean; text: string }> {
  const runs: Array<{ code: boolean; text: string }> = [];
  let from = 0;
  let i = 0;
  const other = (end: number) => {
    if (i > from) runs.push({ code: true, text: text.slice(from, i) });
    runs.push({ code: false, text: text.slice(i, end) });
    i = from = end;
  };
  const longBracket = (at: number): number => {
    const open = /^\[(=*)\[/.exec(text.slice(at, at + 64));
    if (!open) return -1;
    const close = text.indexOf(`]${open[1]}]`, at + open[0].length);
    if (close < 0) throw new Error('unfinished long string or comment');
    return close + open[1]!.length + 2;
  };
  while (i < text.length) {
    const ch = text[i]!;
    if (text.startsWith('--', i)) {
      const end = longBracket(i + 2);
      if (end >= 0) other(end);
      else {
        const newline = text.indexOf('\n', i);
        other(newline < 0 ? text.length : newline);
      }
    } else if (ch === "'" || ch === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== ch && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
      if (text[j] !== ch) throw new Error('unfinished string');
      other(j + 1);
    } else if (ch === '[' && longBracket(i) >= 0) {
      other(longBracket(i));
    } else {
      i++;
    }
  }
  if (i > from) runs.push({ code: true, text: text.slice(from, i) });
  return runs;
}

function announceHeaderPiece(): string {
  const names = ANNOUNCE_HEADER.map(([name]) => name).join(', ');
  return [
    `-- ARGV[ARGV_HEADER] (generated from ANNOUNCE_HEADER, src/store/redis/protocol.ts).`,
    `local ${names} = struct.unpack('${ANNOUNCE_HEADER_FORMAT}', ARGV[ARGV_HEADER])`,
  ].join('\n');
}

/**
 * The command `name` as one script: includes replaced, each piece once, and every constant inlined:
 * a constant is a Lua literal where it is used, no local and no table read: locals captured as
 * upvalues by the closures made on every call cost script time (measured: docs/performance.md, "Hand-written hot paths"). Those
 * of protocol.ts and keys.ts the command mentions are listed in a comment where "constants" is
 * included; the script's own are its lines `local NAME = <number>` (NAME in capitals with an
 * underscore), left as comments. Throws on a missing piece, a malformed directive, a cycle, or a
 * name of that form that is no constant.
 */
export function assembleScript(name: string, source: ScriptSource = fileSource): string {
  const included = new Set<string>();
  const expanding: string[] = [];

  const expand = (text: string, where: string): string => {
    const out: string[] = [];
    for (const line of text.split('\n')) {
      const directive = INCLUDE.exec(line);
      if (!directive) {
        out.push(line);
        continue;
      }
      const piece = INCLUDE_NAME.exec(directive[1]!)?.[1];
      if (!piece) throw new Error(`${where}: malformed include ${JSON.stringify(line.trim())} (--- @include "name")`);
      if (expanding.includes(piece)) throw new Error(`${where}: include cycle ${[...expanding, piece].join(' -> ')}`);
      if (included.has(piece)) continue;
      included.add(piece);
      if (GENERATED.has(piece)) {
        if (source.include(piece) !== undefined) throw new Error(`lua/includes/${piece}.lua: "${piece}" is generated, not read`);
        out.push(piece === 'constants' ? CONSTANTS_MARK : announceHeaderPiece());
        continue;
      }
      const body = source.include(piece);
      if (body === undefined) throw new Error(`${where}: include "${piece}" not found (lua/includes/${piece}.lua)`);
      expanding.push(piece);
      out.push(`-- >>> includes/${piece}.lua`, expand(body.replace(/\n$/, ''), `lua/includes/${piece}.lua`));
      expanding.pop();
    }
    return out.join('\n');
  };

  const generated = scriptConstants(COMMAND_KEYS[name]);
  let runs = luaRuns(expand(source.command(name), `lua/${name}.lua`));
  // The script's own constants first, then every use of any constant replaced by its value.
  const own: Record<string, number> = {};
  for (const run of runs) {
    if (!run.code) continue;
    run.text = run.text.replace(DECLARED_CONSTANT, (_, indent: string, constant: string, value: string) => {
      if (constant in generated || constant in own) throw new Error(`lua/${name}.lua: constant ${constant} declared twice`);
      own[constant] = Number(value);
      return `${indent}-- ${constant} = ${value} (inlined)`;
    });
  }
  // Their lines are comments now.
  runs = luaRuns(runs.map((run) => run.text).join(''));
  const mentioned = new Set<string>();
  for (const run of runs) {
    if (!run.code) continue;
    run.text = run.text.replace(CONSTANT_LIKE, (constant) => {
      if (constant in own) return luaLiteral(own[constant]!);
      if (!(constant in generated)) throw new Error(`lua/${name}.lua: ${constant} is no constant of src/store/redis/protocol.ts or keys.ts, nor of the script`);
      mentioned.add(constant);
      return luaLiteral(generated[constant]!);
    });
  }
  if (mentioned.size > 0 && !included.has('constants')) throw new Error(`lua/${name}.lua: uses constants without --- @include "constants"`);
  const listing = [
    '-- Constants of src/store/redis/protocol.ts and keys.ts, inlined where used (generated):',
    ...Object.entries(generated)
      .filter(([constant]) => mentioned.has(constant))
      .map(([constant, value]) => `--   ${constant} = ${luaLiteral(value)}`),
  ].join('\n');
  return runs
    .map((run) => run.text)
    .join('')
    .replace(CONSTANTS_MARK, () => listing);
}

const assembled = new Map<string, string>();

/** The commands of lua/. */
export type CommandName = 'announce' | 'announce-batch' | 'scrape' | 'webtorrent-announce' | 'webtorrent-scrape';

/** The assembled command, read and assembled on first use. */
export function script(name: CommandName): string {
  let text = assembled.get(name);
  if (text === undefined) {
    text = assembleScript(name);
    assembled.set(name, text);
  }
  return text;
}
