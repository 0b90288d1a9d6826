--[[ expiry: lazy expiry of one peer set, on touch.
Defines: expire(key)  removes the members of the peer set `key` last seen before staleBelow, from its
                      packed copy too (packed-copy), and in exact subnet mode from its index.
Expects: exactSubnets, staleBelow (clock), indexKeyOf (subnet-index), memo (nil, or a batch's: a set is
         expired once per batch, as staleBelow is the same for all and what comes later is fresh),
         what packed-copy expects.
Outside exact subnet mode only the first few stale members are read (one more than a copy takes out
one by one): more than that drops the copy, and a mass expiry of a large set builds no large list.
]]
--- @include "clock"
--- @include "subnet-index"
--- @include "packed-copy"
-- ZREM's members go through unpack(), whose stack is limited: so many at a time.
local ZREM_BATCH = 1000
local function expire(key)
  if memo then
    if memo.expired[key] then return end
    memo.expired[key] = true
    memo.cards[key] = nil
  end
  if exactSubnets then
    local gone = redis.call('ZRANGEBYSCORE', key, '-inf', staleBelow)
    if #gone > 0 then
      redis.call('ZREMRANGEBYSCORE', key, '-inf', staleBelow)
      copyRemoved(key, gone)
      for j = 1, #gone, ZREM_BATCH do
        redis.call('ZREM', indexKeyOf[key], unpack(gone, j, math.min(j + (ZREM_BATCH - 1), #gone)))
      end
    end
  else
    -- '17': PACKED_COPY_MAX_REMOVALS + 1, as a string (a number would be formatted on every call).
    local gone = redis.call('ZRANGEBYSCORE', key, '-inf', staleBelow, 'LIMIT', '0', '17')
    if #gone > 0 then
      redis.call('ZREMRANGEBYSCORE', key, '-inf', staleBelow)
      copyRemoved(key, gone)
    end
  end
end
