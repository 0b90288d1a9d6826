#!lua flags=allow-cross-slot-keys
--[[
announce-batch: several announces in one call, each applied as lua/announce.lua applies one (the
same code: the piece announce-one, run once per announce as a function of its own KEYS and ARGV), one
after the other. What a call costs before and after the script's own work (EVALSHA's parsing and
lookup, the script's set-up, TIME, the reply) is paid once for the batch instead of once per announce.

Why it is as safe as single calls (docs/architecture.md, "Batched announces"): a script runs
atomically, so each announce of the batch is applied whole, in order, as if its own call had run at
that moment; an announce sees the ones before it in the batch as it would have seen their calls. Each
runs under pcall: an error in one (a key whose slot this node no longer serves) answers that announce's
error and leaves the others applied; the store retries only the failed ones, one by one.

Declares no KEYS (Cluster refuses declared keys of several slots, CROSSSLOT): every announce's key
names come in ARGV, all of slots this node serves (the store groups the batch by node), which
allow-cross-slot-keys lets the script touch. A key of a slot the node does not serve (any more) fails
that announce only, before it changed anything (its first command reads its torrent's hash).

ARGV:
ARGV[1]   shared     struct ">I": peerTtl, seconds a peer lives after its last announce (every
                     announce's header carries the same); the clock is read once, for all
then per announce, in order:
          shape      2 bytes: its key count k and its argument count m
          k keys     its KEYS, as lua/announce.lua takes them (6, 8, 10 or 12); k = 0: the same KEYS
                     as the announce before (the same swarm: no new strings for them)
          m args     its ARGV, as lua/announce.lua takes them (3 public, 9 private)

Reply: one flat array of strings (no nested tables), each announce's answer after the other's
(protocol.ts, BATCH_REPLY_*; decoded by src/store/redis/announce-batch.ts). An answer is a head, a
string packed with struct (big-endian), then strings as lua/announce.lua's reply has them:
  head: kind B   BATCH_REPLY_ERROR: then one string, the error's message; nothing else
                 BATCH_REPLY_REFUSAL, BATCH_REPLY_PUBLIC, BATCH_REPLY_V2, BATCH_REPLY_PRIVATE: the
                 number of elements of lua/announce.lua's reply table it stands for (6, 7, 7, 12)
        complete I, incomplete I, downloaded I
        PUBLIC and PRIVATE: snatched B
  then peers4, peers6, refusal
  V2: then the torrent's hex info hash
  PRIVATE: then previousTotals, torrentId, upMultiplier, downMultiplier, freeleech
Why not one string for all: Lua hashes every string it makes, byte by byte, and joining a batch's
answers makes several (measured: docs/performance.md, "Batched announces"); an array of strings that
exist already costs Redis a copy of each into the reply.
]]
--- @include "constants"
local fmt = string.format
local peerTtl = struct.unpack('>I', ARGV[1])
--- @include "clock"

--[[ What the batch's announces share besides the clock: reads that the batch's own writes keep true,
so that a swarm announced to several times in one batch is read once. Only this script writes in
between (a script runs alone; its keys do not expire while it runs), and every write here updates or
forgets what it changes (the pieces say how; "memo" there). nil in a call of one announce.
  expired    peer set -> true: expired at this clock already (what stays is fresh, what comes is new)
  ttl        peer set, totals hash -> true: its TTL set at this clock already
  swept      totals ages key -> true: its stale totals all removed at this clock
  cards      peer set -> its size
  inUse      a family's seeders key -> whether the family's sets exist (EXISTS), true once written
  copies     packed copy key -> its value; copyRead: read once already (the second read takes it whole)
  copyKeyOf  copy suffix -> peer set -> its copy's key
  snatches   snatch hash -> its fields d, x, xt
  terms, deny  torrent hash -> what access read of it (nothing here writes it)
]]
local memo = {
  expired = {}, ttl = {}, swept = {}, cards = {}, inUse = {}, copies = {}, copyRead = {}, snatches = {}, terms = {}, deny = {},
  copyKeyOf = { [PACKED_COPY_SUFFIX] = {}, [PACKED_COPY_PRIVATE_SUFFIX] = {} },
}
function memo.card(key)
  local size = memo.cards[key]
  if not size then
    size = redis.call('ZCARD', key)
    memo.cards[key] = size
  end
  return size
end
function memo.counted(key, change)
  local size = memo.cards[key]
  if size then memo.cards[key] = size + change end
end
function memo.exists(seedersKey, leechersKey)
  local inUse = memo.inUse[seedersKey]
  if inUse == nil then
    inUse = redis.call('EXISTS', seedersKey, leechersKey) > 0
    memo.inUse[seedersKey] = inUse
  end
  return inUse
end

local function announceOne(KEYS, ARGV)
--- @include "announce-one"
end

local spack = struct.pack
local out, n = {}, 0
-- Each announce's answer: its head packed, then its strings as they are (packing them again into one
-- string would copy and hash them again, and a long concatenation in Lua more so).
local function answer(ok, r)
  if not ok then
    local message = r
    if type(r) == 'table' then message = r.err or 'error' end
    out[n + 1], out[n + 2] = spack('>B', BATCH_REPLY_ERROR), tostring(message)
    n = n + 2
    return
  end
  local size = #r
  if size == 6 then
    out[n + 1], out[n + 2], out[n + 3], out[n + 4] = spack('>BIII', BATCH_REPLY_REFUSAL, r[1], r[2], r[3]), r[4], r[5], r[6]
    n = n + 4
  elseif size == 12 then
    out[n + 1], out[n + 2], out[n + 3], out[n + 4] = spack('>BIIIB', BATCH_REPLY_PRIVATE, r[1], r[2], r[3], r[7]), r[4], r[5], r[6]
    out[n + 5], out[n + 6], out[n + 7], out[n + 8], out[n + 9] = r[8], r[9], r[10], r[11], r[12]
    n = n + 9
  elseif type(r[7]) == 'number' then
    out[n + 1], out[n + 2], out[n + 3], out[n + 4] = spack('>BIIIB', BATCH_REPLY_PUBLIC, r[1], r[2], r[3], r[7]), r[4], r[5], r[6]
    n = n + 4
  else
    out[n + 1], out[n + 2], out[n + 3], out[n + 4], out[n + 5] = spack('>BIII', BATCH_REPLY_V2, r[1], r[2], r[3]), r[4], r[5], r[6], r[7]
    n = n + 5
  end
end

local at, last = 2, #ARGV
local keys
while at <= last do
  local keyCount, argCount = string.byte(ARGV[at], 1, 2)
  if keyCount > 0 then keys = { unpack(ARGV, at + 1, at + keyCount) } end
  local args = { unpack(ARGV, at + keyCount + 1, at + keyCount + argCount) }
  at = at + 1 + keyCount + argCount
  answer(pcall(announceOne, keys, args))
end
return out
