#!lua flags=no-writes
--[[
scrape: live counts of one swarm. Read-only, so it may run on a replica.

KEYS[1]  seeders, IPv4     ZSET (see announce.lua)
KEYS[2]  leechers, IPv4    ZSET
KEYS[3]  seeders, IPv6     ZSET
KEYS[4]  leechers, IPv6    ZSET
KEYS[5]  snatches          HASH  field "d" = snatches
ARGV[1]  peer TTL, seconds
Reply: { complete, incomplete, downloaded }
]]
-- Live as announce.lua counts them: last seen (whole seconds) no earlier than TTL seconds before now.
local live = tonumber(redis.call('TIME')[1]) - tonumber(ARGV[1])
local function count(key)
  return redis.call('ZCOUNT', key, live, '+inf')
end
return {
  count(KEYS[1]) + count(KEYS[3]),
  count(KEYS[2]) + count(KEYS[4]),
  tonumber(redis.call('HGET', KEYS[5], 'd') or '0'),
}
