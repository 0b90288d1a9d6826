--[[ clock: the time of this call and what is stale at it.
Defines: now          the server's unix seconds (TIME), a string, as ZADD takes it
         staleBelow   the ZRANGEBYSCORE bound "(<now - peerTtl>": scores below it are stale
         peerKeyTtl   the TTL of a peer set written now, peerTtl + 1, a string
Expects: peerTtl, fmt (string.format).
Scores are whole seconds (compact in a listpack). A peer last seen in second S is stale from second
S + peerTtl + 1 on: between its TTL and a second after it, never early. TIME's seconds go into ZADD as
they came, a string, and other numbers as "%d" strings: Lua would format them as "%.14g" or "%.17g",
a measurable part of a call.
]]
local now = redis.call('TIME')[1]
local staleBelow = '(' .. fmt('%d', tonumber(now) - peerTtl)
local peerKeyTtl = fmt('%d', peerTtl + 1)
