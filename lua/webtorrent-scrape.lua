#!lua flags=no-writes
--[[
webtorrent-scrape: live counts of one swarm's WebRTC sets (see webtorrent-announce.lua). Read-only, so it may
run on a replica.

Assembled at start-up by src/store/redis/scripts.ts, which puts the positions KEY_<NAME> of this
command's KEYS (WEBTORRENT_KEYS in src/store/redis/keys.ts) where they are used.

KEYS: <prefix>{<hex info hash>}:<suffix>, the first three of webtorrent-announce's (keys.ts webTorrentKeys):
KEYS[1]  :ws  seeders   ZSET  member = peer_id, score = last announce
KEYS[2]  :wl  leechers  ZSET
KEYS[3]  :wr  routes    HASH  field "d" = snatches
ARGV[1]  peerTtl  seconds a WebRTC peer lives after its last announce
Reply: { complete, incomplete, downloaded }
]]
--- @include "constants"
-- Live as webtorrent-announce.lua counts them: last seen (whole seconds) no earlier than peerTtl seconds before now.
local live = tonumber(redis.call('TIME')[1]) - tonumber(ARGV[1])
return {
  redis.call('ZCOUNT', KEYS[KEY_SEEDERS], live, '+inf'),
  redis.call('ZCOUNT', KEYS[KEY_LEECHERS], live, '+inf'),
  tonumber(redis.call('HGET', KEYS[KEY_ROUTES], 'd') or '0'),
}
