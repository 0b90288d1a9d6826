--[[ packed-window: the common case of peer selection, without subnet ordering.
Defines: packedWindow(key, setSize, count, self, addressSize)
           at most `count` entries of the peer set `key` (of `setSize` members), packed into one
           string, without `self` (the announcer's member, or "") and in private mode without the
           announcing user's own peers (unless the tracker returns them: excludeOwn false); nil when a member has the wrong length (a leftover of a
           switch between public and private mode): the caller takes the general way (sampling).
Expects: privateMode, excludeOwn, userId, existingOnly (admission), the constant USER_ID_SIZE, what
         packed-copy expects.
The window as one string, and the string functions (C) doing what a loop over the members would do in
Lua. Public: the announcer is cut out at an entry boundary. Private: entries carry the user id, and
the announcing user's own are cut out; the tracker drops the ids (work moved out of the one Redis
thread to the replicas, which scale).
]]
--- @include "window"
--- @include "packed-copy"
local function packedWindow(key, setSize, count, self, addressSize)
  if count <= 0 or setSize == 0 then return '' end
  local take = count
  -- Private: the user's own peers (the announcer among them) are cut: draw a few more, so that they
  -- rarely leave the answer short.
  if excludeOwn then take = take + OWN_PEERS_EXTRA elseif self ~= '' then take = take + 1 end
  local entrySize = addressSize
  if privateMode then entrySize = addressSize + USER_ID_SIZE end
  -- From the set's packed copy; from the set itself when it has none (a large set), and then no copy is
  -- built where Redis refuses new memory (existingOnly).
  local packed = copyWindow(key, setSize, take, entrySize, not existingOnly)
  if not packed then
    local a, b = window(key, setSize, take)
    packed = table.concat(a)
    local members = #a
    if b then
      packed = packed .. table.concat(b)
      members = members + #b
    end
    if #packed ~= members * entrySize then return nil end
  end
  local cut = self
  if excludeOwn then cut = userId end
  if cut ~= '' then
    -- Where `cut` (an address or a user id) sits in an entry: at its start, or after the address.
    local offset = entrySize - #cut
    -- entry-find's search, written out here: on every announce, a call per match costs
    -- (measured: docs/performance.md, "Hand-written hot paths").
    local from = 1
    while true do
      local at = string.find(packed, cut, from, true)
      if not at then break end
      local start = at - offset
      if start >= 1 and (start - 1) % entrySize == 0 then
        packed = string.sub(packed, 1, start - 1) .. string.sub(packed, start + entrySize)
        if not excludeOwn then break end
        from = start
      else
        from = at + 1
      end
    end
  end
  local entries = #packed / entrySize
  local extra = entries - count
  if extra > 0 then
    -- The surplus is cut from a random point, wrapping around (what a turn of the window from a random
    -- entry and a cut at its end would keep), in as few strings as can be: each string made here is
    -- copied and hashed whole.
    local from = math.random(0, entries - 1)
    local to = from + extra
    if to <= entries then
      if from == 0 then
        packed = string.sub(packed, extra * entrySize + 1)
      elseif to == entries then
        packed = string.sub(packed, 1, from * entrySize)
      else
        packed = string.sub(packed, 1, from * entrySize) .. string.sub(packed, to * entrySize + 1)
      end
    else
      packed = string.sub(packed, (to - entries) * entrySize + 1, from * entrySize)
    end
  end
  return packed
end
