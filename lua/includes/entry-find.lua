--[[ entry-find: finding an entry in packed entries of one size.
Defines: entryWith(packed, needle, entrySize, offset, from)   the first byte of the first entry of
           `packed` (entries of entrySize bytes end to end) at or after byte `from` that holds
           `needle` `offset` bytes into it, or nil. string.find (C) does the search; a match that
           straddles two entries is passed over.
]]
local function entryWith(packed, needle, entrySize, offset, from)
  while true do
    local at = string.find(packed, needle, from, true)
    if not at then return nil end
    local start = at - offset
    if start >= 1 and (start - 1) % entrySize == 0 then return start end
    from = at + 1
  end
end
