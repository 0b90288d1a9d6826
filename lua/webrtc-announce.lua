#!lua
--[[
webrtc-announce: one WebTorrent (WebRTC) peer's announce applied to its swarm's WebRTC sets,
atomically, in one round trip: access rules, lazy expiry (with the expired peers' routes), register or
refresh or remove the peer with the replica that holds its socket, count a snatch, count the swarm, and
pick the peers its offers go to, each with its replica. These sets are apart from the compact swarms
(lua/announce.lua): browsers and HTTP/UDP clients never meet.

The registry peer_id -> replica is the field of the peer in KEYS[3], in the swarm's own hash slot, so
the pick and the routes come back in this one reply, and it expires with the peer (and the key with
the swarm's last peer): a replica that died leaves no route behind for longer than peerTtl.

KEYS: <prefix>{<hex info hash>}:<suffix> (src/tracker/redis/webrtc.ts)
KEYS[1]  :ws  seeders   ZSET  member = peer_id (20 bytes), score = last announce (unix seconds)
KEYS[2]  :wl  leechers  ZSET  the same
KEYS[3]  :wr  routes    HASH  peer_id -> name of the replica holding its socket; "d" = snatches
KEYS[4]  :t   torrent   HASH  registration and list membership (read only, as announce.lua reads it)
ARGV[1]  peerId   20 bytes
ARGV[2]  replica  the announcer's replica
ARGV[3]  flags    1 seeder (left = 0), 2 only registered torrents, 4 only allow-listed torrents
ARGV[4]  event    0 none, 1 completed, 2 started, 3 stopped
ARGV[5]  numwant  peers to pick
ARGV[6]  peerTtl  seconds a peer lives after its last announce
Reply: { complete, incomplete, downloaded, refusal ("" or denied / not_allowed / unregistered),
         then for each picked peer: its peer_id, its replica }
]]
local seedersKey, leechersKey, routesKey, torrentKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local peerId, replica = ARGV[1], ARGV[2]
local flags, event, numwant, peerTtl = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local band = bit.band
local fmt = string.format

-- Access first: a refused announce changes nothing.
if band(flags, 6) ~= 0 then
  local terms = redis.call('HMGET', torrentKey, 'deny', 'allow', 'id')
  if terms[1] then return { 0, 0, 0, 'denied' } end
  if band(flags, 4) ~= 0 and not terms[2] then return { 0, 0, 0, 'not_allowed' } end
  if band(flags, 2) ~= 0 and not terms[3] then return { 0, 0, 0, 'unregistered' } end
elseif redis.call('HGET', torrentKey, 'deny') then
  return { 0, 0, 0, 'denied' }
end

local now = redis.call('TIME')[1]
local staleBelow = '(' .. fmt('%d', tonumber(now) - peerTtl)
-- Lazy expiry, at most 1000 a set per call (unpack's stack is limited); the rest go on later calls,
-- and the keys' own TTL takes an abandoned swarm whole.
local function expire(key)
  local gone = redis.call('ZRANGEBYSCORE', key, '-inf', staleBelow, 'LIMIT', 0, 1000)
  if #gone > 0 then
    redis.call('ZREM', key, unpack(gone))
    redis.call('HDEL', routesKey, unpack(gone))
  end
end
expire(seedersKey)
expire(leechersKey)

local wasSeeder = redis.call('ZSCORE', seedersKey, peerId) ~= false
local isSeeder = band(flags, 1) ~= 0 or event == 1
if event == 3 then
  redis.call('ZREM', seedersKey, peerId)
  redis.call('ZREM', leechersKey, peerId)
  redis.call('HDEL', routesKey, peerId)
else
  if isSeeder then
    redis.call('ZADD', seedersKey, now, peerId)
    if not wasSeeder then redis.call('ZREM', leechersKey, peerId) end
  else
    redis.call('ZADD', leechersKey, now, peerId)
    if wasSeeder then redis.call('ZREM', seedersKey, peerId) end
  end
  redis.call('HSET', routesKey, peerId, replica)
  if event == 1 and not wasSeeder then redis.call('HINCRBY', routesKey, 'd', 1) end
  local keyTtl = fmt('%d', peerTtl + 1)
  redis.call('EXPIRE', seedersKey, keyTtl)
  redis.call('EXPIRE', leechersKey, keyTtl)
  redis.call('EXPIRE', routesKey, keyTtl)
end

local reply = {
  redis.call('ZCARD', seedersKey),
  redis.call('ZCARD', leechersKey),
  tonumber(redis.call('HGET', routesKey, 'd') or '0'),
  '',
}
if event == 3 or numwant <= 0 then return reply end

-- Distinct random members (ZRANDMEMBER with a positive count), one more than needed in case the
-- announcer is among them. A seeder offers to leechers only; a leecher to seeders first.
local picked = {}
local function take(key, count)
  if count <= 0 then return end
  local members = redis.call('ZRANDMEMBER', key, count + 1)
  local taken = 0
  for i = 1, #members do
    if taken == count then break end
    if members[i] ~= peerId then
      picked[#picked + 1] = members[i]
      taken = taken + 1
    end
  end
end
if not isSeeder then take(seedersKey, numwant) end
take(leechersKey, numwant - #picked)
if #picked > 0 then
  local routes = redis.call('HMGET', routesKey, unpack(picked))
  for i = 1, #picked do
    if routes[i] then
      reply[#reply + 1] = picked[i]
      reply[#reply + 1] = routes[i]
    end
  end
end
return reply
