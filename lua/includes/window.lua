--[[ window: a random run of a peer set, the unit of peer selection.
Defines: window(key, setSize, take)   up to `take` members of the sorted set `key` (of `setSize`
                                      members), from a random rank on, wrapping around at the end: one
                                      or two lists of members
         OWN_PEERS_EXTRA              members drawn beyond those wanted in private mode, for the
                                      announcing user's own peers that are cut
Expects: fmt (string.format); math.randomseed already called.
Every member is as likely to be in the window (and to be kept, but for a slight edge of the
announcer's neighbours in last-seen order: a window holding the announcer cuts nobody else). One or two
ZRANGEs, never a read of the whole set for a part of it, and none of ZRANDMEMBER's copying (measured
~5x dearer at 100 members). The members come in last-seen order, which says nothing a client could use.
The whole set, when that is wanted, in one ZRANGE. A caller that draws more than it keeps (for the
members it may skip) cuts the surplus from a random point of what is left, not from the end: the end
would favour whatever follows a skipped member.
]]
local OWN_PEERS_EXTRA = 4
local function window(key, setSize, take)
  if take >= setSize then return redis.call('ZRANGE', key, '0', '-1') end
  local start = math.random(0, setSize - 1)
  local stop = start + take - 1
  if stop < setSize then return redis.call('ZRANGE', key, fmt('%d', start), fmt('%d', stop)) end
  return redis.call('ZRANGE', key, fmt('%d', start), '-1'), redis.call('ZRANGE', key, '0', fmt('%d', stop - setSize))
end
