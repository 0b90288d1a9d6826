#!lua flags=no-writes
--[[
webrtc-scrape: live counts of one swarm's WebRTC sets (see webrtc-announce.lua). Read-only.
KEYS[1]  :ws  seeders   ZSET
KEYS[2]  :wl  leechers  ZSET
KEYS[3]  :wr  routes    HASH  "d" = snatches
ARGV[1]  peerTtl
Reply: { complete, incomplete, downloaded }
]]
local live = tonumber(redis.call('TIME')[1]) - tonumber(ARGV[1])
return {
  redis.call('ZCOUNT', KEYS[1], live, '+inf'),
  redis.call('ZCOUNT', KEYS[2], live, '+inf'),
  tonumber(redis.call('HGET', KEYS[3], 'd') or '0'),
}
