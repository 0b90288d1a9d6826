#!lua flags=no-writes
--[[
scrape: live counts of one swarm. Read-only, so it may run on a replica.

Assembled into one script at start-up by src/store/redis/scripts.ts, which puts the key positions
KEY_<NAME> of src/store/redis/keys.ts where they are used (see announce.lua).

KEYS: <prefix>{<hex info hash>}:<suffix>, the first six of announce's (see announce.lua; a hybrid
torrent's v2 hash: its peer sets in its torrent's slot, and the torrent's other keys):
KEYS[1]  :s4  seeders4   ZSET  member = compact address (+ user id), score = last announce
KEYS[2]  :l4  leechers4  ZSET
KEYS[3]  :s6  seeders6   ZSET
KEYS[4]  :l6  leechers6  ZSET
KEYS[5]  :m   snatches   HASH  field "d" = snatches
KEYS[6]  :t   torrent    HASH  field "of" = the torrent's hex info hash when this is its v2 hash
ARGV[1]  peerTtl  seconds a peer lives after its last announce
Reply: { complete, incomplete, downloaded, of } (of: "" unless the hash scraped is a registered hybrid
torrent's v2 hash with the keys of its own slot: then the store scrapes again in the torrent's slot)
]]
--- @include "constants"
-- Live as announce.lua counts them: last seen (whole seconds) no earlier than peerTtl seconds before now.
local live = tonumber(redis.call('TIME')[1]) - tonumber(ARGV[1])
local function count(key)
  return redis.call('ZCOUNT', key, live, '+inf')
end
return {
  count(KEYS[KEY_SEEDERS4]) + count(KEYS[KEY_SEEDERS6]),
  count(KEYS[KEY_LEECHERS4]) + count(KEYS[KEY_LEECHERS6]),
  tonumber(redis.call('HGET', KEYS[KEY_SNATCHES], 'd') or '0'),
  redis.call('HGET', KEYS[KEY_TORRENT], 'of') or '',
}
