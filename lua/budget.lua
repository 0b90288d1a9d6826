#!lua flags=allow-oom
--[[
budget: adds to one shared request counter of the request budgets (src/tracker/budget.ts) and returns
the total. Called in the background, batched by auto-pipelining, for busy keys only; never on a
request's path. allow-oom: a counter is a few bytes with a TTL, and budgets matter most when an
attack fills Redis.

KEYS[1]  <prefix>b:<a|s>:<hex address or subnet>:<window>  STRING  requests every replica admitted
ARGV[1]  delta  requests to add
ARGV[2]  ttl    seconds the counter lives from its first addition
Reply: the total after the addition
]]
local total = redis.call('INCRBY', KEYS[1], ARGV[1])
if total == tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return total
