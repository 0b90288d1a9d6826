--[[ totals: private mode's per-peer totals, swapped for the reported ones, and the peer's accounting session.
Defines: previousTotals   the peer's last reported "uploaded:downloaded", "" when unknown (or in
                          public mode)
         sessionReply     previousTotals .. "#" .. the session: "epoch#seq#baseUp:baseDown#open#completed",
                          what the reply carries (private mode)
Changes: snatched, to what the first run answered, when this is a retry of an announce already applied.
Expects: privateMode, userId, reportedTotals ("uploaded:downloaded"), recordId (the command's
         arguments), event, stopped, admitted (admission), now, peerKeyTtl (clock), totalsKey,
         totalsAgesKey, totalsField, storedTotals, completedBefore (private-peer), snatched (snatches: 0
         or 1), fmt (string.format), memo (nil, or a batch's: both keys' TTLs set once per batch,
         again after a removal that may have deleted them), the constant EVENT_STARTED.
The torrent's totals hash maps userId .. peer_id to
  "uploaded:downloaded#record id#previous totals#snatched#epoch#seq#base#open#completed"
("completed": the peer has counted its snatch of the torrent) and its ages (a ZSET of the same fields,
score = last announce) let stale ones expire with the peers (private-peer). A retry of the same call
(same record id, after a reply lost to a broken connection) finds its record stored and answers as the
first run did. Each user's peer count (field: the user id) follows the fields that come and go.

The session (src/store/session.ts, which the memory driver runs; the two must agree): only this
script sees a peer's announces in their true order, so it numbers them. An epoch is one run of the
peer's counters, named by the record id of the announce that opened it; seq counts its announces; base
is what its counters count from. A peer this script does not know opens an epoch: from 0 on started,
otherwise from the counters it reports (open = 1: a consumer that knows the session's counters continues
from them, as after a Redis restart that lost these totals). A counter below the stored one (a client
restart) opens an epoch that counts it from 0. Totals stored before sessions existed open an epoch
from the stored counters.
]]
--- @include "clock"
--- @include "private-peer"
-- a < b for decimal numbers without leading zeros. Neither tonumber (strtod) nor `<` on strings (strcoll,
-- in Redis' locale) is cheap per announce: strings of one length compare as their digits do, and
-- strtoul (tonumber in base 16) reads decimal digits in that order too; exact to 13 digits (10 TB), and
-- beyond only two close values may compare equal (a counter reset goes back to a shorter string).
local function decimalBelow(a, b)
  local la, lb = #a, #b
  if la ~= lb then return la < lb end
  return tonumber(a, 16) < tonumber(b, 16)
end
local previousTotals, sessionReply = '', ''
if privateMode and admitted then
  local retried = false
  local session
  -- The stored totals (as numbers' text) and session ("epoch", seq, "base#open"); nil for none, or for
  -- totals stored before sessions existed.
  local previousUp, previousDown, storedEpoch, storedSeq, storedBaseOpen
  if storedTotals then
    -- One match for the whole stored value: every string operation shows in Redis' time per announce.
    local storedRecordId, storedPrevious, storedSnatched
    previousUp, previousDown, storedRecordId, storedPrevious, storedSnatched, storedEpoch, storedSeq, storedBaseOpen =
      string.match(storedTotals, '^(%d+):(%d+)#([^#]*)#([^#]*)#([01])#([^#]+)#(%d+)#([^#]+#[01])#')
    if not previousUp then
      -- Stored before sessions existed: "uploaded:downloaded#record id#previous totals#snatched#completed".
      previousUp, previousDown, storedRecordId, storedPrevious, storedSnatched = string.match(storedTotals, '^(%d+):(%d+)#([^#]*)#([^#]*)#([01])')
      if not previousUp then previousUp, previousDown = string.match(storedTotals, '^(%d+):(%d+)') end
    end
    if previousUp then previousTotals = previousUp .. ':' .. previousDown end
    if recordId ~= '' and storedRecordId == recordId then
      -- The same announce again: its first run swapped the totals and counted the snatch already.
      retried = true
      previousTotals = storedPrevious
      previousUp, previousDown = string.match(storedPrevious, '^(%d+):(%d+)$')
      snatched = tonumber(storedSnatched)
      if storedEpoch then session = storedEpoch .. '#' .. storedSeq .. '#' .. storedBaseOpen end
    end
  end
  if not session then
    if not previousUp then
      if event == EVENT_STARTED then session = recordId .. '#1#0:0#0' else session = recordId .. '#1#' .. reportedTotals .. '#1' end
    else
      local up, down = string.match(reportedTotals, '^(%d+):(%d+)$')
      local upBack, downBack = decimalBelow(up, previousUp), decimalBelow(down, previousDown)
      if storedEpoch and not upBack and not downBack then
        -- Numbers into text as "%d": concatenated, Lua would format them with "%.14g", dearer.
        session = storedEpoch .. '#' .. fmt('%d', storedSeq + 1) .. '#' .. storedBaseOpen
      else
        -- A counter that went back counts from 0; the other one, and totals stored before sessions, from the stored value.
        if upBack then previousUp = '0' end
        if downBack then previousDown = '0' end
        session = recordId .. '#1#' .. previousUp .. ':' .. previousDown .. '#0'
      end
    end
  end
  -- Whether the peer has counted its snatch by now: a consumer counts it once per session from any record
  -- (the record of the completion itself may be lost).
  local completed = '0'
  if completedBefore or snatched == 1 then completed = '1' end
  sessionReply = previousTotals .. '#' .. session .. '#' .. completed
  if stopped then
    if storedTotals then
      redis.call('HDEL', totalsKey, totalsField)
      redis.call('ZREM', totalsAgesKey, totalsField)
      if redis.call('HINCRBY', totalsKey, userId, -1) <= 0 then redis.call('HDEL', totalsKey, userId) end
      -- Its last fields gone, the hash and its ages are deleted, their TTLs with them.
      if memo then memo.ttl[totalsKey], memo.ttl[totalsAgesKey] = nil, nil end
    end
  elseif not retried then
    redis.call('HSET', totalsKey, totalsField, reportedTotals .. '#' .. recordId .. '#' .. previousTotals .. '#' .. (snatched == 1 and '1' or '0') .. '#' .. session .. '#' .. completed)
    if not storedTotals then redis.call('HINCRBY', totalsKey, userId, 1) end
    redis.call('ZADD', totalsAgesKey, now, totalsField)
    if not (memo and memo.ttl[totalsKey]) then
      redis.call('EXPIRE', totalsKey, peerKeyTtl)
      redis.call('EXPIRE', totalsAgesKey, peerKeyTtl)
      if memo then memo.ttl[totalsKey] = true end
    end
  end
end
