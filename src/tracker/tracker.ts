/**
 * The tracker's policy, shared by every frontend: which addresses a peer registers, how many peers it
 * gets, the intervals it is told, and what goes to the backend. Storage is the driver's business.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import { compactPeer, formatIp } from '../bittorrent/address.js';
import type { AnnounceEvent, AnnounceRequest, AnnounceResult, ScrapeRequest, ScrapeResult } from '../bittorrent/announce.js';
import { ClientError } from '../bittorrent/errors.js';
import type { Backend, TokenEnd } from '../backend/driver.js';
import { accountingRecord, type CreditedAnnounce, type StoreOutcome } from './accounting-record.js';
import { Connectability, NOT_CONNECTABLE, type CheckResult } from './connectability.js';
import { coveringRule } from '../config/ports.js';
import type { Catalogue, User } from '../store/catalogue.js';
import type { Refusal, SwarmAccess, SwarmAnnounce, TrackerStore } from '../store/driver.js';
import { RequestBudget } from './budget.js';
import { DownloadSlots, type TakenSlot } from './download-slots.js';
import { checkRegistered, withoutBlocked } from './blocked-peers.js';
import { fullScrapeOf, type FullScrapeSnapshot } from './full-scrape.js';
import { PeerListBudget } from './peer-lists.js';
import type { TrackerPolicy } from './policy.js';
import { NOT_STORED_WARNINGS, OVER_BUDGET, TOO_SOON, type BudgetProtocol, type DefenceObserver } from './defences.js';

export { trackerPolicy, type TrackerPolicy } from './policy.js';

/** Attempts at deleting a used-up freeleech token, a second apart. */
const TOKEN_END_ATTEMPTS = 3;
const TOKEN_END_RETRY_MS = 1000;

export const REFUSALS: Record<Refusal, string> = {
  denied: 'this torrent is not allowed on this tracker',
  not_allowed: 'this torrent is not on the allow list of this tracker',
  unregistered: 'unregistered torrent',
  peer_limit: 'your account already runs the most peers allowed on this torrent (private.peers_per_torrent): stop one of them first',
};

/**
 * How many peers an announce gets, for every frontend: none on `stopped`; otherwise what the client
 * asked for (undefined: default_numwant), at most max_numwant and at most `transportCap`, what the
 * transport carries in one answer (UDP: one datagram; Infinity when it has no such limit). The
 * default and the maximum are the tracker's policy, so the rule lives here, where every frontend's
 * request passes, and a frontend only states its own cap (AnnounceRequest.maxPeers).
 */
export function peersWanted(asked: number | undefined, event: AnnounceEvent, policy: TrackerPolicy, transportCap: number): number {
  return event === 'stopped' ? 0 : Math.min(asked ?? policy.defaultNumwant, policy.maxNumwant, transportCap);
}

/** `ip` when it has `length` bytes (4: IPv4, 16: IPv6), else `otherwise`. */
function familyIp(ip: Buffer | undefined, length: number, otherwise: Buffer | undefined): Buffer | undefined {
  return ip?.length === length ? ip : otherwise;
}

export class Tracker {
  /** Accounting record ids: this process's random prefix and a counter, unique without coordination. */
  private readonly recordPrefix = randomBytes(8).toString('hex');
  private recordCount = 0;
  /**
   * The policy in force. Every request reads it once, through this one reference, and what hangs off it
   * (budgets, peer-list counts, the open access rules) is replaced with it: reconfigure().
   */
  policy: TrackerPolicy;
  /** Request budgets, shared through the store when it offers shared counters. */
  budget: RequestBudget | null = null;
  /** The access rules of an announce without a user: the same for every one, so made once per policy. */
  private openAccess: SwarmAccess;
  /** Private mode: peer lists per user (private.peer_list_budget); null when unlimited. */
  private peerLists: PeerListBudget | null = null;
  /** Private mode: users' download slots; null without a ledger to count them in. */
  private readonly slots: DownloadSlots | null;
  /** Private mode: the connectability check (connectability.ts); null when off. */
  readonly connectability: Connectability | null;
  /** allow_full_scrape (full-scrape.ts); null: off, or no scrapeAll. */
  fullScrape: FullScrapeSnapshot | null = null;

  constructor(
    readonly store: TrackerStore,
    private readonly backend: Backend | null,
    policy: TrackerPolicy,
    private readonly observer?: DefenceObserver,
  ) {
    this.policy = policy;
    this.openAccess = { requireRegistered: policy.private, requireAllowed: policy.approvedTorrentsOnly };
    this.install(policy, null);
    const leeching = store.leeching;
    const checked = (result: CheckResult) => observer?.connectabilityChecked?.(result);
    this.connectability =
      policy.private && policy.connectable ? new Connectability(policy.connectable, store.connectable, checked, undefined, store.peers) : null;
    this.slots = policy.private && leeching && policy.downloadSlotWindow ? new DownloadSlots(leeching, store.catalogue, policy.downloadSlotWindow) : null;
  }

  /**
   * Puts `next` in force in one step (a configuration reload). Budgets and peer-list counts start again
   * only when their own settings changed. The connectability check and download slots keep the policy
   * they were made with: the keys behind them need a restart (src/boot-reload.ts).
   */
  reconfigure(next: TrackerPolicy): void {
    this.install(next, this.policy);
  }

  private install(next: TrackerPolicy, previous: TrackerPolicy | null): void {
    if (!previous || !isDeepStrictEqual(next.budget, previous.budget)) {
      this.budget?.close();
      const sharing = this.store.addBudgetCounts?.bind(this.store) ?? null;
      this.budget = next.budget ? new RequestBudget(next.budget, sharing) : null;
    }
    if (!previous || next.private !== previous.private || !isDeepStrictEqual(next.peerListBudget, previous.peerListBudget)) {
      const lists = next.peerListBudget;
      this.peerLists = next.private && lists && lists.budget > 0 ? new PeerListBudget(lists.budget, lists.windowSeconds * 1000) : null;
    }
    if (!previous || next.allowFullScrape !== previous.allowFullScrape || !isDeepStrictEqual(next.fullScrape, previous.fullScrape)) {
      this.fullScrape = next.allowFullScrape ? fullScrapeOf(this.store, next.fullScrape) : null;
    }
    this.openAccess = { requireRegistered: next.private, requireAllowed: next.approvedTorrentsOnly };
    this.policy = next;
  }

  /** Stops the budget's background sync. */
  close(): void {
    this.budget?.close();
    this.connectability?.close();
  }

  /**
   * Counts a request against its address's and subnet's budgets; throws the refusal when one is spent.
   * First of all in every request: one over budget costs a lookup and changes nothing.
   */
  spendBudget(protocol: BudgetProtocol, action: 'announce' | 'scrape', sourceIp: Buffer | undefined): void {
    if (!this.budget || !sourceIp) return;
    const spent = this.budget.take(sourceIp);
    if (spent) {
      this.observer?.overBudget(protocol, action, spent);
      throw OVER_BUDGET[spent];
    }
  }

  async announce(req: AnnounceRequest): Promise<AnnounceResult> {
    const policy = this.policy;
    this.spendBudget(req.transport ?? 'http', 'announce', req.sourceIp);
    this.checkClient(req.peerId);
    if (policy.private && req.event !== 'stopped') {
      if (policy.deniedPorts?.length) this.checkPort(req.port);
      this.checkUserAgent(req.userAgent);
    }
    const user = policy.private ? await this.userOf(req.passkey) : null;
    if (user) this.mayLeech(user, req.left, req.event);
    const slot = user ? this.takeSlot(user, req.infoHash, req.left, req.event) : undefined;
    const access: SwarmAccess = user ? this.privateAccess(user, req.uploaded, req.downloaded) : this.openAccess;
    // The compact addresses the announcer registers: its source address, plus BEP 7 claims if allowed.
    let ip4 = familyIp(req.sourceIp, 4, undefined);
    let ip6 = familyIp(req.sourceIp, 16, undefined);
    if (policy.allowIpSpoofing) {
      for (const claimed of [req.claimedIp, req.claimedIpv4, req.claimedIpv6]) {
        ip4 = familyIp(claimed, 4, ip4);
        ip6 = familyIp(claimed, 16, ip6);
      }
    }
    const v4 = ip4 && compactPeer(ip4, req.port);
    const v6 = ip6 && compactPeer(ip6, req.port);
    if (policy.blockedPeers) checkRegistered(policy.blockedPeers, req.transport ?? 'http', v4, v6);
    if (user) this.noteAddress(user, req.sourceIp);
    let numwant = peersWanted(req.numwant, req.event, policy, req.maxPeers ?? Infinity);
    if (user && numwant > 0 && this.peerLists && !this.peerLists.take(user.id)) {
      numwant = 0;
      this.observer?.peerListWithheld();
    }
    const enforcement = policy.minIntervalEnforcement ?? 'off';
    const swarmAnnounce: SwarmAnnounce = {
      infoHash: req.infoHash,
      peerId: req.peerId,
      v4,
      v6,
      seeder: req.left === 0,
      event: req.event,
      numwant,
      want4: req.peerFamily ? req.peerFamily === 4 : !policy.respectAf || v4 !== undefined,
      want6: req.peerFamily ? req.peerFamily === 6 : !policy.respectAf || v6 !== undefined,
      subnet4: policy.subnet4,
      subnet6: policy.subnet6,
      withPeerIds: !req.compact && !req.noPeerId,
      access,
      // In the literal, not added after: every announce's object keeps one shape.
      minInterval: enforcement !== 'off' && req.event === 'none' ? policy.minAnnounceInterval : 0,
    };
    const swarm = await this.store.announce(swarmAnnounce);
    if (user) this.settleSlot(user, req.infoHash, slot, swarm.refused !== undefined);
    const interval = policy.announceInterval + Math.floor(Math.random() * (policy.intervalJitter + 1));
    if (swarm.refused) throw await this.refusalOf(swarm.refused, req.infoHash);
    if (swarm.tooSoon) {
      this.observer?.tooSoon(enforcement === 'refuse');
      if (enforcement === 'refuse') throw TOO_SOON;
    }
    if (swarm.notStored) this.observer?.notStored(swarm.notStored);
    // What is known of the announcing address's port now; a check runs later when none is known.
    const connectable = user && req.event !== 'stopped' ? this.connectability?.note(formatIp(req.sourceIp), req.port, req.infoHash, user.id) : undefined;
    // Nothing was written for a peer too soon or not stored: its transfer counts at its next written announce.
    if (user && !swarm.tooSoon && !swarm.notStored) {
      const waiting = this.credit(
        {
          infoHash: req.infoHash,
          peerId: req.peerId,
          event: req.event,
          uploaded: req.uploaded,
          downloaded: req.downloaded,
          left: req.left,
          ipv4: v4 ? formatIp(v4.subarray(0, 4)) : '',
          ipv6: v6 ? formatIp(v6.subarray(0, 16)) : '',
          port: req.port,
          interval,
          connectable,
        },
        user,
        access.announceId!,
        swarm,
      );
      if (waiting) await waiting;
    }
    let { peers4, peers6, peerIds4, peerIds6 } = swarm;
    if (policy.blockedPeers) {
      [peers4, peerIds4] = withoutBlocked(policy.blockedPeers, peers4, peerIds4, 6);
      [peers6, peerIds6] = withoutBlocked(policy.blockedPeers, peers6, peerIds6, 18);
    }
    return {
      interval,
      minInterval: policy.minAnnounceInterval,
      complete: swarm.complete,
      incomplete: swarm.incomplete,
      downloaded: swarm.downloaded,
      peers4,
      peers6,
      peerIds4,
      peerIds6,
      warning: swarm.notStored
        ? NOT_STORED_WARNINGS[swarm.notStored]
        : connectable === false && this.connectability!.policy.warning
          ? NOT_CONNECTABLE
          : undefined,
    };
  }

  async scrape(req: ScrapeRequest): Promise<ScrapeResult> {
    const minRequestInterval = this.policy.minAnnounceInterval;
    this.spendBudget(req.transport ?? 'http', 'scrape', req.sourceIp);
    if (this.policy.private) await this.userOf(req.passkey);
    if (req.infoHashes.length === 0) {
      if (!this.fullScrape) throw new ClientError('full scrape is not allowed: name at least one info_hash');
      return { files: await this.fullScrape.get(), minRequestInterval };
    }
    if (req.infoHashes.length > this.policy.maxScrapeInfoHashes) {
      throw new ClientError(`too many info_hash values in one scrape (at most ${this.policy.maxScrapeInfoHashes})`);
    }
    const counts = await this.store.scrape(req.infoHashes);
    return { files: req.infoHashes.map((infoHash, i) => ({ infoHash, counts: counts[i]! })), minRequestInterval };
  }

  /**
   * A denied client prefix refuses its peer_ids in every mode; with approved_clients_only, so does having
   * no approved one. The longest matching prefix decides. No lookup when neither applies.
   */
  checkClient(peerId: Buffer): void {
    // A custom driver for a public tracker may come without a catalogue (boot() allows it): no rules then.
    const catalogue = this.store.catalogue as Catalogue | undefined;
    if (!this.policy.approvedClientsOnly && !catalogue?.deniesClients()) return;
    const rule = catalogue!.clientRule(peerId);
    if (rule?.action === 'deny') throw new ClientError(`your client is denied on this tracker (${rule.name})`);
    if (this.policy.approvedClientsOnly && !rule) throw new ClientError("your client is not approved on this tracker; see the site's list of allowed clients");
  }

  /** Private mode: a User-Agent of private.denied_user_agents gets a failure reason naming its rule. */
  checkUserAgent(userAgent: string | undefined): void {
    const rules = this.policy.deniedUserAgents;
    if (!this.policy.private || !rules || rules.empty || userAgent === undefined) return;
    const rule = rules.match(userAgent);
    if (rule !== undefined) throw new ClientError(`your client is denied on this tracker (private.denied_user_agents: ${rule})`);
  }

  /** Private mode: a port of private.denied_ports gets a failure reason naming its rule (a stop goes through). */
  checkPort(port: number): void {
    const rule = coveringRule(this.policy.deniedPorts ?? [], port);
    if (rule !== undefined) throw new ClientError(`port ${port} is denied on this tracker (private.denied_ports: ${rule}); use another port`);
  }

  /** Private mode: the enabled user holding this passkey, or a failure reason. */
  async userOf(passkey: string | undefined): Promise<User> {
    if (!passkey) throw new ClientError('this is a private tracker: use the announce URL with your passkey (/PASSKEY/announce)');
    if (passkey.length > 128) throw new ClientError('unknown passkey');
    const user = await this.store.catalogue.userByPasskey(passkey);
    if (!user) throw new ClientError('unknown passkey');
    if (!user.enabled) throw new ClientError('your account is disabled on this tracker');
    return user;
  }

  /**
   * Private mode: refuses a user whose download rights were revoked (can_leech false) an announce with
   * bytes left (or an unknown left); seeding goes on, and a stop is never refused: it ends the peer and
   * carries its last totals to the accounting.
   */
  mayLeech(user: User, left: number | undefined, event: AnnounceEvent): void {
    if (user.canLeech === false && left !== 0 && event !== 'stopped') throw new ClientError('downloading disabled');
  }

  /** Private mode: the user's download slot for this torrent, or the refusal of a new download past them (download-slots.ts). */
  takeSlot(user: User, infoHash: Buffer, left: number | undefined, event: AnnounceEvent): TakenSlot | undefined {
    return this.slots?.take(user, infoHash, left, event);
  }

  /** Private mode: after the store's step, a refused announce gives its new slot back. */
  settleSlot(user: User, infoHash: Buffer, slot: TakenSlot | undefined, refused: boolean): void {
    this.slots?.settle(user, infoHash, slot, refused);
  }

  /**
   * Private mode: the access rules and accounting inputs of one user's announce, for the store (the
   * compact swarms' and the WebRTC swarms' alike): the totals it reports now, and a fresh record id.
   */
  privateAccess(user: User, uploaded: number, downloaded: number): SwarmAccess {
    return {
      requireRegistered: this.policy.private,
      requireAllowed: this.policy.approvedTorrentsOnly,
      userId: user.id,
      uploaded,
      downloaded,
      announceId: `${this.recordPrefix}-${(this.recordCount++).toString(36)}`,
      peerLimit: this.policy.peersPerTorrent || undefined,
      ownPeers: this.policy.ownPeers || undefined,
    };
  }

  /** Private mode: counts the address a user announces from (private.addresses_per_user); a failure reason when refused. */
  noteAddress(user: User, sourceIp: Buffer): void {
    const limits = this.policy.addressLimits;
    if (!limits || !this.store.addresses) return;
    if (this.store.addresses.note(user.id, formatIp(sourceIp), limits).refused) {
      throw new ClientError(`your account announced from ${limits.limit} addresses already in the last ${limits.windowSeconds} s, the most allowed`);
    }
  }

  /**
   * The failure reason of a store's refusal of an announce on `infoHash`: for an unregistered torrent
   * deleted with a reason, that reason (one more read, on refusals only).
   */
  async refusalOf(refused: Refusal, infoHash: Buffer): Promise<ClientError> {
    if (refused === 'unregistered') {
      const reason = await this.store.catalogue.deletionReason(infoHash).catch(() => null);
      if (reason !== null) return new ClientError(`torrent deleted: ${reason}`);
    }
    return this.refusal(refused);
  }

  /** The failure reason of a store's refusal, for every frontend. */
  refusal(refused: Refusal): ClientError {
    if (refused === 'peer_limit') {
      return new ClientError(`your account already runs ${this.policy.peersPerTorrent} peers on this torrent, the most allowed: stop one of them first`);
    }
    return new ClientError(REFUSALS[refused]);
  }

  /**
   * Private mode: hands the backend what this announce moved since the peer's previous one (the
   * compact and the WebRTC announce alike); a promise only when the backend makes the announce wait.
   */
  credit(announce: CreditedAnnounce, user: User, id: string, outcome: StoreOutcome): void | Promise<void> {
    if (!this.backend) return;
    const record = accountingRecord(announce, user, id, outcome, this.store.catalogue.globalFreeleech());
    if (record.tokenEnd) void this.endToken(user.id, record.torrentId, record.tokenEnd);
    return this.backend.record(record);
  }

  /**
   * Deletes a token its announce used up or found expired, off the announce's path. Retried a few
   * times: a completed torrent's token left behind would hold on. Replicas may race to end the same
   * token; each record says so, and a consumer keeps one end.
   */
  private async endToken(userId: number, torrentId: number, end: TokenEnd): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.store.catalogue.deleteToken(userId, torrentId);
        this.observer?.tokenEnded(end, false);
        return;
      } catch {
        if (attempt === TOKEN_END_ATTEMPTS) {
          this.observer?.tokenEnded(end, true);
          return;
        }
        await sleep(TOKEN_END_RETRY_MS);
      }
    }
  }
}
