--[[ announce-one: the body of one announce (lua/announce.lua's header says what it does, its KEYS,
ARGV and reply). A piece so that lua/announce-batch.lua runs the same code once per announce of a batch,
as a function of that announce's KEYS and ARGV; here the reply is a table, returned.
Expects: the constants; in a batch, the clock piece already included (one TIME for the batch).
]]
--- @include "announce-header"
local band = bit.band
-- Access first: a refused announce changes nothing.
--- @include "access"
--- @include "hybrid"
if accessRefusal then return { 0, 0, 0, '', '', accessRefusal, v2Torrent } end

local seeders4Key, leechers4Key = KEYS[KEY_SEEDERS4], KEYS[KEY_LEECHERS4]
local seeders6Key, leechers6Key = KEYS[KEY_SEEDERS6], KEYS[KEY_LEECHERS6]
local snatchesKey = KEYS[KEY_SNATCHES]
local userId = ARGV[ARGV_USER_ID] or ''
local privateMode = userId ~= ''
-- Private mode's arguments, as the shared pieces private-peer and totals expect them (read only in
-- private mode: a public announce pays nothing for them).
local peerId, reportedTotals, recordId, peerLimit
if privateMode then peerId, reportedTotals, recordId, peerLimit = ARGV[ARGV_PEER_ID], ARGV[ARGV_TOTALS], ARGV[ARGV_RECORD_ID], ARGV[ARGV_PEER_LIMIT] end
-- Private mode: the announcing user's own other peers are left out of its answer (unless own_peers).
local excludeOwn = privateMode and band(flags, FLAG_OWN_PEERS) == 0
local exactSubnets = band(flags, FLAG_EXACT_SUBNETS) ~= 0
-- The announcer's member in each family's sets ("" when it is not in that family): its compact
-- address, in private mode followed by its user id.
local announcer4, announcer6 = ARGV[ARGV_ADDRESS4], ARGV[ARGV_ADDRESS6]
if privateMode then
  if announcer4 ~= '' then announcer4 = announcer4 .. userId end
  if announcer6 ~= '' then announcer6 = announcer6 .. userId end
end
local stopped = event == EVENT_STOPPED
local isSeeder = band(flags, FLAG_SEEDER) ~= 0 or event == EVENT_COMPLETED
math.randomseed(seed)
local fmt = string.format
-- Private mode: the announcer's stored totals, and the per-user peer limit (a refusal changes nothing).
--- @include "private-peer"
if overPeerLimit then return { 0, 0, 0, '', '', 'peer_limit' } end

--- @include "expiry"
-- The family the announcer is in is written anyway. The other one is usually empty: one EXISTS
-- instead of expiring and counting two sets.
-- In a batch, what an EXISTS found is remembered (by the family's seeders key) until the family is
-- written (membership).
local ipv4InUse, ipv6InUse = announcer4 ~= '', announcer6 ~= ''
if not memo then
  ipv4InUse = ipv4InUse or redis.call('EXISTS', seeders4Key, leechers4Key) > 0
  ipv6InUse = ipv6InUse or redis.call('EXISTS', seeders6Key, leechers6Key) > 0
else
  if not ipv4InUse then ipv4InUse = memo.exists(seeders4Key, leechers4Key) end
  if not ipv6InUse then ipv6InUse = memo.exists(seeders6Key, leechers6Key) end
end
if ipv4InUse then expire(seeders4Key); expire(leechers4Key) end
if ipv6InUse then expire(seeders6Key); expire(leechers6Key) end
--- @include "admission"
--- @include "selection"
--- @include "min-interval"

--- @include "membership"
register(announcer4, seeders4Key, leechers4Key)
register(announcer6, seeders6Key, leechers6Key)

--- @include "snatches"
--- @include "totals"

local seeders4Count, leechers4Count, seeders6Count, leechers6Count = 0, 0, 0, 0
if not memo then
  if ipv4InUse then seeders4Count, leechers4Count = redis.call('ZCARD', seeders4Key), redis.call('ZCARD', leechers4Key) end
  if ipv6InUse then seeders6Count, leechers6Count = redis.call('ZCARD', seeders6Key), redis.call('ZCARD', leechers6Key) end
else
  -- A batch counts each set once and follows its own changes (membership).
  if ipv4InUse then seeders4Count, leechers4Count = memo.card(seeders4Key), memo.card(leechers4Key) end
  if ipv6InUse then seeders6Count, leechers6Count = memo.card(seeders6Key), memo.card(leechers6Key) end
end

local peersLeft = numwant
local peers4, peers6, picked = '', '', 0
local want4, want6 = band(flags, FLAG_WANT4) ~= 0, band(flags, FLAG_WANT6) ~= 0
-- The announcer's own families first; the others take what numwant leaves.
if want4 and announcer4 ~= '' then
  peers4, picked = pick(seeders4Key, leechers4Key, seeders4Count, leechers4Count, announcer4, peersLeft, subnet4Bits, ADDRESS4_SIZE)
  peersLeft = peersLeft - picked
end
if want6 and announcer6 ~= '' then
  peers6, picked = pick(seeders6Key, leechers6Key, seeders6Count, leechers6Count, announcer6, peersLeft, subnet6Bits, ADDRESS6_SIZE)
  peersLeft = peersLeft - picked
end
if want4 and announcer4 == '' then
  peers4, picked = pick(seeders4Key, leechers4Key, seeders4Count, leechers4Count, '', peersLeft, 0, ADDRESS4_SIZE)
  peersLeft = peersLeft - picked
end
if want6 and announcer6 == '' then peers6 = pick(seeders6Key, leechers6Key, seeders6Count, leechers6Count, '', peersLeft, 0, ADDRESS6_SIZE) end

-- The reply, in ANNOUNCE_REPLY's order. A public answer stops at snatched: every element costs a
-- conversion on both ends.
local complete, incomplete = seeders4Count + seeders6Count, leechers4Count + leechers6Count
local note = notStored and 'not_stored' or ''
if not privateMode then return { complete, incomplete, downloaded, peers4, peers6, note, snatched } end
return {
  complete, incomplete, downloaded, peers4, peers6, note, snatched, sessionReply,
  torrentTerms and torrentTerms[3] or '', torrentTerms and torrentTerms[4] or '',
  torrentTerms and torrentTerms[5] or '', torrentTerms and torrentTerms[6] or '',
}
