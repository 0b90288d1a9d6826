--[[ packed-copy: each small peer set's members also kept packed in one string, where peer
selection reads its windows.
Why: a window of a sorted set is a ZRANGE whose members Redis turns into Lua strings one by one and
table.concat joins again: 79.3k instructions for 50 members of a set of 100, against 7.5k for a
GETRANGE of the same 300 bytes of a string (callgrind, docs/architecture.md §6).
The copy of a peer set is a STRING, the set's key followed by PACKED_COPY_SUFFIX (public mode) or
PACKED_COPY_PRIVATE_SUFFIX (private mode, whose members carry the user id), so one hash tag and one
Cluster slot with its set, and a copy is only ever read with members of its own mode's length. It
holds every member of the set once, in no particular order, and exists only while the set's members
take at most PACKED_COPY_MAX_BYTES.
Kept exact by every change this script makes to the set: a new member is appended (when there is a
copy), a leaving one overwritten by the copy's last entry and the copy shortened. Anything else drops
the copy: more than PACKED_COPY_MAX_REMOVALS leaving at once, a leaving member not found in it, a copy
grown past the limit. A copy whose length is not the set's size times the entry size is never read:
the check that catches what no change here explains (a copy that expired, a switch between public and
private mode, leftovers of the other mode). Such a copy, or none, is rebuilt from the whole set (one
ZRANGE, at most PACKED_COPY_MAX_BYTES) by the next selection that wants it. A copy is built with its
set's TTL at that moment and keeps it (APPEND and SET KEEPTTL leave it): the set's TTL only grows, so a
copy never outlives its set, and is rebuilt at worst about once per peer TTL.
Defines: copyAdded(setKey, member)     after ZADD added `member` to the set
         copyRemoved(setKey, members)  after the list `members` left the set
         copyWindow(setKey, setSize, take, entrySize, mayBuild)   up to `take` entries of the set's
                                       copy from a random one on, wrapping around at the end, as one
                                       string (every entry, when take >= setSize); nil when there is
                                       no copy to read and none is built (mayBuild false, the set too
                                       large, members of another length): the caller reads the set
In a batch (memo), a copy read a second time in the batch is read whole, once, and its windows cut
in Lua; the copy remembered follows this script's changes (or is forgotten).
Expects: privateMode, fmt, peerKeyTtl (clock), memo (nil, or a batch's); math.randomseed already
called.
]]
--- @include "clock"
--- @include "entry-find"
-- 32 KiB: 5461 IPv4 peers in public mode. A leaving member costs a read and a write of the copy.
local PACKED_COPY_MAX_BYTES = 32768
local PACKED_COPY_MAX_REMOVALS = 16
local copySuffix = PACKED_COPY_SUFFIX
if privateMode then copySuffix = PACKED_COPY_PRIVATE_SUFFIX end
-- In a batch, each copy's key name is made once (a concatenation makes a new string, hashed).
local copyKeyOf = memo and memo.copyKeyOf[copySuffix]

local function copyAdded(setKey, member)
  local copyKey = copyKeyOf and copyKeyOf[setKey]
  if not copyKey then
    copyKey = setKey .. copySuffix
    if copyKeyOf then copyKeyOf[setKey] = copyKey end
  end
  if redis.call('EXISTS', copyKey) == 0 then return end
  if memo then memo.copies[copyKey] = nil end
  if redis.call('APPEND', copyKey, member) > PACKED_COPY_MAX_BYTES then redis.call('DEL', copyKey) end
end

local function copyRemoved(setKey, members)
  local copyKey = copyKeyOf and copyKeyOf[setKey]
  if not copyKey then
    copyKey = setKey .. copySuffix
    if copyKeyOf then copyKeyOf[setKey] = copyKey end
  end
  local copy = nil
  if memo then
    copy = memo.copies[copyKey]
    memo.copies[copyKey] = nil
  end
  if #members > PACKED_COPY_MAX_REMOVALS then
    redis.call('DEL', copyKey)
    return
  end
  if not copy then copy = redis.call('GET', copyKey) end
  if not copy then return end
  for i = 1, #members do
    local member = members[i]
    local size = #member
    local at = nil
    if #copy % size == 0 then at = entryWith(copy, member, size, 0, 1) end
    if not at then
      redis.call('DEL', copyKey)
      return
    end
    local lastAt = #copy - size + 1
    if at == lastAt then
      copy = string.sub(copy, 1, lastAt - 1)
    else
      copy = string.sub(copy, 1, at - 1) .. string.sub(copy, lastAt) .. string.sub(copy, at + size, lastAt - 1)
    end
  end
  if copy == '' then
    redis.call('DEL', copyKey)
  else
    redis.call('SET', copyKey, copy, 'KEEPTTL')
    if memo then memo.copies[copyKey] = copy end
  end
end

local function copyWindow(setKey, setSize, take, entrySize, mayBuild)
  local length = setSize * entrySize
  if length > PACKED_COPY_MAX_BYTES then return nil end
  local copyKey = copyKeyOf and copyKeyOf[setKey]
  if not copyKey then
    copyKey = setKey .. copySuffix
    if copyKeyOf then copyKeyOf[setKey] = copyKey end
  end
  local whole = nil
  if memo then
    whole = memo.copies[copyKey]
    if whole == nil and memo.copyRead[copyKey] then
      whole = redis.call('GET', copyKey)
      if whole then memo.copies[copyKey] = whole end
    end
    memo.copyRead[copyKey] = true
    if whole and #whole ~= length then whole = nil end
  end
  local stored = length
  if not whole then stored = redis.call('STRLEN', copyKey) end
  if stored ~= length then
    if not mayBuild then return nil end
    whole = table.concat(redis.call('ZRANGE', setKey, '0', '-1'))
    if #whole ~= length then
      if stored > 0 then redis.call('DEL', copyKey) end
      if memo then memo.copies[copyKey] = nil end
      return nil
    end
    -- The set's own TTL (this announce may not have written it), so that the copy expires first.
    local ttl = redis.call('PTTL', setKey)
    if ttl > 0 then redis.call('SET', copyKey, whole, 'PX', fmt('%d', ttl)) else redis.call('SET', copyKey, whole, 'EX', peerKeyTtl) end
    if memo then memo.copies[copyKey] = whole end
  end
  if take >= setSize then return whole or redis.call('GET', copyKey) end
  local start = math.random(0, setSize - 1) * entrySize
  local stop = start + take * entrySize
  if whole then
    if stop <= length then return string.sub(whole, start + 1, stop) end
    return string.sub(whole, start + 1) .. string.sub(whole, 1, stop - length)
  end
  if stop <= length then return redis.call('GETRANGE', copyKey, fmt('%d', start), fmt('%d', stop - 1)) end
  return redis.call('GETRANGE', copyKey, fmt('%d', start), '-1') .. redis.call('GETRANGE', copyKey, '0', fmt('%d', stop - length - 1))
end
