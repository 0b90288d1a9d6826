/** The connectability check keys of the configuration's `private` section (spread into it by schema.ts). */
import { bool, duration, integer } from './leaves.js';

export function connectableKeys() {
  return {
    connectable_check: bool()
      .prefault(false)
      .describe(
        "Private mode: after an announce from an (ip, port) not checked within connectable_ttl, open a TCP connection to that announced port, off the announce path, and carry the result in the accounting record (connectable: true, false, or absent while unknown). Only the announcing address and its announced port; never a trusted proxy's own address; never private ranges unless connectable_private_ranges.",
      ),
    connectable_ttl: duration(60, 86400, true)
      .prefault(1800)
      .describe('Private mode: seconds a connectability result holds; at most one check per (ip, port) within it, across replicas.'),
    connectable_timeout: duration(0.1, 30).prefault(3).describe('Private mode: seconds a connectability check waits for the connection (and the handshake).'),
    connectable_handshake: bool()
      .prefault(false)
      .describe(
        'Private mode: a connectability check also sends a BitTorrent handshake for the announced info hash and counts the peer connectable only when it answers one for the same hash.',
      ),
    connectable_concurrency: integer(1, 1000).prefault(16).describe('Private mode: most connectability checks one replica runs at once.'),
    connectable_rate: integer(1, 10000)
      .prefault(20)
      .describe(
        'Private mode: most connectability checks one replica starts per second; checks past what its queue holds are skipped and tried at a later announce.',
      ),
    connectable_private_ranges: bool()
      .prefault(false)
      .describe(
        'Private mode: also check addresses of private, loopback, link-local, CGNAT, unique local and other non-public ranges (off: they stay unknown). For a tracker on a private network or tests.',
      ),
    connectable_warning: bool()
      .prefault(false)
      .describe('Private mode: tell a peer found not connectable so, as the announce answer\'s warning message ("your client is not connectable").'),
  };
}
