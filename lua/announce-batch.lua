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
          k keys     its KEYS, as lua/announce.lua takes them (6, 8, 10 or 12)
          m args     its ARGV, as lua/announce.lua takes them (3 public, 9 private)

Reply: one string, each announce's answer after the other's (protocol.ts, BATCH_REPLY_*; decoded by
src/store/redis/announce-batch.ts), all numbers big-endian:
  kind B      BATCH_REPLY_ERROR: then I length, the error's message; nothing else
              BATCH_REPLY_REFUSAL, BATCH_REPLY_PUBLIC, BATCH_REPLY_V2, BATCH_REPLY_PRIVATE: the
              number of elements of lua/announce.lua's reply table it stands for (6, 7, 7, 12)
  complete I, incomplete I, downloaded I
  peers4, peers6, refusal   each I length and bytes
  PUBLIC and PRIVATE: snatched B
  V2: the torrent's hex info hash, I length and bytes
  PRIVATE: previousTotals, torrentId, upMultiplier, downMultiplier, freeleech, each I length and bytes
]]
--- @include "constants"
local fmt = string.format
local peerTtl = struct.unpack('>I', ARGV[1])
--- @include "clock"

local function announceOne(KEYS, ARGV)
--- @include "announce-one"
end

local spack = struct.pack
local function packed(ok, r)
  if not ok then
    local message = r
    if type(r) == 'table' then message = r.err or 'error' end
    message = tostring(message)
    return spack('>BIc0', BATCH_REPLY_ERROR, #message, message)
  end
  local n = #r
  if n == 7 then
    if type(r[7]) == 'number' then
      return spack('>BIIIIc0Ic0Ic0B', BATCH_REPLY_PUBLIC, r[1], r[2], r[3], #r[4], r[4], #r[5], r[5], #r[6], r[6], r[7])
    end
    return spack('>BIIIIc0Ic0Ic0Ic0', BATCH_REPLY_V2, r[1], r[2], r[3], #r[4], r[4], #r[5], r[5], #r[6], r[6], #r[7], r[7])
  end
  if n == 12 then
    return spack('>BIIIIc0Ic0Ic0BIc0Ic0Ic0Ic0Ic0', BATCH_REPLY_PRIVATE, r[1], r[2], r[3], #r[4], r[4], #r[5], r[5], #r[6], r[6], r[7],
      #r[8], r[8], #r[9], r[9], #r[10], r[10], #r[11], r[11], #r[12], r[12])
  end
  return spack('>BIIIIc0Ic0Ic0', BATCH_REPLY_REFUSAL, r[1], r[2], r[3], #r[4], r[4], #r[5], r[5], #r[6], r[6])
end

local out = {}
local at, last = 2, #ARGV
while at <= last do
  local keyCount, argCount = string.byte(ARGV[at], 1, 2)
  local keys = { unpack(ARGV, at + 1, at + keyCount) }
  local args = { unpack(ARGV, at + keyCount + 1, at + keyCount + argCount) }
  at = at + 1 + keyCount + argCount
  out[#out + 1] = packed(pcall(announceOne, keys, args))
end
return table.concat(out)
