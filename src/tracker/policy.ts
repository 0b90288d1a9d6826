/**
 * The tracker's policy: what a configuration asks of the announce and scrape paths, in the form they
 * read it. One object per configuration: a reload builds a new one and swaps it in (Tracker.reconfigure).
 */
import type { FullScrapePolicy } from './full-scrape.js';
import type { Config } from '../config/config.js';
import { parsePortRange } from '../config/ports.js';
import type { LedgerLimits } from '../store/user-ledger.js';
import type { Blocklists } from '../blocklist/lists.js';
import { connectablePolicy, type ConnectablePolicy } from './connectability.js';
import type { BudgetPolicy } from './budget.js';
import type { MinIntervalEnforcement } from './defences.js';
import { UserAgentRules } from './user-agents.js';

export interface TrackerPolicy {
  announceInterval: number;
  minAnnounceInterval: number;
  intervalJitter: number;
  defaultNumwant: number;
  maxNumwant: number;
  maxScrapeInfoHashes: number;
  allowFullScrape: boolean;
  fullScrape?: FullScrapePolicy;
  allowIpSpoofing: boolean;
  respectAf: boolean;
  /** Prefix lengths for same-subnet-first ordering; 0 when grouping is off. */
  subnet4: number;
  subnet6: number;
  /** Passkeys, registered torrents and accounting. */
  private: boolean;
  approvedClientsOnly: boolean;
  approvedTorrentsOnly: boolean;
  /** Private mode: most peers per user and torrent (0: none); the config's `private` section. */
  peersPerTorrent?: number;
  /** Private mode: return a user's own other peers to it (private.own_peers). */
  ownPeers?: boolean;
  /** Private mode: announces with peers per user and window (private.peer_list_budget; 0 or absent: no limit). */
  peerListBudget?: { budget: number; windowSeconds: number };
  /** Private mode: User-Agents refused (private.denied_user_agents). */
  deniedUserAgents?: UserAgentRules;
  /** Private mode: announced ports refused (private.denied_ports), each rule as written and its range. */
  deniedPorts?: ReadonlyArray<{ text: string; first: number; last: number }>;
  /** Private mode: distinct addresses per user over a window (private.addresses_per_user, ...). */
  addressLimits?: LedgerLimits;
  /** Private mode: seconds a download holds its slot after its last announce (peer_ttl); absent: slots not enforced. */
  downloadSlotWindow?: number;
  /** Request budgets per address and subnet; null: none. */
  budget?: BudgetPolicy | null;
  /** What an announce without an event sooner than minAnnounceInterval gets (default off). */
  minIntervalEnforcement?: MinIntervalEnforcement;
  /** blocklist.peers: the lists whose addresses are never registered nor handed out (blocked-peers.ts); absent: none. */
  blockedPeers?: Blocklists | null;
  /** Private mode: the connectability check (private.connectable_check, connectability.ts); absent: none. */
  connectable?: ConnectablePolicy | null;
}

/** The policy a configuration asks for (boot() builds the Tracker with it; tests and benchmarks start from it). */
export function trackerPolicy(config: Config): TrackerPolicy {
  return {
    announceInterval: config.announce_interval,
    minAnnounceInterval: config.min_announce_interval,
    intervalJitter: config.interval_jitter,
    defaultNumwant: config.default_numwant,
    maxNumwant: config.max_numwant,
    maxScrapeInfoHashes: config.max_scrape_infohashes,
    allowFullScrape: config.allow_full_scrape,
    fullScrape: { intervalSeconds: config.full_scrape_interval, maxSwarms: config.full_scrape_max_swarms },
    allowIpSpoofing: config.allow_ip_spoofing,
    respectAf: config.respect_af,
    subnet4: config.preferred_subnet ? config.preferred_ipv4_subnet : 0,
    subnet6: config.preferred_subnet ? config.preferred_ipv6_subnet : 0,
    private: config.private_enabled,
    approvedClientsOnly: config.approved_clients_only,
    approvedTorrentsOnly: config.approved_torrents_only,
    peersPerTorrent: config.private.peers_per_torrent,
    ownPeers: config.private.own_peers,
    deniedUserAgents: new UserAgentRules(config.private.denied_user_agents),
    peerListBudget: { budget: config.private.peer_list_budget, windowSeconds: config.private.peer_list_window },
    deniedPorts: config.private.denied_ports.map((text) => {
      const [first, last] = parsePortRange(text)!;
      return { text, first, last };
    }),
    addressLimits: {
      windowSeconds: config.private.address_window,
      limit: config.private.addresses_per_user,
      enforce: config.private.enforce_address_limit,
    },
    downloadSlotWindow: config.peer_ttl,
    budget: config.budget.enabled
      ? {
          windowSeconds: config.budget.window,
          perAddress: config.budget.per_address,
          perSubnet: config.budget.per_subnet,
          ipv4Prefix: config.budget.ipv4_prefix,
          ipv6Prefix: config.budget.ipv6_prefix,
          syncIntervalMs: config.budget.sync_interval * 1000,
          maxTracked: config.budget.max_tracked,
        }
      : null,
    minIntervalEnforcement: config.min_interval_enforcement,
    connectable: config.private.connectable_check ? connectablePolicy(config) : null,
  };
}
