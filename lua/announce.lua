#!lua
--[[
announce: one peer's announce applied to one swarm, atomically, in one round trip.
Checks the torrent's access rules, expires stale peers, registers or refreshes the announcer (or
removes it on stopped), moves it between leechers and seeders, counts a snatch, swaps a private
peer's reported totals, counts the swarm and picks peers, already packed.

Cost matters here more than anywhere (DESIGN.md §6): every redis.call, every number formatted into
a command and every member handled in Lua shows in the server time per announce. Hence the packed
arguments, the numbers passed as ready-made strings, and peer selection by windows of the sorted sets
concatenated in C (table.concat, string.find) rather than member by member in Lua.

KEYS[1]  seeders, IPv4     ZSET  member = 6-byte compact address (private mode: + 4-byte user id),
                                 score = last announce (unix seconds)
KEYS[2]  leechers, IPv4    ZSET
KEYS[3]  seeders, IPv6     ZSET  member = 18-byte compact address (private mode: + 4-byte user id)
KEYS[4]  leechers, IPv6    ZSET
KEYS[5]  snatches          HASH  field "d" = snatches, "x" = when its TTL was last set; created by
                                 the first snatch
KEYS[6]  torrent           HASH  registration (id, up, down, fl) and list membership (allow, deny);
                                 written by the management API, only read here
KEYS[7..10]  exact subnet mode only: lexicographic indexes of KEYS[1..4], ZSETs of the same members
         with score 0, for ZRANGEBYLEX by prefix
KEYS[#KEYS-1]  private mode only: totals  HASH  user id (4 bytes) .. peer_id ->
                                 "uploaded:downloaded#record id#previous totals#snatched"
KEYS[#KEYS]    private mode only: totals ages  ZSET  the same fields, score = last announce
The key count is fixed per registered command: 6 (public), 8 (private), 10 and 12 (exact mode).

ARGV[1]  header, struct ">BBHBBIII": flags, event, numwant, IPv4 prefix length, IPv6 prefix length
         (0: no same-subnet ordering), peer TTL (s), snatch hash TTL (s, 0: none), random seed.
         flags: 1 left = 0, 2 return IPv4 peers, 4 return IPv6 peers, 8 only registered torrents,
         16 only allow-listed torrents, 32 exact subnet mode. event: 0 none, 1 completed,
         2 started, 3 stopped
ARGV[2]  announcer's IPv4 compact address, or ""
ARGV[3]  announcer's IPv6 compact address, or ""
ARGV[4..7] private mode only: the user id (4 bytes, big-endian), the peer_id, the totals reported
         now ("uploaded:downloaded"), this announce's accounting record id (a retry of the same call,
         after a reply lost to a broken connection, finds it stored and answers as the first run did)
Reply: { complete, incomplete, downloaded, peers4 (6-byte entries; private mode: 10, the compact
         address and the user id), peers6 (18-byte entries; private mode: 22),
         refusal ("" or denied / not_allowed / unregistered: then nothing was changed),
         snatched (0/1), previous totals ("" when unknown), torrent id, up multiplier,
         down multiplier, freeleech ("" when unregistered) }
]]
local flags, event, numwant, bits4, bits6, ttl, metaTtl, seed = struct.unpack('>BBHBBIII', ARGV[1])
local band = bit.band
local requireRegistered, requireAllowed = band(flags, 8) ~= 0, band(flags, 16) ~= 0

-- Access first: a refused announce changes nothing. A public tracker without an allow list reads only
-- the deny flag (usually of a key that does not exist).
local terms
if requireRegistered or requireAllowed then
  terms = redis.call('HMGET', KEYS[6], 'deny', 'allow', 'id', 'up', 'down', 'fl')
  if terms[1] then return { 0, 0, 0, '', '', 'denied' } end
  if requireAllowed and not terms[2] then return { 0, 0, 0, '', '', 'not_allowed' } end
  if requireRegistered and not terms[3] then return { 0, 0, 0, '', '', 'unregistered' } end
elseif redis.call('HGET', KEYS[6], 'deny') then
  return { 0, 0, 0, '', '', 'denied' }
end

local s4, l4, s6, l6, meta = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local user = ARGV[4] or ''
local private = user ~= ''
local exact = band(flags, 32) ~= 0
local addr4, addr6 = ARGV[2], ARGV[3]
if private then
  if addr4 ~= '' then addr4 = addr4 .. user end
  if addr6 ~= '' then addr6 = addr6 .. user end
end
local stopped = event == 3
local seeder = band(flags, 1) ~= 0 or event == 1
math.randomseed(seed)

-- Scores are whole seconds (compact in a listpack). A peer last seen in second S is stale from second
-- S + ttl + 1 on: between its TTL and a second after it, never early. TIME's seconds go into ZADD as
-- they came, a string, and other numbers as "%d" strings: Lua would format them as "%.14g" or
-- "%.17g", a measurable part of a call.
local fmt = string.format
local now = redis.call('TIME')[1]
local stale = '(' .. fmt('%d', tonumber(now) - ttl)
local keyTtl = fmt('%d', ttl + 1)

-- The lexicographic index of each peer set, in exact subnet mode.
local index
if exact then
  index = {}
  for i = 1, 4 do index[KEYS[i]] = KEYS[i + 6] end
end

-- Lazy expiry of one peer set, on touch; its size afterwards.
local function expire(key)
  if exact then
    local gone = redis.call('ZRANGEBYSCORE', key, '-inf', stale)
    if #gone > 0 then
      redis.call('ZREMRANGEBYSCORE', key, '-inf', stale)
      for j = 1, #gone, 1000 do
        redis.call('ZREM', index[key], unpack(gone, j, math.min(j + 999, #gone)))
      end
    end
  else
    redis.call('ZREMRANGEBYSCORE', key, '-inf', stale)
  end
end

-- The family the announcer is in is written anyway. The other one is usually empty: one EXISTS
-- instead of expiring and counting two sets.
local used4 = addr4 ~= '' or redis.call('EXISTS', s4, l4) > 0
local used6 = addr6 ~= '' or redis.call('EXISTS', s6, l6) > 0
if used4 then expire(s4); expire(l4) end
if used6 then expire(s6); expire(l6) end

-- A member is in at most one of its family's two sets. So a write that finds the member already in
-- its set (ZADD answers 0, the common re-announce) needs no ZREM from the other, and the writes'
-- answers say what a separate read would have: whether the announcer was a seeder.
local wasSeeder = false
local function apply(addr, skey, lkey)
  if addr == '' then return end
  if stopped then
    if redis.call('ZREM', skey, addr) == 1 then
      wasSeeder = true
      if exact then redis.call('ZREM', index[skey], addr) end
    elseif redis.call('ZREM', lkey, addr) == 1 and exact then
      redis.call('ZREM', index[lkey], addr)
    end
    return
  end
  local own, other = lkey, skey
  if seeder then own, other = skey, lkey end
  local new = redis.call('ZADD', own, now, addr) == 1
  redis.call('EXPIRE', own, keyTtl)
  local moved = new and redis.call('ZREM', other, addr) == 1
  if exact then
    -- Every time, not only for a new member: peers that were there before subnet_index was turned
    -- on join the index at their next announce.
    redis.call('ZADD', index[own], 0, addr)
    redis.call('EXPIRE', index[own], keyTtl)
    if moved then redis.call('ZREM', index[other], addr) end
  end
  if seeder then
    if not new then wasSeeder = true end
  elseif moved then
    wasSeeder = true
  end
end
apply(addr4, s4, l4)
apply(addr6, s6, l6)

-- The snatch hash exists from the first snatch on. It outlives the swarm's last announce (stopped
-- ones aside, as in the memory driver) by torrent_ttl to half as long again: its TTL, 1.5 x torrent_ttl, is set again once a third of it has
-- passed (field "x": when; "xt": the torrent_ttl it was set for, so that a changed setting takes
-- effect at once), not on every announce. torrent_ttl 0 keeps it.
local snatch = redis.call('HMGET', meta, 'd', 'x', 'xt')
local downloaded = tonumber(snatch[1] or '0')
local snatched = 0
if event == 1 and not wasSeeder then
  downloaded = redis.call('HINCRBY', meta, 'd', 1)
  snatched = 1
end
if downloaded > 0 and not stopped then
  local setFor = tonumber(snatch[3] or '-1')
  if setFor ~= metaTtl or (metaTtl > 0 and tonumber(now) - tonumber(snatch[2] or '0') > metaTtl / 2) then
    redis.call('HSET', meta, 'x', now, 'xt', fmt('%d', metaTtl))
    if metaTtl > 0 then
      redis.call('EXPIRE', meta, fmt('%d', metaTtl + math.ceil(metaTtl / 2)))
    else
      redis.call('PERSIST', meta)
    end
  end
end

-- Private mode: the peer's last reported totals, swapped for the new ones; stale ones expire with
-- the peers, a bounded number per call.
local previous = ''
if private then
  local totals, ages = KEYS[#KEYS - 1], KEYS[#KEYS]
  local record = ARGV[7]
  local old = redis.call('ZRANGEBYSCORE', ages, '-inf', stale, 'LIMIT', 0, 64)
  if #old > 0 then
    redis.call('HDEL', totals, unpack(old))
    redis.call('ZREM', ages, unpack(old))
  end
  local field = user .. ARGV[5]
  local stored = redis.call('HGET', totals, field)
  local retried = false
  if stored then
    local mark = string.find(stored, '#', 1, true)
    if mark then
      local id, before, done = string.match(string.sub(stored, mark + 1), '^([^#]*)#([^#]*)#([01])$')
      if record ~= '' and id == record then
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
    redis.call('HSET', totals, field, ARGV[6] .. '#' .. record .. '#' .. previous .. '#' .. snatched)
    redis.call('ZADD', ages, now, field)
    redis.call('EXPIRE', totals, keyTtl)
    redis.call('EXPIRE', ages, keyTtl)
  end
end

local ns4, nl4, ns6, nl6 = 0, 0, 0, 0
if used4 then ns4, nl4 = redis.call('ZCARD', s4), redis.call('ZCARD', l4) end
if used6 then ns6, nl6 = redis.call('ZCARD', s6), redis.call('ZCARD', l6) end

-- Up to `take` members of `key` (of size n) from a random rank on, wrapping around at the end: every
-- member is as likely to be in it (and to be kept, but for a slight edge of the announcer's
-- neighbours in last-seen order: a window holding the announcer cuts nobody else). One or two ZRANGEs, never a read of the whole set for a part of
-- it, and none of ZRANDMEMBER's copying (measured ~5x dearer at 100 members). The members come in
-- last-seen order, which says nothing a client could use. The whole set, when that is wanted, in one
-- ZRANGE. A caller that draws more than it keeps (for the members it may skip) cuts the surplus from a
-- random point of what is left, not from the end: the end would favour whatever follows a skipped
-- member.
local function window(key, n, take)
  if take >= n then return redis.call('ZRANGE', key, '0', '-1') end
  local start = math.random(0, n - 1)
  local stop = start + take - 1
  if stop < n then return redis.call('ZRANGE', key, fmt('%d', start), fmt('%d', stop)) end
  return redis.call('ZRANGE', key, fmt('%d', start), '-1'), redis.call('ZRANGE', key, '0', fmt('%d', stop - n))
end

-- The common case, without subnet ordering: the window as one string, and the string functions
-- (C) doing what a loop over the members would do in Lua. Public: the announcer is cut out at an
-- entry boundary. Private: entries carry the user id, and the announcing user's own are cut out;
-- the tracker drops the ids (work moved out of the one Redis thread to the replicas, which scale).
-- At most `count` entries. nil when a member has the wrong length (a leftover of a switch between
-- public and private mode): the caller takes the general way.
local function packedWindow(key, n, count, self, size)
  if count <= 0 or n == 0 then return '' end
  local take = count
  -- Private: the user's own peers (the announcer among them) are cut: draw a few more, so that they
  -- rarely leave the answer short.
  if private then take = take + 4 elseif self ~= '' then take = take + 1 end
  local a, b = window(key, n, take)
  local packed = table.concat(a)
  local members = #a
  if b then
    packed = packed .. table.concat(b)
    members = members + #b
  end
  local entry = size
  if private then entry = size + 4 end
  if #packed ~= members * entry then return nil end
  local cut = self
  if private then cut = user end
  if cut ~= '' then
    -- Where `cut` (an address or a user id) sits in an entry: at its start, or after the address.
    local offset = entry - #cut
    local from = 1
    while true do
      local at = string.find(packed, cut, from, true)
      if not at then break end
      local start = at - offset
      if start >= 1 and (start - 1) % entry == 0 then
        packed = string.sub(packed, 1, start - 1) .. string.sub(packed, start + entry)
        if not private then break end
        from = start
      else
        from = at + 1
      end
    end
  end
  if #packed > count * entry then
    local rotate = math.random(0, #packed / entry - 1) * entry
    if rotate > 0 then packed = string.sub(packed, rotate + 1) .. string.sub(packed, 1, rotate) end
    packed = string.sub(packed, 1, count * entry)
  end
  return packed
end

-- The general way: exact mode, subnet ordering, leftover members. Defined only when
-- needed: each closure costs an allocation, and garbage, on every call.
local keep, sample, sampleRange, prefixRange, samePrefix, pack
-- The entry length of the family being picked, set by pick().
local entrySize = 0
local function defineGeneralWay()
  -- Appends up to `count` of `members` to `out`, from a random one of those it may take on, around
  -- (see window()). It skips `self`, in private mode the announcer's own user's peers, members of
  -- the wrong length (leftovers of a switch between public and private mode), and in exact mode
  -- members already in `chosen` (only there can one set be drawn from twice; seeders and leechers
  -- never share a member, and one window never repeats one).
  keep = function(members, count, self, chosen, out)
    local eligible = {}
    local size = entrySize
    for i = 1, #members do
      local m = members[i]
      if #m == size and m ~= self and not (private and string.sub(m, -4) == user) and not (chosen and chosen[m]) then
        eligible[#eligible + 1] = m
      end
    end
    local total = #eligible
    if total == 0 or count <= 0 then return 0 end
    local first = math.random(0, total - 1)
    local added = math.min(count, total)
    for k = 0, added - 1 do
      local m = eligible[(first + k) % total + 1]
      out[#out + 1] = m
      if chosen then
        chosen[m] = true
        chosen.size = chosen.size + 1
      end
    end
    return added
  end

  -- Appends up to `count` members of `key` (of size n) from a random window to `out`.
  sample = function(key, n, count, self, chosen, out)
    if count <= 0 or n == 0 then return end
    -- Draw just enough for what keep() may skip.
    local take = count
    if chosen then take = take + chosen.size end
    if private then take = take + 4 elseif self ~= '' then take = take + 1 end
    local a, b = window(key, n, take)
    if b then
      for i = 1, #b do a[#a + 1] = b[i] end
    end
    keep(a, count, self, chosen, out)
  end

  -- Exact mode: up to `count` random members of the index `lexKey` within the prefix range [lo, hi].
  sampleRange = function(lexKey, lo, hi, count, self, chosen, out)
    if count <= 0 then return end
    local n = redis.call('ZLEXCOUNT', lexKey, lo, hi)
    if n == 0 then return end
    local take = count + 1
    if private then take = take + 4 end
    if take >= n then
      keep(redis.call('ZRANGEBYLEX', lexKey, lo, hi), count, self, chosen, out)
      return
    end
    -- A window from a random member of the range on, around, as window() does.
    local start = math.random(0, n - 1)
    local members = redis.call('ZRANGEBYLEX', lexKey, lo, hi, 'LIMIT', start, take)
    if start + take > n then
      local rest = redis.call('ZRANGEBYLEX', lexKey, lo, hi, 'LIMIT', 0, start + take - n)
      for i = 1, #rest do members[#members + 1] = rest[i] end
    end
    keep(members, count, self, chosen, out)
  end

  -- The index range of addresses sharing the first `bits` bits of `addr`.
  prefixRange = function(addr, bits)
    local whole = math.floor(bits / 8)
    local low = string.sub(addr, 1, whole)
    local high = low
    local rest = bits % 8
    if rest > 0 then
      local mask = 256 - 2 ^ (8 - rest)
      local byte = band(string.byte(addr, whole + 1), mask)
      low = low .. string.char(byte)
      high = high .. string.char(byte + 255 - mask)
    end
    return '[' .. low, '[' .. high .. string.rep('\255', #addr - #high)
  end

  samePrefix = function(a, b, bits)
    local whole = math.floor(bits / 8)
    if whole > 0 and string.sub(a, 1, whole) ~= string.sub(b, 1, whole) then return false end
    local rest = bits % 8
    if rest == 0 then return true end
    local mask = 256 - 2 ^ (8 - rest)
    return band(string.byte(a, whole + 1), mask) == band(string.byte(b, whole + 1), mask)
  end

  -- The answer's entries: compact addresses, in private mode with the user id (keep() let through
  -- only members of that length).
  pack = function(members)
    return table.concat(members), #members
  end
end

-- Peers of one family, packed, and how many. Seeders first for a leecher, leechers only for a
-- seeder. Same-subnet first: in exact mode by the prefix range of the indexes, otherwise by
-- over-sampling four times and putting near peers first.
local function pick(skey, lkey, ns, nl, self, count, bits, size)
  if count <= 0 or stopped then return '', 0 end
  local grouping = bits > 0 and self ~= ''
  local selfAmongLeechers = ''
  if not seeder then selfAmongLeechers = self end
  local entry = size
  if private then entry = size + 4 end
  if not exact and not grouping then
    local fromSeeders = ''
    if not seeder then fromSeeders = packedWindow(skey, ns, count, '', size) end
    if fromSeeders then
      local fromLeechers = packedWindow(lkey, nl, count - #fromSeeders / entry, selfAmongLeechers, size)
      if fromLeechers then
        local packed = fromSeeders .. fromLeechers
        return packed, #packed / entry
      end
    end
  end
  if not keep then defineGeneralWay() end
  entrySize = entry
  local chosen = nil
  if exact then chosen = { size = 0 } end
  local candidates = {}
  if grouping and exact then
    local lo, hi = prefixRange(self, bits)
    if not seeder then sampleRange(index[skey], lo, hi, count, '', chosen, candidates) end
    sampleRange(index[lkey], lo, hi, count - #candidates, selfAmongLeechers, chosen, candidates)
    if not seeder then sample(skey, ns, count - #candidates, '', chosen, candidates) end
    sample(lkey, nl, count - #candidates, selfAmongLeechers, chosen, candidates)
    return pack(candidates)
  end
  local draw = count
  if grouping then draw = count * 4 end
  if not seeder then sample(skey, ns, draw, '', chosen, candidates) end
  local seeders = #candidates
  sample(lkey, nl, draw - #candidates, selfAmongLeechers, chosen, candidates)
  if grouping then
    -- Near seeders, near leechers, far seeders, far leechers; each list from a random one of its
    -- members on: in window order, the peer that follows the window's start most closely would win
    -- the cut most of the time.
    local lists = { {}, {}, {}, {} }
    for i = 1, #candidates do
      local list = 1
      if not samePrefix(candidates[i], self, bits) then list = 3 end
      if i > seeders then list = list + 1 end
      lists[list][#lists[list] + 1] = candidates[i]
    end
    candidates = {}
    for _, list in ipairs(lists) do
      local total = #list
      if total > 0 then
        local first = math.random(0, total - 1)
        for k = 0, total - 1 do candidates[#candidates + 1] = list[(first + k) % total + 1] end
      end
    end
  end
  for i = #candidates, count + 1, -1 do candidates[i] = nil end
  return pack(candidates)
end

local budget = numwant
local peers4, peers6, got = '', '', 0
local want4, want6 = band(flags, 2) ~= 0, band(flags, 4) ~= 0
-- The announcer's own families first; the others take what numwant leaves.
if want4 and addr4 ~= '' then peers4, got = pick(s4, l4, ns4, nl4, addr4, budget, bits4, 6); budget = budget - got end
if want6 and addr6 ~= '' then peers6, got = pick(s6, l6, ns6, nl6, addr6, budget, bits6, 18); budget = budget - got end
if want4 and addr4 == '' then peers4, got = pick(s4, l4, ns4, nl4, '', budget, 0, 6); budget = budget - got end
if want6 and addr6 == '' then peers6 = pick(s6, l6, ns6, nl6, '', budget, 0, 18) end

-- A public answer stops at `snatched`: every element costs a conversion on both ends.
if not private then return { ns4 + ns6, nl4 + nl6, downloaded, peers4, peers6, '', snatched } end
return {
  ns4 + ns6, nl4 + nl6, downloaded, peers4, peers6,
  '', snatched, previous, terms and terms[3] or '', terms and terms[4] or '', terms and terms[5] or '', terms and terms[6] or '',
}
