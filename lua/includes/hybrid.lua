--[[ hybrid: a hybrid (BEP 52) torrent's v2 hash, served under its torrent.
Changes: accessRefusal (access), to v2 or moved, unless the torrent is denied.
Defines: v2Torrent  with the refusal v2: the torrent's hex info hash (the reply's next field), else nil.
Expects: torrentTerms, accessRefusal (access: HMGET of deny, allow, id, up, down, fl, of, v2), the
         constant ARGV_SERVED_AS.
The management API registers a hybrid torrent under its info hash (field "v2" = the v2 hash in hex)
and marks the v2 hash's own registration with "of" = the torrent's hex info hash. In private mode
the store calls with ARGV_SERVED_AS:
  ""      the announced hash is served as itself. If it is a torrent's v2 hash, nothing is changed and
          the reply is the refusal "v2" followed by the torrent's hex info hash: the store calls again
          with the keys of that torrent's hash slot (and remembers the mapping).
  <hex>   the announced v2 hash (hex), with the keys of its torrent's slot (keys.ts swarmKeysUnder). The
          torrent must still list it as its v2 hash, or the refusal "moved" (nothing changed) sends
          the store back to the announced hash's own slot.
These come before the allow list and registration (a v2 hash's own registration has "of" only), after
the deny flag. Public mode passes no ARGV_SERVED_AS: a v2 hash is a swarm of its own there, as any hash.
]]
local v2Torrent
if torrentTerms and accessRefusal ~= 'denied' then
  local servedAs = ARGV[ARGV_SERVED_AS]
  if servedAs then
    if servedAs == '' then
      if torrentTerms[7] then accessRefusal, v2Torrent = 'v2', torrentTerms[7] end
    elseif torrentTerms[8] ~= servedAs then
      accessRefusal = 'moved'
    end
  end
end
