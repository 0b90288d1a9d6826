--[[ membership: the announcer written into, moved between or removed from its family's peer sets.
Defines: wasSeeder   whether the announcer was in a seeders set before this announce (set by register)
         register(member, seedersKey, leechersKey)   applies the announce to one family's sets; does
                     nothing for member "" (the announcer is not in that family)
Expects: now, peerKeyTtl (clock), stopped, isSeeder, exactSubnets, indexKeyOf (subnet-index), what
         packed-copy expects (each set's packed copy follows its changes), memo (nil, or a batch's:
         its counts follow the changes; a set's TTL, the same for the whole batch, is set once,
         again only for a set new since; its family is in use).
A member is in at most one of its family's two sets. So a write that finds the member already in its
set (ZADD answers 0, the common re-announce) needs no ZREM from the other, and the writes' answers say
what a separate read would have: whether the announcer was a seeder.
]]
--- @include "clock"
--- @include "subnet-index"
--- @include "packed-copy"
local wasSeeder = false
local function register(member, seedersKey, leechersKey)
  if member == '' then return end
  if stopped then
    if redis.call('ZREM', seedersKey, member) == 1 then
      wasSeeder = true
      if memo then memo.counted(seedersKey, -1) end
      copyRemoved(seedersKey, { member })
      if exactSubnets then redis.call('ZREM', indexKeyOf[seedersKey], member) end
    elseif redis.call('ZREM', leechersKey, member) == 1 then
      if memo then memo.counted(leechersKey, -1) end
      copyRemoved(leechersKey, { member })
      if exactSubnets then redis.call('ZREM', indexKeyOf[leechersKey], member) end
    end
    return
  end
  local own, other = leechersKey, seedersKey
  if isSeeder then own, other = seedersKey, leechersKey end
  local new = redis.call('ZADD', own, now, member) == 1
  local moved = new and redis.call('ZREM', other, member) == 1
  if not memo then
    redis.call('EXPIRE', own, peerKeyTtl)
  else
    memo.inUse[seedersKey] = true
    if new or not memo.ttl[own] then
      redis.call('EXPIRE', own, peerKeyTtl)
      memo.ttl[own] = true
    end
    if new then memo.counted(own, 1) end
    if moved then memo.counted(other, -1) end
  end
  if new then copyAdded(own, member) end
  if moved then copyRemoved(other, { member }) end
  if exactSubnets then
    -- Every time, not only for a new member: peers that were there before subnet_index was turned
    -- on join the index at their next announce.
    redis.call('ZADD', indexKeyOf[own], 0, member)
    redis.call('EXPIRE', indexKeyOf[own], peerKeyTtl)
    if moved then redis.call('ZREM', indexKeyOf[other], member) end
  end
  if isSeeder then
    if not new then wasSeeder = true end
  elseif moved then
    wasSeeder = true
  end
end
