--[[ totals: private mode's per-peer totals, swapped for the reported ones.
Defines: previousTotals   the peer's last reported "uploaded:downloaded", "" when unknown (or in
                          public mode)
Changes: snatched, to what the first run answered, when this is a retry of an announce already applied.
Expects: privateMode, userId, stopped, admitted (admission), now, staleBelow, peerKeyTtl (clock), the
         constants ARGV_PEER_ID, ARGV_TOTALS, ARGV_RECORD_ID.
The totals hash (KEYS[#KEYS - 1]) maps userId .. peer_id to
  "uploaded:downloaded#record id#previous totals#snatched"
and its ages (KEYS[#KEYS], a ZSET of the same fields, score = last announce) let stale ones expire with
the peers, a bounded number per call. A retry of the same call (same record id, after a reply lost to a
broken connection) finds its record stored and answers as the first run did.
]]
--- @include "clock"
-- Stale totals removed per call, at most.
local STALE_TOTALS_PER_CALL = 64
local previousTotals = ''
if privateMode and admitted then
  local totalsKey, totalsAgesKey = KEYS[#KEYS - 1], KEYS[#KEYS]
  local recordId = ARGV[ARGV_RECORD_ID]
  local staleFields = redis.call('ZRANGEBYSCORE', totalsAgesKey, '-inf', staleBelow, 'LIMIT', 0, STALE_TOTALS_PER_CALL)
  if #staleFields > 0 then
    redis.call('HDEL', totalsKey, unpack(staleFields))
    redis.call('ZREM', totalsAgesKey, unpack(staleFields))
  end
  local field = userId .. ARGV[ARGV_PEER_ID]
  local stored = redis.call('HGET', totalsKey, field)
  local retried = false
  if stored then
    local mark = string.find(stored, '#', 1, true)
    if mark then
      local storedRecordId, storedPrevious, storedSnatched = string.match(string.sub(stored, mark + 1), '^([^#]*)#([^#]*)#([01])$')
      if recordId ~= '' and storedRecordId == recordId then
        -- The same announce again: its first run swapped the totals and counted the snatch already.
        retried = true
        previousTotals = storedPrevious
        snatched = tonumber(storedSnatched)
      else
        previousTotals = string.sub(stored, 1, mark - 1)
      end
    else
      previousTotals = stored
    end
  end
  if stopped then
    redis.call('HDEL', totalsKey, field)
    redis.call('ZREM', totalsAgesKey, field)
  elseif not retried then
    redis.call('HSET', totalsKey, field, ARGV[ARGV_TOTALS] .. '#' .. recordId .. '#' .. previousTotals .. '#' .. snatched)
    redis.call('ZADD', totalsAgesKey, now, field)
    redis.call('EXPIRE', totalsKey, peerKeyTtl)
    redis.call('EXPIRE', totalsAgesKey, peerKeyTtl)
  end
end
