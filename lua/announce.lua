#!lua
--[[
announce: one peer's announce applied to one swarm, atomically, in one round trip.
Checks the torrent's access rules, expires stale peers, registers or refreshes the announcer (or
removes it on stopped), moves it between leechers and seeders, counts a snatch, swaps a private
peer's reported totals, counts the swarm and picks peers, already packed.

KEYS[1]  seeders, IPv4     ZSET  member = 6-byte compact address (private mode: + 4-byte user id),
                                 score = last announce (unix seconds)
KEYS[2]  leechers, IPv4    ZSET
KEYS[3]  seeders, IPv6     ZSET  member = 18-byte compact address (private mode: + 4-byte user id)
KEYS[4]  leechers, IPv6    ZSET
KEYS[5]  snatches          HASH  field "d" = snatches
KEYS[6]  torrent           HASH  registration (id, up, down, fl) and list membership (allow, deny);
                                 written by the management API, only read here
KEYS[7]  totals            HASH  private mode: user id (4 bytes) .. peer_id ->
                                 "uploaded:downloaded#record id#previous totals#snatched"
KEYS[8]  totals ages       ZSET  the same fields, score = last announce
KEYS[9..12] only in exact subnet mode (registered as its own command with 12 keys): lexicographic
         indexes of KEYS[1..4], ZSETs of the same members with score 0, for ZRANGEBYLEX by prefix
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
ARGV[13] TTL of the snatch hash, seconds (0: no expiry)
ARGV[14] "1": only registered torrents (private mode)
ARGV[15] "1": only torrents on the allow list
ARGV[16] private mode: the user id as 4 bytes, big-endian; "" in public mode
ARGV[17] private mode: the peer_id
ARGV[18] private mode: the totals reported now, "uploaded:downloaded"
ARGV[19] private mode: this announce's accounting record id; a retry of the same call (a reply lost
         to a broken connection) finds it stored and answers as the first run did
Reply: { complete, incomplete, downloaded, peers4 (6-byte entries), peers6 (18-byte entries),
         refusal ("" or denied / not_allowed / unregistered: then nothing was changed),
         snatched (0/1), previous totals ("" when unknown), torrent id, up multiplier,
         down multiplier, freeleech ("" when unregistered) }
]]
local s4, l4, s6, l6, meta = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]

-- Access first: a refused announce changes nothing. A public tracker without an allow list reads only
-- the deny flag (usually of a key that does not exist).
local terms
if ARGV[14] == '1' or ARGV[15] == '1' then
  terms = redis.call('HMGET', KEYS[6], 'deny', 'allow', 'id', 'up', 'down', 'fl')
else
  terms = { redis.call('HGET', KEYS[6], 'deny') }
end
local refusal = ''
if terms[1] then
  refusal = 'denied'
elseif ARGV[15] == '1' and not terms[2] then
  refusal = 'not_allowed'
elseif ARGV[14] == '1' and not terms[3] then
  refusal = 'unregistered'
end
if refusal ~= '' then return { 0, 0, 0, '', '', refusal } end

local user = ARGV[16]
local private = user ~= ''
local addr4, addr6 = ARGV[1], ARGV[2]
if private then
  if addr4 ~= '' then addr4 = addr4 .. user end
  if addr6 ~= '' then addr6 = addr6 .. user end
end
local event = tonumber(ARGV[4])
local numwant = tonumber(ARGV[5])
local ttl = tonumber(ARGV[10])
local window = tonumber(ARGV[11])
local metaTtl = tonumber(ARGV[13])
math.randomseed(tonumber(ARGV[12]))

local time = redis.call('TIME')
local now = tonumber(time[1])
local exact = #KEYS == 12
-- Scores are whole seconds (compact in a listpack), up to a second older than the announce: a peer
-- goes between its TTL and a second after it, never early.
local cutoff = now + tonumber(time[2]) / 1000000 - ttl - 1
local stopped = event == 3
local seeder = ARGV[3] == '1' or event == 1

-- The lexicographic index of each peer set, in exact subnet mode.
local index = {}
if exact then
  for i = 1, 4 do index[KEYS[i]] = KEYS[i + 8] end
end

-- Lazy expiry of this swarm, on touch.
for i = 1, 4 do
  local key = KEYS[i]
  if exact then
    local gone = redis.call('ZRANGEBYSCORE', key, '-inf', '(' .. cutoff)
    if #gone > 0 then
      redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. cutoff)
      for j = 1, #gone, 1000 do
        redis.call('ZREM', index[key], unpack(gone, j, math.min(j + 999, #gone)))
      end
    end
  else
    redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. cutoff)
  end
end

local function add(key, addr)
  redis.call('ZADD', key, now, addr)
  redis.call('EXPIRE', key, ttl + 1)
  if exact then
    redis.call('ZADD', index[key], 0, addr)
    redis.call('EXPIRE', index[key], ttl + 1)
  end
end

local function remove(key, addr)
  if redis.call('ZREM', key, addr) == 1 and exact then redis.call('ZREM', index[key], addr) end
end

local wasSeeder = false
local function apply(addr, skey, lkey)
  if addr == '' then return end
  if redis.call('ZSCORE', skey, addr) then wasSeeder = true end
  if stopped then
    remove(skey, addr)
    remove(lkey, addr)
  elseif seeder then
    add(skey, addr)
    remove(lkey, addr)
  else
    add(lkey, addr)
    remove(skey, addr)
  end
end
apply(addr4, s4, l4)
apply(addr6, s6, l6)

local snatched = 0
if event == 1 and not wasSeeder then
  redis.call('HINCRBY', meta, 'd', 1)
  snatched = 1
end
if metaTtl > 0 and not stopped then
  redis.call('EXPIRE', meta, metaTtl)
end

-- Private mode: the peer's last reported totals, swapped for the new ones; stale ones expire with
-- the peers, a bounded number per call.
local previous = ''
if private then
  local totals, ages = KEYS[7], KEYS[8]
  local old = redis.call('ZRANGEBYSCORE', ages, '-inf', '(' .. cutoff, 'LIMIT', 0, 64)
  if #old > 0 then
    redis.call('HDEL', totals, unpack(old))
    redis.call('ZREM', ages, unpack(old))
  end
  local field = user .. ARGV[17]
  local stored = redis.call('HGET', totals, field)
  local retried = false
  if stored then
    local mark = string.find(stored, '#', 1, true)
    if mark then
      local id, before, done = string.match(string.sub(stored, mark + 1), '^([^#]*)#([^#]*)#([01])$')
      if ARGV[19] ~= '' and id == ARGV[19] then
        -- The same announce again: its first run swapped the totals and counted the snatch already.
        retried = true
        previous = before
        snatched = tonumber(done)
      else
        previous = string.sub(stored, 1, mark - 1)
      end
    else
      previous = stored
    end
  end
  if stopped then
    redis.call('HDEL', totals, field)
    redis.call('ZREM', ages, field)
  elseif not retried then
    redis.call('HSET', totals, field, ARGV[18] .. '#' .. ARGV[19] .. '#' .. previous .. '#' .. snatched)
    redis.call('ZADD', ages, now, field)
    redis.call('EXPIRE', totals, ttl + 1)
    redis.call('EXPIRE', ages, ttl + 1)
  end
end

local ns4, nl4 = redis.call('ZCARD', s4), redis.call('ZCARD', l4)
local ns6, nl6 = redis.call('ZCARD', s6), redis.call('ZCARD', l6)
local downloaded = tonumber(redis.call('HGET', meta, 'd') or '0')

local function shuffle(list)
  for i = #list, 2, -1 do
    local j = math.random(1, i)
    list[i], list[j] = list[j], list[i]
  end
end

-- Appends up to `count` of `members` to `out`, skipping `self`, in private mode the announcer's own
-- user's peers, and in exact mode members already in `chosen` (only there can one set be drawn from
-- twice; seeders and leechers never share a member, and one draw never repeats one).
local function keep(members, count, self, chosen, out)
  local added = 0
  for i = 1, #members do
    local m = members[i]
    if m ~= self and not (private and string.sub(m, -4) == user) and not (chosen and chosen[m]) then
      out[#out + 1] = m
      if chosen then
        chosen[m] = true
        chosen.size = chosen.size + 1
      end
      added = added + 1
      if added == count then return end
    end
  end
end

-- Appends up to `count` random members of `key` (of size n) to `out`, skipping `self` and members
-- already in `chosen` (exact mode).
local function sample(key, n, count, self, chosen, out)
  if count <= 0 or n == 0 then return end
  -- Draw just enough for what keep() may skip.
  local take = count
  if chosen then take = take + chosen.size end
  if self ~= '' then take = take + 1 end
  -- A user's other peers are skipped: draw a few more so that they rarely leave the answer short.
  if private then take = take + 4 end
  local members
  if n <= take then
    -- The whole set, in score order: shuffle it, or a cut would always keep the oldest peers.
    members = redis.call('ZRANGE', key, 0, -1)
    shuffle(members)
  elseif n <= window then
    members = redis.call('ZRANDMEMBER', key, take)
  else
    -- Large swarms: a window at a random offset, about twice as cheap as ZRANDMEMBER there.
    local start = math.random(0, n - take)
    members = redis.call('ZRANGE', key, start, start + take - 1)
  end
  keep(members, count, self, chosen, out)
end

-- Exact mode: up to `count` random members of the index `lexKey` within the prefix range [lo, hi].
local function sampleRange(lexKey, lo, hi, count, self, chosen, out)
  if count <= 0 then return end
  local n = redis.call('ZLEXCOUNT', lexKey, lo, hi)
  if n == 0 then return end
  local take = count + 1
  if private then take = take + 4 end
  local members
  if n <= take then
    members = redis.call('ZRANGEBYLEX', lexKey, lo, hi)
    shuffle(members)
  else
    members = redis.call('ZRANGEBYLEX', lexKey, lo, hi, 'LIMIT', math.random(0, n - take), take)
  end
  keep(members, count, self, chosen, out)
end

-- The index range of addresses sharing the first `bits` bits of `addr`.
local function prefixRange(addr, bits)
  local whole = math.floor(bits / 8)
  local low = string.sub(addr, 1, whole)
  local high = low
  local rest = bits % 8
  if rest > 0 then
    local mask = 256 - 2 ^ (8 - rest)
    local byte = bit.band(string.byte(addr, whole + 1), mask)
    low = low .. string.char(byte)
    high = high .. string.char(byte + 255 - mask)
  end
  return '[' .. low, '[' .. high .. string.rep('\255', #addr - #high)
end

local function samePrefix(a, b, bits)
  local whole = math.floor(bits / 8)
  if whole > 0 and string.sub(a, 1, whole) ~= string.sub(b, 1, whole) then return false end
  local rest = bits % 8
  if rest == 0 then return true end
  local mask = 256 - 2 ^ (8 - rest)
  return bit.band(string.byte(a, whole + 1), mask) == bit.band(string.byte(b, whole + 1), mask)
end

-- Seeders first for a leecher, leechers only for a seeder. Same-subnet first: in exact mode by the
-- prefix range of the indexes, otherwise by over-sampling four times and putting near peers first.
local function pick(skey, lkey, ns, nl, self, count, bits)
  if count <= 0 or stopped then return {} end
  local grouping = bits > 0 and self ~= ''
  local selfAmongLeechers = ''
  if not seeder then selfAmongLeechers = self end
  local chosen = nil
  if exact then chosen = { size = 0 } end
  local candidates = {}
  if grouping and exact then
    local lo, hi = prefixRange(self, bits)
    if not seeder then sampleRange(index[skey], lo, hi, count, '', chosen, candidates) end
    sampleRange(index[lkey], lo, hi, count - #candidates, selfAmongLeechers, chosen, candidates)
    if not seeder then sample(skey, ns, count - #candidates, '', chosen, candidates) end
    sample(lkey, nl, count - #candidates, selfAmongLeechers, chosen, candidates)
    return candidates
  end
  local draw = count
  if grouping then draw = count * 4 end
  if not seeder then sample(skey, ns, draw, '', chosen, candidates) end
  sample(lkey, nl, draw - #candidates, selfAmongLeechers, chosen, candidates)
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

-- Private members carry the user id: the answer has the compact addresses only. A public answer
-- cuts a member only if it is too long (left over from private mode before a switch).
local function pack(members, size)
  for i = 1, #members do
    if private or #members[i] ~= size then members[i] = string.sub(members[i], 1, size) end
  end
  return table.concat(members)
end

return {
  ns4 + ns6, nl4 + nl6, downloaded, pack(peers4, 6), pack(peers6, 18),
  '', snatched, previous, terms[3] or '', terms[4] or '', terms[5] or '', terms[6] or '',
}
