#!lua
--[[
announce: one peer's announce applied to one swarm, atomically, in one round trip.
Expires stale peers, registers or refreshes the announcer (or removes it on stopped), moves it between
leechers and seeders, counts a snatch, counts the swarm and picks peers, already packed.

KEYS[1]  seeders, IPv4     ZSET  member = 6-byte compact address, score = last announce (unix seconds)
KEYS[2]  leechers, IPv4    ZSET
KEYS[3]  seeders, IPv6     ZSET  member = 18-byte compact address
KEYS[4]  leechers, IPv6    ZSET
KEYS[5]  torrent           HASH  field "d" = snatches
ARGV[1]  announcer's IPv4 compact address, or ""
ARGV[2]  announcer's IPv6 compact address, or ""
ARGV[3]  "1" when the announcer reports left = 0
ARGV[4]  event: 0 none, 1 completed, 2 started, 3 stopped
ARGV[5]  numwant: most peers returned, both families together
ARGV[6]  "1" to return IPv4 peers
ARGV[7]  "1" to return IPv6 peers
ARGV[8]  IPv4 prefix length for same-subnet-first ordering (0: off)
ARGV[9]  IPv6 prefix length (0: off)
ARGV[10] peer TTL, seconds
ARGV[11] swarm size above which a random window replaces ZRANDMEMBER
ARGV[12] random seed
ARGV[13] TTL of the torrent hash, seconds (0: no expiry)
Reply: { complete, incomplete, downloaded, peers4 (6-byte entries), peers6 (18-byte entries) }
]]
local s4, l4, s6, l6, meta = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local addr4, addr6 = ARGV[1], ARGV[2]
local event = tonumber(ARGV[4])
local numwant = tonumber(ARGV[5])
local ttl = tonumber(ARGV[10])
local window = tonumber(ARGV[11])
local metaTtl = tonumber(ARGV[13])
math.randomseed(tonumber(ARGV[12]))

local time = redis.call('TIME')
local now = tonumber(time[1])
-- Scores are whole seconds (compact in a listpack), up to a second older than the announce: a peer
-- goes between its TTL and a second after it, never early.
local cutoff = now + tonumber(time[2]) / 1000000 - ttl - 1
local stopped = event == 3
local seeder = ARGV[3] == '1' or event == 1

-- Lazy expiry of this swarm, on touch.
for i = 1, 4 do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', '(' .. cutoff)
end

local wasSeeder = false
local function apply(addr, skey, lkey)
  if addr == '' then return end
  if redis.call('ZSCORE', skey, addr) then wasSeeder = true end
  if stopped then
    redis.call('ZREM', skey, addr)
    redis.call('ZREM', lkey, addr)
  elseif seeder then
    redis.call('ZADD', skey, now, addr)
    redis.call('ZREM', lkey, addr)
    redis.call('EXPIRE', skey, ttl + 1)
  else
    redis.call('ZADD', lkey, now, addr)
    redis.call('ZREM', skey, addr)
    redis.call('EXPIRE', lkey, ttl + 1)
  end
end
apply(addr4, s4, l4)
apply(addr6, s6, l6)

if event == 1 and not wasSeeder then
  redis.call('HINCRBY', meta, 'd', 1)
end
if metaTtl > 0 and not stopped then
  redis.call('EXPIRE', meta, metaTtl)
end

local ns4, nl4 = redis.call('ZCARD', s4), redis.call('ZCARD', l4)
local ns6, nl6 = redis.call('ZCARD', s6), redis.call('ZCARD', l6)
local downloaded = tonumber(redis.call('HGET', meta, 'd') or '0')

-- Up to `count` random members of `key` (of size n), leaving out `self` when it is a member.
local function sample(key, n, count, self, out)
  if count <= 0 or n == 0 then return end
  local take = count
  if self ~= '' then take = count + 1 end
  local members
  if n <= take then
    members = redis.call('ZRANGE', key, 0, -1)
  elseif n <= window then
    members = redis.call('ZRANDMEMBER', key, take)
  else
    -- Large swarms: a window at a random offset, about twice as cheap as ZRANDMEMBER there.
    local start = math.random(0, n - take)
    members = redis.call('ZRANGE', key, start, start + take - 1)
  end
  local added = 0
  for i = 1, #members do
    if members[i] ~= self then
      out[#out + 1] = members[i]
      added = added + 1
      if added == count then return end
    end
  end
end

local function samePrefix(a, b, bits)
  local whole = math.floor(bits / 8)
  if whole > 0 and string.sub(a, 1, whole) ~= string.sub(b, 1, whole) then return false end
  local rest = bits % 8
  if rest == 0 then return true end
  local mask = 256 - 2 ^ (8 - rest)
  return bit.band(string.byte(a, whole + 1), mask) == bit.band(string.byte(b, whole + 1), mask)
end

-- Seeders first for a leecher, leechers only for a seeder; same-subnet first by over-sampling.
local function pick(skey, lkey, ns, nl, self, count, bits)
  if count <= 0 or stopped then return {} end
  local grouping = bits > 0 and self ~= ''
  local draw = count
  if grouping then draw = count * 4 end
  local candidates = {}
  if not seeder then sample(skey, ns, draw, '', candidates) end
  local selfAmongLeechers = ''
  if not seeder then selfAmongLeechers = self end
  sample(lkey, nl, draw - #candidates, selfAmongLeechers, candidates)
  if grouping then
    local near, far = {}, {}
    for i = 1, #candidates do
      if samePrefix(candidates[i], self, bits) then near[#near + 1] = candidates[i] else far[#far + 1] = candidates[i] end
    end
    for i = 1, #far do near[#near + 1] = far[i] end
    candidates = near
  end
  for i = #candidates, count + 1, -1 do candidates[i] = nil end
  return candidates
end

local budget = numwant
local peers4, peers6 = {}, {}
local want4, want6 = ARGV[6] == '1', ARGV[7] == '1'
-- The announcer's own families first; the others take what numwant leaves.
if want4 and addr4 ~= '' then peers4 = pick(s4, l4, ns4, nl4, addr4, budget, tonumber(ARGV[8])); budget = budget - #peers4 end
if want6 and addr6 ~= '' then peers6 = pick(s6, l6, ns6, nl6, addr6, budget, tonumber(ARGV[9])); budget = budget - #peers6 end
if want4 and addr4 == '' then peers4 = pick(s4, l4, ns4, nl4, '', budget, 0); budget = budget - #peers4 end
if want6 and addr6 == '' then peers6 = pick(s6, l6, ns6, nl6, '', budget, 0) end

return { ns4 + ns6, nl4 + nl6, downloaded, table.concat(peers4), table.concat(peers6) }
