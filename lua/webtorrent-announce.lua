#!lua
--[[
webtorrent-announce: one WebTorrent (WebRTC) peer's announce applied to its swarm's WebRTC sets,
atomically, in one round trip: access rules, lazy expiry (with the expired peers' routes), register or
refresh or remove the peer with the replica that holds its socket, count a snatch, count the swarm, and
pick the peers its offers go to, each with its replica. These sets are apart from the compact swarms
(lua/announce.lua): browsers and HTTP/UDP clients never meet. Access rules and private mode's totals
are announce.lua's own pieces (lua/includes/access.lua, private-peer.lua, totals.lua); a hybrid
torrent's v2 hash is a WebRTC swarm of its own (no hybrid.lua).

Assembled at start-up by src/store/redis/scripts.ts as announce.lua is: KEY_<NAME> is a position in
this command's KEYS (WEBTORRENT_KEYS in src/store/redis/keys.ts), FLAG_* and EVENT_* are protocol.ts'.

The registry peer_id -> replica is the field of the peer in KEYS[3], in the swarm's own hash slot, so
the pick and the routes come back in this one reply, and it expires with the peer (and the key with
the swarm's last peer): a replica that died leaves no route behind for longer than peerTtl.
Expiry is this command's own: its sets have no packed copies nor subnet indexes (lua/includes/expiry.lua
keeps those), and an expired peer's route goes with it.

In private mode the announce also swaps the peer's reported totals (lua/includes/private-peer.lua and
totals.lua, the very pieces and keys of announce.lua): one set of totals per (user, torrent, peer_id),
so a client announcing one peer_id over HTTP/UDP and WebSocket is credited once, and one snatch per
torrent. The totals live as long as compact peers do (ARGV[11]), not as WebRTC peers (ARGV[6]).

KEYS: <prefix>{<hex info hash>}:<suffix> (keys.ts webTorrentKeys, then totalsKeys); 4 keys, 6 in private mode
KEYS[1]        :ws  seeders     ZSET  member = peer_id (20 bytes), score = last announce (unix seconds)
KEYS[2]        :wl  leechers    ZSET  the same
KEYS[3]        :wr  routes      HASH  peer_id -> name of the replica holding its socket; "d" = snatches
KEYS[4]        :t   torrent     HASH  registration and list membership (read only, as announce.lua reads it)
KEYS[#KEYS-1]  :p   totals      HASH  private mode only: announce.lua's (lua/includes/totals.lua)
KEYS[#KEYS]    :pa  totalsAges  ZSET  private mode only: the same fields, score = last announce
ARGV[1]  peerId          20 bytes
ARGV[2]  replica         the announcer's replica
ARGV[3]  flags           the compact announce's bits (protocol.ts): FLAG_SEEDER (left = 0),
                         FLAG_REQUIRE_REGISTERED, FLAG_REQUIRE_ALLOWED
ARGV[4]  event           EVENT_NONE, EVENT_COMPLETED, EVENT_STARTED, EVENT_STOPPED (protocol.ts)
ARGV[5]  numwant         peers to pick
ARGV[6]  peerTtl         seconds a WebRTC peer lives after its last announce
ARGV[7]  userId          private mode only: the user id (4 bytes, big-endian)
ARGV[8]  totals          private mode only: the totals reported now, "uploaded:downloaded"
ARGV[9]  recordId        private mode only: this announce's accounting record id
ARGV[10] peerLimit       private mode only: most peers one user may run on the torrent, "0": no limit
ARGV[11] totalsTtl       private mode only: seconds the totals live after the last announce (peer_ttl)
Reply: { complete, incomplete, downloaded, refusal ("" or denied / not_allowed / unregistered /
         peer_limit; a refusal ends the reply), in private mode then snatched (0/1), previousTotals
         ("uploaded:downloaded" as last reported, "" when unknown, then "#" and the session, as
         announce.lua's), torrentId, upMultiplier,
         downMultiplier, freeleech, then for each picked peer: its peer_id, its replica }
]]
--- @include "constants"
local seedersKey, leechersKey, routesKey = KEYS[KEY_SEEDERS], KEYS[KEY_LEECHERS], KEYS[KEY_ROUTES]
local peerId, replica = ARGV[1], ARGV[2]
local flags, event, numwant, webTorrentPeerTtl = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
-- Private mode's arguments, as the shared pieces private-peer and totals expect them.
local userId = ARGV[7] or ''
local privateMode = userId ~= ''
-- The clock's peerTtl is the totals' lifetime (they are the compact swarms' too); the WebRTC sets
-- expire by webTorrentPeerTtl.
local peerTtl, reportedTotals, recordId, peerLimit = webTorrentPeerTtl
if privateMode then reportedTotals, recordId, peerLimit, peerTtl = ARGV[8], ARGV[9], ARGV[10], tonumber(ARGV[11]) end
local stopped = event == EVENT_STOPPED
local band = bit.band
local fmt = string.format

-- Access first: a refused announce changes nothing (no batch here: nothing is remembered across calls).
local memo = nil
--- @include "access"
if accessRefusal then return { 0, 0, 0, accessRefusal } end

--- @include "clock"
-- Private mode: the announcer's stored totals, and the per-user peer limit (a refusal changes nothing).
--- @include "private-peer"
if overPeerLimit then return { 0, 0, 0, 'peer_limit' } end

-- The WebRTC sets' bound and key TTL: the clock's own in public mode, where both TTLs are one.
local webTorrentStaleBelow, webTorrentKeyTtl = staleBelow, peerKeyTtl
if privateMode then webTorrentStaleBelow, webTorrentKeyTtl = '(' .. fmt('%d', tonumber(now) - webTorrentPeerTtl), fmt('%d', webTorrentPeerTtl + 1) end
-- Lazy expiry, at most 1000 a set per call (unpack's stack is limited); the rest go on later calls,
-- and the keys' own TTL takes an abandoned swarm whole.
local function expire(key)
  local gone = redis.call('ZRANGEBYSCORE', key, '-inf', webTorrentStaleBelow, 'LIMIT', 0, 1000)
  if #gone > 0 then
    redis.call('ZREM', key, unpack(gone))
    redis.call('HDEL', routesKey, unpack(gone))
  end
end
expire(seedersKey)
expire(leechersKey)

local wasSeeder = redis.call('ZSCORE', seedersKey, peerId) ~= false
local isSeeder = band(flags, FLAG_SEEDER) ~= 0 or event == EVENT_COMPLETED
-- 1 when this announce counts a snatch: a private peer counts one per torrent, in whichever swarm.
local snatched = 0
if stopped then
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
  if event == EVENT_COMPLETED and not wasSeeder and not completedBefore then
    redis.call('HINCRBY', routesKey, 'd', 1)
    snatched = 1
  end
  redis.call('EXPIRE', seedersKey, webTorrentKeyTtl)
  redis.call('EXPIRE', leechersKey, webTorrentKeyTtl)
  redis.call('EXPIRE', routesKey, webTorrentKeyTtl)
end
-- WebRTC peers have no admission control: the totals are always written.
local admitted = true
--- @include "totals"

local reply = {
  redis.call('ZCARD', seedersKey),
  redis.call('ZCARD', leechersKey),
  tonumber(redis.call('HGET', routesKey, 'd') or '0'),
  '',
}
if privateMode then
  reply[5] = snatched
  reply[6] = sessionReply
  local t = torrentTerms or {}
  reply[7], reply[8], reply[9], reply[10] = t[3] or '', t[4] or '', t[5] or '', t[6] or ''
end
if stopped or numwant <= 0 then return reply end

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
