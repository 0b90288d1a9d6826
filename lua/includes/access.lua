--[[ access: the torrent's access rules, checked before anything is changed.
Defines: torrentTerms   the torrent hash's deny, allow, id, up, down, fl, of, v2 (HMGET), or nil when
                        no rule needs more than the deny flag.
         accessRefusal  nil, or why the announce is refused: denied, not_allowed or unregistered. The
                        command returns its refusal reply (each command has its own layout) before it
                        changes anything.
Expects: flags, band, memo (nil, or a batch's: the torrent hash read once per batch, as nothing here
         writes it), the constants FLAG_*, KEY_TORRENT (announce.lua and webtorrent-announce.lua share
         this piece: the torrent's key is at KEY_TORRENT of either command's KEYS).
A public tracker without an allow list reads only the deny flag (usually of a key that does not exist).
]]
local requireRegistered = band(flags, FLAG_REQUIRE_REGISTERED) ~= 0
local requireAllowed = band(flags, FLAG_REQUIRE_ALLOWED) ~= 0
local torrentTerms, accessRefusal
if requireRegistered or requireAllowed then
  if memo then torrentTerms = memo.terms[KEYS[KEY_TORRENT]] end
  if not torrentTerms then
    torrentTerms = redis.call('HMGET', KEYS[KEY_TORRENT], 'deny', 'allow', 'id', 'up', 'down', 'fl', 'of', 'v2')
    if memo then memo.terms[KEYS[KEY_TORRENT]] = torrentTerms end
  end
  if torrentTerms[1] then
    accessRefusal = 'denied'
  elseif requireAllowed and not torrentTerms[2] then
    accessRefusal = 'not_allowed'
  elseif requireRegistered and not torrentTerms[3] then
    accessRefusal = 'unregistered'
  end
else
  local deny
  if memo then deny = memo.deny[KEYS[KEY_TORRENT]] end
  if deny == nil then
    deny = redis.call('HGET', KEYS[KEY_TORRENT], 'deny')
    if memo then memo.deny[KEYS[KEY_TORRENT]] = deny end
  end
  if deny then accessRefusal = 'denied' end
end
