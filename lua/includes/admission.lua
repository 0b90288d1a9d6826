--[[ admission: admission control. A peer its family's swarm does not hold yet is not stored when
that swarm holds maxSwarmPeers peers already, or at all in degraded mode (FLAG_EXISTING_ONLY: Redis
refused writes for want of memory, and this script runs with allow-oom so that peers already stored
keep being refreshed, which takes no new memory). It is answered all the same.
Defines: notStored   true when the announcer was turned away in some family (the reply says
                     "not_stored")
         admitted    false when it is stored in no family: no snatch, no totals for it
Changes: announcer4, announcer6 to "" in a family where the announcer is not stored.
Expects: flags, band, stopped, maxSwarmPeers, the peer set keys, the constant FLAG_EXISTING_ONLY.
Costs nothing without a limit; with one, two ZCARDs (O(1)) per family; at the limit two ZSCOREs.
]]
local notStored = false
local existingOnly = band(flags, FLAG_EXISTING_ONLY) ~= 0
if (maxSwarmPeers > 0 or existingOnly) and not stopped then
  local function admit(member, seedersKey, leechersKey)
    if member == '' then return member end
    if not existingOnly and redis.call('ZCARD', seedersKey) + redis.call('ZCARD', leechersKey) < maxSwarmPeers then return member end
    if redis.call('ZSCORE', seedersKey, member) or redis.call('ZSCORE', leechersKey, member) then return member end
    notStored = true
    return ''
  end
  announcer4 = admit(announcer4, seeders4Key, leechers4Key)
  announcer6 = admit(announcer6, seeders6Key, leechers6Key)
end
local admitted = announcer4 ~= '' or announcer6 ~= ''
