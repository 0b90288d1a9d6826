--[[ min-interval: an announce without an event sooner than min interval changes nothing.
Returns the reply { complete, incomplete, downloaded, peers4, peers6, "too_soon" } when the announcer's last
written announce is less than minInterval seconds old (one second of grace: scores are whole
seconds), before anything is written for it; otherwise goes on.
Expects: minInterval, event, isSeeder, announcer4, announcer6, the peer set keys, snatchesKey,
         ipv4InUse, ipv6InUse, now (clock), pick (selection), flags, band, numwant, subnet4Bits,
         subnet6Bits, the constants EVENT_NONE, FLAG_WANT4, FLAG_WANT6, ADDRESS4_SIZE, ADDRESS6_SIZE.
Its last announce is its score in the set of its state (seeder or leecher), so a change of state is
never too soon. One ZSCORE, only for an announce without an event while the check is on. Peers of
that family are picked as for any announce, read only (a client that asks early usually lacks peers;
budgets cap the cost), as every driver answers.
]]
--- @include "clock"
if minInterval > 0 and event == EVENT_NONE then
  local member, ownKey = announcer4, leechers4Key
  if isSeeder then ownKey = seeders4Key end
  if member == '' then
    member, ownKey = announcer6, leechers6Key
    if isSeeder then ownKey = seeders6Key end
  end
  local score = redis.call('ZSCORE', ownKey, member)
  if score and tonumber(now) - tonumber(score) < minInterval - 1 then
    local s4, l4, s6, l6 = 0, 0, 0, 0
    if ipv4InUse then s4, l4 = redis.call('ZCARD', seeders4Key), redis.call('ZCARD', leechers4Key) end
    if ipv6InUse then s6, l6 = redis.call('ZCARD', seeders6Key), redis.call('ZCARD', leechers6Key) end
    -- Peers of the family whose set told the time (as the memory driver answers), through pick itself:
    -- a helper function, a closure made on every call, costs every announce (measured: docs/performance.md).
    local early4, early6 = '', ''
    if announcer4 ~= '' then
      if band(flags, FLAG_WANT4) ~= 0 then early4 = pick(seeders4Key, leechers4Key, s4, l4, announcer4, numwant, subnet4Bits, ADDRESS4_SIZE) end
    elseif band(flags, FLAG_WANT6) ~= 0 then
      early6 = pick(seeders6Key, leechers6Key, s6, l6, announcer6, numwant, subnet6Bits, ADDRESS6_SIZE)
    end
    return { s4 + s6, l4 + l6, tonumber(redis.call('HGET', snatchesKey, 'd') or '0'), early4, early6, 'too_soon' }
  end
end
