--[[ totals: private mode's per-peer totals, swapped for the reported ones.
Defines: previousTotals   the peer's last reported "uploaded:downloaded", "" when unknown (or in
                          public mode)
Changes: snatched, to what the first run answered, when this is a retry of an announce already applied.
Expects: privateMode, userId, reportedTotals ("uploaded:downloaded"), recordId (the command's
         arguments), stopped, admitted (admission), now, peerKeyTtl (clock), totalsKey, totalsAgesKey,
         totalsField, storedTotals, completedBefore (private-peer), snatched (snatches: 0 or 1).
The torrent's totals hash maps userId .. peer_id to
  "uploaded:downloaded#record id#previous totals#snatched#completed"
("completed": the peer has counted its snatch of the torrent) and its ages (a ZSET of the same fields,
score = last announce) let stale ones expire with the peers (private-peer). A retry of the same call
(same record id, after a reply lost to a broken connection) finds its record stored and answers as the
first run did. Each user's peer count (field: the user id) follows the fields that come and go.
]]
--- @include "clock"
--- @include "private-peer"
local previousTotals = ''
if privateMode and admitted then
  local retried = false
  if storedTotals then
    local mark = string.find(storedTotals, '#', 1, true)
    if mark then
      local storedRecordId, storedPrevious, storedSnatched = string.match(string.sub(storedTotals, mark + 1), '^([^#]*)#([^#]*)#([01])')
      if recordId ~= '' and storedRecordId == recordId then
        -- The same announce again: its first run swapped the totals and counted the snatch already.
        retried = true
        previousTotals = storedPrevious
        snatched = tonumber(storedSnatched)
      else
        previousTotals = string.sub(storedTotals, 1, mark - 1)
      end
    else
      previousTotals = storedTotals
    end
  end
  if stopped then
    if storedTotals then
      redis.call('HDEL', totalsKey, totalsField)
      redis.call('ZREM', totalsAgesKey, totalsField)
      if redis.call('HINCRBY', totalsKey, userId, -1) <= 0 then redis.call('HDEL', totalsKey, userId) end
    end
  elseif not retried then
    local completed = '0'
    if completedBefore or snatched == 1 then completed = '1' end
    redis.call('HSET', totalsKey, totalsField, reportedTotals .. '#' .. recordId .. '#' .. previousTotals .. '#' .. snatched .. '#' .. completed)
    if not storedTotals then redis.call('HINCRBY', totalsKey, userId, 1) end
    redis.call('ZADD', totalsAgesKey, now, totalsField)
    redis.call('EXPIRE', totalsKey, peerKeyTtl)
    redis.call('EXPIRE', totalsAgesKey, peerKeyTtl)
  end
end
