#!lua flags=no-writes
--[[
scrape: live counts of one swarm. Read-only, so it may run on a replica.

KEYS[1]  seeders, IPv4     ZSET (see announce.lua)
KEYS[2]  leechers, IPv4    ZSET
KEYS[3]  seeders, IPv6     ZSET
KEYS[4]  leechers, IPv6    ZSET
KEYS[5]  torrent           HASH  field "d" = snatches
ARGV[1]  peer TTL, seconds
Reply: { complete, incomplete, downloaded }
]]
local time = redis.call('TIME')
-- Live as announce.lua counts them: last seen (whole seconds) within the TTL plus a second.
local cutoff = tonumber(time[1]) + tonumber(time[2]) / 1000000 - tonumber(ARGV[1]) - 1
local function live(key)
  return redis.call('ZCOUNT', key, cutoff, '+inf')
end
return {
  live(KEYS[1]) + live(KEYS[3]),
  live(KEYS[2]) + live(KEYS[4]),
  tonumber(redis.call('HGET', KEYS[5], 'd') or '0'),
}
