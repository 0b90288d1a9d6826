--[[ access: the torrent's access rules, checked before anything is changed.
Defines: torrentTerms  the torrent hash's deny, allow, id, up, down, fl, of, v2 (HMGET), or nil when
                       no rule needs more than the deny flag.
Returns the refusal reply (complete, incomplete, downloaded, peers4, peers6, refusal) when refused.
Expects: flags, band, memo (nil, or a batch's: the torrent hash read once per batch, as nothing here
         writes it), the constants FLAG_*, KEY_TORRENT.
A public tracker without an allow list reads only the deny flag (usually of a key that does not exist).
]]
local requireRegistered = band(flags, FLAG_REQUIRE_REGISTERED) ~= 0
local requireAllowed = band(flags, FLAG_REQUIRE_ALLOWED) ~= 0
local torrentTerms
if requireRegistered or requireAllowed then
  if memo then torrentTerms = memo.terms[KEYS[KEY_TORRENT]] end
  if not torrentTerms then
    torrentTerms = redis.call('HMGET', KEYS[KEY_TORRENT], 'deny', 'allow', 'id', 'up', 'down', 'fl', 'of', 'v2')
    if memo then memo.terms[KEYS[KEY_TORRENT]] = torrentTerms end
  end
  if torrentTerms[1] then return { 0, 0, 0, '', '', 'denied' } end
  --- @include "hybrid"
  if requireAllowed and not torrentTerms[2] then return { 0, 0, 0, '', '', 'not_allowed' } end
  if requireRegistered and not torrentTerms[3] then return { 0, 0, 0, '', '', 'unregistered' } end
elseif not memo then
  if redis.call('HGET', KEYS[KEY_TORRENT], 'deny') then return { 0, 0, 0, '', '', 'denied' } end
else
  local deny = memo.deny[KEYS[KEY_TORRENT]]
  if deny == nil then
    deny = redis.call('HGET', KEYS[KEY_TORRENT], 'deny')
    memo.deny[KEYS[KEY_TORRENT]] = deny
  end
  if deny then return { 0, 0, 0, '', '', 'denied' } end
end
