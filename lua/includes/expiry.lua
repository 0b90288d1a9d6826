--[[ expiry: lazy expiry of one peer set, on touch.
Defines: expire(key)  removes the members of the peer set `key` last seen before staleBelow, and in
                      exact subnet mode the same members of its index.
Expects: exactSubnets, staleBelow (clock), indexKeyOf (subnet-index).
]]
--- @include "clock"
--- @include "subnet-index"
-- ZREM's members go through unpack(), whose stack is limited: so many at a time.
local ZREM_BATCH = 1000
local function expire(key)
  if exactSubnets then
    local gone = redis.call('ZRANGEBYSCORE', key, '-inf', staleBelow)
    if #gone > 0 then
      redis.call('ZREMRANGEBYSCORE', key, '-inf', staleBelow)
      for j = 1, #gone, ZREM_BATCH do
        redis.call('ZREM', indexKeyOf[key], unpack(gone, j, math.min(j + (ZREM_BATCH - 1), #gone)))
      end
    end
  else
    redis.call('ZREMRANGEBYSCORE', key, '-inf', staleBelow)
  end
end
