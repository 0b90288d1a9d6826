--[[ private-peer: what the torrent knows of a private announcer, read before anything changes.
Defines: totalsKey, totalsAgesKey   the torrent's totals hash and its ages (private mode; nil otherwise)
         totalsField                userId .. peer_id, the peer's field in both
         storedTotals               the peer's stored value ("uploaded:downloaded#record id#previous
                                    totals#snatched#completed"), nil when unknown
         completedBefore            the peer has counted its snatch of this torrent already (on either
                                    swarm of a hybrid torrent): it counts no other
         overPeerLimit              true for a peer new to the torrent whose user already runs
                                    peerLimit peers on it (0: no limit): the command returns its refusal
                                    "peer_limit" (nothing changed but expiry)
Expects: privateMode, userId, peerId, peerLimit (the command's arguments, read where its ARGV has them:
         announce.lua and webtorrent-announce.lua share this piece), stopped, staleBelow (clock), memo (nil,
         or a batch's: the stale totals are swept once per batch and key when one sweep took them all,
         as staleBelow is the same for the whole batch and what the batch writes is fresh; a sweep that
         removes fields may delete the hash, so the TTLs set of both keys are forgotten).
The totals are kept per torrent, not per announced hash: a hybrid torrent's two swarms live in one hash
slot and share them, so the second announce of a pair finds the first one's totals (nothing to credit
twice) and a peer counts once against its user's limit. The totals hash also counts each user's peers
in a field of its own, the 4-byte user id (never a peer's field, which is 24 bytes or more): written
only when a peer comes, goes or expires, not on a re-announce.
]]
--- @include "clock"
-- Stale totals removed per call, at most.
local STALE_TOTALS_PER_CALL = 64
local totalsKey, totalsAgesKey, totalsField, storedTotals
local completedBefore, overPeerLimit = false, false
if privateMode then
  totalsKey, totalsAgesKey = KEYS[#KEYS - 1], KEYS[#KEYS]
  totalsField = userId .. peerId
  if not (memo and memo.swept[totalsAgesKey]) then
    -- '64': STALE_TOTALS_PER_CALL as a string (a number would be formatted on every call).
    local staleFields = redis.call('ZRANGEBYSCORE', totalsAgesKey, '-inf', staleBelow, 'LIMIT', '0', '64')
    if #staleFields > 0 then
      redis.call('HDEL', totalsKey, unpack(staleFields))
      redis.call('ZREM', totalsAgesKey, unpack(staleFields))
      for i = 1, #staleFields do
        local owner = string.sub(staleFields[i], 1, USER_ID_SIZE)
        if redis.call('HINCRBY', totalsKey, owner, -1) <= 0 then redis.call('HDEL', totalsKey, owner) end
      end
      if memo then memo.ttl[totalsKey], memo.ttl[totalsAgesKey] = nil, nil end
    end
    if memo and #staleFields < STALE_TOTALS_PER_CALL then memo.swept[totalsAgesKey] = true end
  end
  storedTotals = redis.call('HGET', totalsKey, totalsField)
  if storedTotals then
    completedBefore = string.sub(storedTotals, -2) == '#1'
  elseif not stopped then
    local limit = tonumber(peerLimit or '0')
    overPeerLimit = limit > 0 and tonumber(redis.call('HGET', totalsKey, userId) or '0') >= limit
  end
end
