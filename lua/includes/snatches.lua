--[[ snatches: the swarm's snatch count, and the snatch hash's TTL.
Defines: downloaded   the snatch count after this announce
         snatched     1 when this announce counted a snatch, else 0
Expects: snatchesKey, event, stopped, snatchTtl, wasSeeder (membership), completedBefore
         (private-peer: a private peer counts one snatch per torrent), admitted (admission), now
         (clock), fmt, memo (nil, or a batch's: the hash read once per batch, its fields followed), the
constant EVENT_COMPLETED.
The snatch hash (field "d": snatches) exists from the first snatch on. It outlives the swarm's last
announce (stopped ones aside, as in the memory driver) by torrent_ttl to half as long again: its TTL,
1.5 x torrent_ttl, is set again once a third of it has passed (field "x": when; "xt": the torrent_ttl
it was set for, so that a changed setting takes effect at once), not on every announce. torrent_ttl 0
keeps it.
]]
local snatchFields
if memo then snatchFields = memo.snatches[snatchesKey] end
if not snatchFields then
  snatchFields = redis.call('HMGET', snatchesKey, 'd', 'x', 'xt')
  if memo then memo.snatches[snatchesKey] = snatchFields end
end
local downloaded = tonumber(snatchFields[1] or '0')
local snatched = 0
if event == EVENT_COMPLETED and not wasSeeder and not completedBefore and admitted then
  downloaded = redis.call('HINCRBY', snatchesKey, 'd', 1)
  snatchFields[1] = downloaded
  snatched = 1
end
if downloaded > 0 and not stopped then
  local ttlSetFor = tonumber(snatchFields[3] or '-1')
  if ttlSetFor ~= snatchTtl or (snatchTtl > 0 and tonumber(now) - tonumber(snatchFields[2] or '0') > snatchTtl / 2) then
    redis.call('HSET', snatchesKey, 'x', now, 'xt', fmt('%d', snatchTtl))
    snatchFields[2], snatchFields[3] = now, snatchTtl
    if snatchTtl > 0 then
      redis.call('EXPIRE', snatchesKey, fmt('%d', snatchTtl + math.ceil(snatchTtl / 2)))
    else
      redis.call('PERSIST', snatchesKey)
    end
  end
end
