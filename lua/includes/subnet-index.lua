--[[ subnet-index: exact subnet mode's lexicographic index of each peer set.
Defines: indexKeyOf   peer set key -> its index key (ZSET of the same members, score 0), or nil when
                      not in exact subnet mode
Expects: exactSubnets, the constants KEY_SEEDERS4 ... KEY_LEECHERS6_INDEX.
]]
local indexKeyOf
if exactSubnets then
  indexKeyOf = {
    [KEYS[KEY_SEEDERS4]] = KEYS[KEY_SEEDERS4_INDEX],
    [KEYS[KEY_LEECHERS4]] = KEYS[KEY_LEECHERS4_INDEX],
    [KEYS[KEY_SEEDERS6]] = KEYS[KEY_SEEDERS6_INDEX],
    [KEYS[KEY_LEECHERS6]] = KEYS[KEY_LEECHERS6_INDEX],
  }
end
