#!lua
--[[
announce: one peer's announce applied to one swarm, atomically, in one round trip.
Checks the torrent's access rules, expires stale peers, registers or refreshes the announcer (or
removes it on stopped), moves it between leechers and seeders, counts a snatch, swaps a private
peer's reported totals, counts the swarm and picks peers, already packed.

Cost matters here more than anywhere (docs/architecture.md §6): every redis.call, every number formatted into
a command and every member handled in Lua shows in the server time per announce. Hence the packed
arguments, the numbers passed as ready-made strings, and peer selection by windows of each set's packed
copy (or of the sorted set, concatenated in C by table.concat), cut with string.find rather than member
by member in Lua.

This file is assembled with the pieces it includes (lua/includes/, each once) into one script at
start-up by src/store/redis/scripts.ts, which generates the pieces "constants" and "announce-header"
and puts the value of each constant (a name in CAPITALS with an underscore: of protocol.ts and keys.ts
in src/store/redis/, or a piece's own `local NAME = <number>`) where it is used.

KEYS: <prefix>{<hex info hash>}:<suffix> (a hybrid torrent's v2 swarm in private mode: its peer sets
<prefix>{<torrent's hex info hash>}:<v2 hex>:<suffix>, the other keys its torrent's; keys.ts
swarmKeysUnder); names and suffixes as in src/store/redis/keys.ts, positions
KEY_<NAME>. The key count is fixed per registered command: 6 (public), 8 (private), 10 and 12 (exact
subnet mode).
KEYS[1]        :s4   seeders4        ZSET  member = 6-byte compact address (private mode: + 4-byte user
                                           id), score = last announce (unix seconds)
KEYS[2]        :l4   leechers4       ZSET  the same
KEYS[3]        :s6   seeders6        ZSET  member = 18-byte compact address (private mode: + 4-byte
                                           user id), score = last announce
KEYS[4]        :l6   leechers6       ZSET  the same
KEYS[5]        :m    snatches        HASH  "d" = snatches, "x" = when its TTL was last set, "xt" = the
                                           torrent_ttl it was set for; created by the first snatch
KEYS[6]        :t    torrent         HASH  registration (id, up, down, fl) and list membership (allow,
                                           deny); written by the management API, only read here
KEYS[7]        :xs4  seeders4Index   ZSET  exact subnet mode only: the members of KEYS[1], score 0, for
                                           ZRANGEBYLEX by prefix
KEYS[8]        :xl4  leechers4Index  ZSET  exact subnet mode only: the same of KEYS[2]
KEYS[9]        :xs6  seeders6Index   ZSET  exact subnet mode only: the same of KEYS[3]
KEYS[10]       :xl6  leechers6Index  ZSET  exact subnet mode only: the same of KEYS[4]
KEYS[#KEYS-1]  :p    totals          HASH  private mode only: user id (4 bytes) .. peer_id ->
                                           "uploaded:downloaded#record id#previous totals#snatched#session"
KEYS[#KEYS]    :pa   totalsAges      ZSET  private mode only: the same fields, score = last announce
Not in KEYS: each peer set's packed copy, a STRING named by the set's key followed by "c" (private
mode: "cu"), in the same slot; lua/includes/packed-copy.lua.

ARGV (positions ARGV_<NAME>; ANNOUNCE_ARGV in protocol.ts):
ARGV[1]  header     struct ">BBHBBIIIII" (ANNOUNCE_HEADER), unpacked into locals of these names:
                      flags        B  1 seeder (left = 0), 2 want IPv4 peers, 4 want IPv6 peers,
                                      8 only registered torrents, 16 only allow-listed torrents,
                                      32 exact subnet mode, 64 private mode: return the user's
                                      own other peers too, 128 store no new peer (FLAG_*)
                      event        B  0 none, 1 completed, 2 started, 3 stopped (EVENT_*)
                      numwant      H  peers wanted
                      subnet4Bits  B  IPv4 prefix length of same-subnet-first ordering, 0: none
                      subnet6Bits  B  the same for IPv6
                      peerTtl      I  seconds a peer lives after its last announce
                      snatchTtl    I  torrent_ttl, seconds (0: the snatch hash is kept)
                      seed         I  seed of math.random
                      minInterval  I  seconds within which an announce without an event is too
                                      soon (min-interval), 0: no check
                      maxSwarmPeers I most peers of one family's swarm (admission), 0: no limit
ARGV[2]  address4   the announcer's IPv4 compact address, or ""
ARGV[3]  address6   the announcer's IPv6 compact address, or ""
ARGV[4]  userId     private mode only: the user id (4 bytes, big-endian)
ARGV[5]  peerId     private mode only: the peer_id
ARGV[6]  totals     private mode only: the totals reported now, "uploaded:downloaded"
ARGV[7]  recordId   private mode only: this announce's accounting record id (a retry of the same
                    call, after a reply lost to a broken connection, finds it stored and answers as
                    the first run did)
ARGV[8]  servedAs   private mode only: "", or the hex of a hybrid torrent's v2 hash announced with the
                    keys of its torrent's hash slot (lua/includes/hybrid.lua)
ARGV[9]  peerLimit  private mode only: most peers one user may run on the torrent, "0": no limit

Reply (positions REPLY_<NAME>; ANNOUNCE_REPLY in protocol.ts). A refusal stops at refusal (and
changed nothing), a public answer at snatched:
  [1]  complete
  [2]  incomplete
  [3]  downloaded
  [4]  peers4          6-byte entries; private mode: 10, the compact address and the user id
  [5]  peers6          18-byte entries; private mode: 22
  [6]  refusal         "" or denied / not_allowed / unregistered / peer_limit; private mode: v2
                       (then [7] is the torrent's hex info hash) / moved (hybrid.lua); or too_soon
                       (min interval: nothing changed, the counts are set, the reply stops here), or
                       not_stored on a full answer (admission: the announcer was not stored)
  [7]  snatched        0/1
  [8]  previousTotals  "uploaded:downloaded" as last reported ("" when unknown), then "#" and the
                       peer's accounting session "epoch#seq#baseUp:baseDown#open#completed" (totals.lua)
  [9]  torrentId       "" when unregistered
  [10] upMultiplier
  [11] downMultiplier
  [12] freeleech
]]
--- @include "constants"
-- What a batch remembers across its announces (lua/announce-batch.lua): nothing, in a call of one.
local memo = nil
--- @include "announce-one"
