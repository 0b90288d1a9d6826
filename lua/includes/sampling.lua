--[[ sampling: the general way of peer selection: exact subnet mode, subnet ordering, leftover members.
Defines: pickedEntrySize     the entry length of the family being picked (set by the caller, pick())
         defineGeneralWay()  defines the functions below (nil until then: each closure costs an
                             allocation, and garbage, on every call, and most calls need none):
           keep(members, count, self, chosen, out)       appends up to `count` of `members` to `out`
           sample(key, setSize, count, self, chosen, out)  up to `count` members of a random window
           sampleRange(indexKey, lo, hi, count, self, chosen, out)  the same within a prefix range of
                                                         an index (exact subnet mode)
           prefixRange(address, bits)                    the index range of a prefix
           samePrefix(a, b, bits)                        whether two addresses share a prefix
           pack(members)                                 the answer's entries, packed, and how many
Expects: privateMode, excludeOwn, userId, band, the constant USER_ID_SIZE.
]]
--- @include "window"
local keep, sample, sampleRange, prefixRange, samePrefix, pack
local pickedEntrySize = 0
local function defineGeneralWay()
  -- Appends up to `count` of `members` to `out`, from a random one of those it may take on, around
  -- (see window()). It skips `self`, in private mode the announcer's own user's peers, members of
  -- the wrong length (leftovers of a switch between public and private mode), and in exact mode
  -- members already in `chosen` (only there can one set be drawn from twice; seeders and leechers
  -- never share a member, and one window never repeats one).
  keep = function(members, count, self, chosen, out)
    local eligible = {}
    local size = pickedEntrySize
    for i = 1, #members do
      local member = members[i]
      if #member == size and member ~= self and not (excludeOwn and string.sub(member, -USER_ID_SIZE) == userId) and not (chosen and chosen[member]) then
        eligible[#eligible + 1] = member
      end
    end
    local total = #eligible
    if total == 0 or count <= 0 then return 0 end
    local first = math.random(0, total - 1)
    local added = math.min(count, total)
    for k = 0, added - 1 do
      local member = eligible[(first + k) % total + 1]
      out[#out + 1] = member
      if chosen then
        chosen[member] = true
        chosen.size = chosen.size + 1
      end
    end
    return added
  end

  -- Appends up to `count` members of `key` (of setSize members) from a random window to `out`.
  sample = function(key, setSize, count, self, chosen, out)
    if count <= 0 or setSize == 0 then return end
    -- Draw just enough for what keep() may skip.
    local take = count
    if chosen then take = take + chosen.size end
    if privateMode then take = take + OWN_PEERS_EXTRA elseif self ~= '' then take = take + 1 end
    local a, b = window(key, setSize, take)
    if b then
      for i = 1, #b do a[#a + 1] = b[i] end
    end
    keep(a, count, self, chosen, out)
  end

  -- Exact mode: up to `count` random members of the index `indexKey` within the prefix range [lo, hi].
  sampleRange = function(indexKey, lo, hi, count, self, chosen, out)
    if count <= 0 then return end
    local inRange = redis.call('ZLEXCOUNT', indexKey, lo, hi)
    if inRange == 0 then return end
    local take = count + 1
    if privateMode then take = take + OWN_PEERS_EXTRA end
    if take >= inRange then
      keep(redis.call('ZRANGEBYLEX', indexKey, lo, hi), count, self, chosen, out)
      return
    end
    -- A window from a random member of the range on, around, as window() does.
    local start = math.random(0, inRange - 1)
    local members = redis.call('ZRANGEBYLEX', indexKey, lo, hi, 'LIMIT', start, take)
    if start + take > inRange then
      local rest = redis.call('ZRANGEBYLEX', indexKey, lo, hi, 'LIMIT', 0, start + take - inRange)
      for i = 1, #rest do members[#members + 1] = rest[i] end
    end
    keep(members, count, self, chosen, out)
  end

  -- The index range of addresses sharing the first `bits` bits of `address`.
  prefixRange = function(address, bits)
    local whole = math.floor(bits / 8)
    local low = string.sub(address, 1, whole)
    local high = low
    local rest = bits % 8
    if rest > 0 then
      local mask = 256 - 2 ^ (8 - rest)
      local byte = band(string.byte(address, whole + 1), mask)
      low = low .. string.char(byte)
      high = high .. string.char(byte + 255 - mask)
    end
    return '[' .. low, '[' .. high .. string.rep('\255', #address - #high)
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
