/** The `blocklist` section of the configuration: IP blocklist files, their limits and how often they are checked. */
import { basename } from 'node:path';
import { z } from 'zod';
import { bool, duration, integer, section } from './leaves.js';

/** Most files in blocklist.files. */
export const MAX_BLOCKLIST_FILES = 64;

export function blocklistSection() {
  return section({
    files: z
      .array(
        z
          .string({ error: 'must be a list of file paths' })
          .min(1, { error: 'a path must not be empty' })
          .max(4096, { error: 'a path is at most 4096 characters' }),
        {
          error: 'must be a list of file paths such as ["/etc/shoal/level1.p2p"]',
        },
      )
      .max(MAX_BLOCKLIST_FILES, { error: `at most ${MAX_BLOCKLIST_FILES} files` })
      .refine((paths) => new Set(paths.map((path) => basename(path))).size === paths.length, {
        error: 'each file must have its own base name: it names the list in the metrics and the logs',
      })
      .prefault([])
      .describe(
        'IP blocklist files: CIDRs, addresses, first-last ranges, PeerGuardian P2P (name:first-last) or eMule DAT lines, # comments. A client whose address one holds is refused (HTTP failure reason, UDP silence, WebSocket closed). Each list is named by its base name; a changed file is reloaded (blocklist.check_interval).',
      ),
    peers: bool()
      .prefault(false)
      .describe(
        'Also keep blocked addresses out of peer lists: an announce registering one (a BEP 7 claim) is refused, and peers that entered a swarm before their address was blocked are left out of answers.',
      ),
    check_interval: duration(0, 86400)
      .prefault(10)
      .describe(
        'Seconds between checks of the blocklist files for changes; a changed file is read once it has not changed for one more interval. 0: read at start only.',
      ),
    max_file_bytes: integer(1024, 500_000_000).prefault(134_217_728).describe('Largest blocklist file read, in bytes; a larger one is not loaded.'),
    max_ranges: integer(1, 10_000_000)
      .prefault(4_000_000)
      .describe(
        'Most ranges one blocklist file may hold (its lines that name a range, before merging); a file with more is not loaded. Memory: about 8 bytes per IPv4 range, 32 per IPv6 range.',
      ),
  });
}
