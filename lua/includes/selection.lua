--[[ selection: the peers of one family for the answer.
Defines: pick(seedersKey, leechersKey, seederCount, leecherCount, self, count, prefixBits, addressSize)
           up to `count` peers of one family, packed, and how many. Seeders first for a leecher,
           leechers only for a seeder; none on stopped. `self` is the announcer's member in this
           family ("" when it is not in it), `prefixBits` the prefix length of same-subnet-first
           ordering (0: none). Same-subnet first: in exact subnet mode by the prefix range of the
           indexes, otherwise by over-sampling SUBNET_OVERSAMPLING times and putting near peers first.
Expects: privateMode, stopped, isSeeder, exactSubnets, indexKeyOf (subnet-index), the constants
         USER_ID_SIZE and SUBNET_OVERSAMPLING.
]]
--- @include "packed-window"
--- @include "sampling"
--- @include "subnet-index"
local function pick(seedersKey, leechersKey, seederCount, leecherCount, self, count, prefixBits, addressSize)
  if count <= 0 or stopped then return '', 0 end
  local grouping = prefixBits > 0 and self ~= ''
  local selfAmongLeechers = ''
  if not isSeeder then selfAmongLeechers = self end
  local entrySize = addressSize
  if privateMode then entrySize = addressSize + USER_ID_SIZE end
  if not exactSubnets and not grouping then
    local fromSeeders = ''
    if not isSeeder then fromSeeders = packedWindow(seedersKey, seederCount, count, '', addressSize) end
    if fromSeeders then
      local fromLeechers = packedWindow(leechersKey, leecherCount, count - #fromSeeders / entrySize, selfAmongLeechers, addressSize)
      if fromLeechers then
        local packed = fromSeeders .. fromLeechers
        return packed, #packed / entrySize
      end
    end
  end
  if not keep then defineGeneralWay() end
  pickedEntrySize = entrySize
  local chosen = nil
  if exactSubnets then chosen = { size = 0 } end
  local candidates = {}
  if grouping and exactSubnets then
    local lo, hi = prefixRange(self, prefixBits)
    if not isSeeder then sampleRange(indexKeyOf[seedersKey], lo, hi, count, '', chosen, candidates) end
    sampleRange(indexKeyOf[leechersKey], lo, hi, count - #candidates, selfAmongLeechers, chosen, candidates)
    if not isSeeder then sample(seedersKey, seederCount, count - #candidates, '', chosen, candidates) end
    sample(leechersKey, leecherCount, count - #candidates, selfAmongLeechers, chosen, candidates)
    return pack(candidates)
  end
  local draw = count
  if grouping then draw = count * SUBNET_OVERSAMPLING end
  if not isSeeder then sample(seedersKey, seederCount, draw, '', chosen, candidates) end
  local seeders = #candidates
  sample(leechersKey, leecherCount, draw - #candidates, selfAmongLeechers, chosen, candidates)
  if grouping then
    -- Near seeders, near leechers, far seeders, far leechers; each list from a random one of its
    -- members on: in window order, the peer that follows the window's start most closely would win
    -- the cut most of the time.
    local lists = { {}, {}, {}, {} }
    for i = 1, #candidates do
      local list = 1
      if not samePrefix(candidates[i], self, prefixBits) then list = 3 end
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
