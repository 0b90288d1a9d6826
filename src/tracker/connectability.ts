/**
 * Private mode's connectability check (private.connectable_check): is a peer reachable at the port it
 * announced? It is an outbound connection made because a stranger asked, so it is bounded like a public
 * service: only the address that announced and only its announced port; at most one check per (ip,
 * port) per ttl, across replicas (the store's shared results, a short claim so one replica checks);
 * global concurrency and rate caps with a bounded queue; a timeout; nothing for a trusted proxy's own
 * address and nothing in private ranges unless configured. The announce only reads this process's
 * cache: unknown until known, never a round trip.
 */
import { BlockList, isIP } from 'node:net';
import { randomBytes } from 'node:crypto';
import { trustedProxyList, type Config } from '../config/config.js';
import type { ConnectableResults } from '../store/driver.js';
import type { UserLedger } from '../store/user-ledger.js';
import { probe as tcpProbe, type ProbeOptions } from './connect-probe.js';

export interface ConnectablePolicy {
  ttlSeconds: number;
  timeoutMs: number;
  /** Also complete a BitTorrent handshake for the announced info hash. */
  handshake: boolean;
  /** Most checks running at once in this process. */
  concurrency: number;
  /** Most checks started per second in this process. */
  ratePerSecond: number;
  /** Check addresses in private and other non-public ranges too (a tracker on a private network, tests). */
  privateRanges: boolean;
  /** Tell a peer found not connectable so in the answer's warning. */
  warning: boolean;
  /** The trusted proxies: their own addresses are never checked (a request that came without a forwarded address). */
  trustedProxies?: BlockList | null;
  /** Seconds a user's (ip, port) stays listed for GET /users/:id/peers after its last announce (peer_ttl). */
  peerWindowSeconds?: number;
}

/** The warning a peer found not connectable gets (private.connectable_warning). */
export const NOT_CONNECTABLE = 'your client is not connectable: open its listening port';

/** The policy the configuration's private.connectable_* keys ask for. */
export function connectablePolicy(config: Config): ConnectablePolicy {
  const p = config.private;
  return {
    ttlSeconds: p.connectable_ttl,
    timeoutMs: p.connectable_timeout * 1000,
    handshake: p.connectable_handshake,
    concurrency: p.connectable_concurrency,
    ratePerSecond: p.connectable_rate,
    privateRanges: p.connectable_private_ranges,
    warning: p.connectable_warning,
    peerWindowSeconds: config.peer_ttl,
    trustedProxies: config.trusted_proxies.length > 0 ? trustedProxyList(config.trusted_proxies) : null,
  };
}

export type CheckResult = 'connectable' | 'not_connectable' | 'skipped';
export type Probe = (ip: string, port: number, options: ProbeOptions) => Promise<boolean>;

/** Most (ip, port) results this process remembers; the oldest go first. */
export const MAX_CACHED = 100_000;
/** Most checks waiting for a slot; an announce past it is skipped and tried again at a later one. */
export const MAX_QUEUED = 10_000;
/** Seconds a replica's claim on a check lasts past its timeout (its result replaces the claim). */
const CLAIM_GRACE_SECONDS = 5;
/** The peer id our handshakes carry: "-SH0001-" and random bytes, one per process. */
const PEER_ID = Buffer.concat([Buffer.from('-SH0001-', 'latin1'), randomBytes(12)]);

/** Ranges that are not the public internet's (RFC 1918, loopback, link-local, CGNAT, ULA, documentation, multicast...). */
function nonPublicRanges(): BlockList {
  const list = new BlockList();
  for (const [address, prefix] of [
    ['0.0.0.0', 8],
    ['10.0.0.0', 8],
    ['100.64.0.0', 10],
    ['127.0.0.0', 8],
    ['169.254.0.0', 16],
    ['172.16.0.0', 12],
    ['192.0.0.0', 24],
    ['192.0.2.0', 24],
    ['192.168.0.0', 16],
    ['198.18.0.0', 15],
    ['198.51.100.0', 24],
    ['203.0.113.0', 24],
    ['224.0.0.0', 3],
  ] as const)
    list.addSubnet(address, prefix, 'ipv4');
  for (const [address, prefix] of [
    ['::', 127],
    ['64:ff9b:1::', 48],
    ['100::', 64],
    ['2001:db8::', 32],
    ['fc00::', 7],
    ['fe80::', 10],
    ['ff00::', 8],
  ] as const)
    list.addSubnet(address, prefix, 'ipv6');
  return list;
}
const NON_PUBLIC = nonPublicRanges();

interface Entry {
  /** undefined while a check is queued or running, or after it was skipped. */
  result: boolean | undefined;
  /** Unix ms after which the (ip, port) may be checked again. */
  until: number;
}

interface Job {
  key: string;
  ip: string;
  port: number;
  infoHash: Buffer;
}

export class Connectability {
  private readonly cache = new Map<string, Entry>();
  private readonly queue: Job[] = [];
  private running = 0;
  /** Checks that may start now (a bucket refilled at ratePerSecond, holding at most one second's). */
  private tokens: number;
  private refilled = Date.now();
  private wakeup: NodeJS.Timeout | null = null;
  private closed = false;
  /** Settles when nothing is queued or running (tests wait on it). */
  private idleWaiters: Array<() => void> = [];

  constructor(
    readonly policy: ConnectablePolicy,
    private readonly shared: ConnectableResults | undefined,
    private readonly observe: (result: CheckResult) => void = () => undefined,
    private readonly probe: Probe = tcpProbe,
    /** Where each user's (ip:port) is listed for the management API (the store's `peers`); optional. */
    private readonly peers?: UserLedger,
  ) {
    this.tokens = policy.ratePerSecond;
  }

  /**
   * On the announce path: what is known of (ip, port) now (undefined: unknown), and a check queued when
   * none was made within the ttl. Costs a map lookup; the check runs later.
   */
  note(ip: string, port: number, infoHash: Buffer, userId?: number): boolean | undefined {
    const key = `${ip}:${port}`;
    const now = Date.now();
    if (userId !== undefined && port !== 0) this.peers?.note(userId, key, { windowSeconds: this.policy.peerWindowSeconds ?? 3600, limit: 0, enforce: false });
    const entry = this.cache.get(key);
    if (entry && entry.until > now) return entry.result;
    if (this.closed || port === 0) return undefined;
    if (this.queue.length >= MAX_QUEUED) {
      // Not remembered: a later announce tries again once the queue has room.
      this.observe('skipped');
      return undefined;
    }
    // Remembered for the ttl whatever comes next: a refused address costs one decision per ttl, not one per announce.
    this.remember(key, { result: undefined, until: now + this.policy.ttlSeconds * 1000 });
    if (!this.mayCheck(ip)) {
      this.observe('skipped');
      return undefined;
    }
    this.queue.push({ key, ip, port, infoHash });
    this.pump();
    return undefined;
  }

  /** Whether an address may be checked at all: a valid IP, not a trusted proxy's, public unless configured. */
  mayCheck(text: string): boolean {
    // An IPv4-mapped IPv6 address is judged as the IPv4 address it maps.
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(text);
    const ip = mapped ? mapped[1]! : text;
    const family = isIP(ip);
    if (family === 0) return false;
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (this.policy.trustedProxies?.check(ip, type)) return false;
    return this.policy.privateRanges || !NON_PUBLIC.check(ip, type);
  }

  /**
   * For the management API: the result known for an "IP:PORT" key, this process's or (when it has none)
   * the one the other replicas stored; null while unknown. Reads the store: never on the announce path.
   */
  async known(key: string): Promise<boolean | null> {
    const entry = this.cache.get(key);
    if (entry?.result !== undefined && entry.until > Date.now()) return entry.result;
    return (await this.shared?.get(key).catch(() => null)) ?? null;
  }

  /** Resolves once no check is queued or running. */
  idle(): Promise<void> {
    if (this.running === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  close(): void {
    this.closed = true;
    this.queue.length = 0;
    if (this.wakeup) clearTimeout(this.wakeup);
    this.wakeup = null;
    this.settleIdle();
  }

  private remember(key: string, entry: Entry): void {
    this.cache.delete(key);
    this.cache.set(key, entry);
    if (this.cache.size > MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
  }

  private pump(): void {
    const rate = this.policy.ratePerSecond;
    const now = Date.now();
    this.tokens = Math.min(rate, this.tokens + ((now - this.refilled) / 1000) * rate);
    this.refilled = now;
    while (this.queue.length > 0 && this.running < this.policy.concurrency && this.tokens >= 1) {
      this.tokens--;
      this.running++;
      void this.run(this.queue.shift()!).finally(() => {
        this.running--;
        this.pump();
      });
    }
    if (this.queue.length > 0 && this.running < this.policy.concurrency && !this.wakeup) {
      // Out of tokens: come back when the next one is due (a queued check is work to do: close() ends the wait).
      this.wakeup = setTimeout(
        () => {
          this.wakeup = null;
          this.pump();
        },
        Math.ceil(((1 - this.tokens) / rate) * 1000),
      );
    }
    this.settleIdle();
  }

  private settleIdle(): void {
    if (this.running > 0 || (this.queue.length > 0 && !this.closed)) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private async run(job: Job): Promise<void> {
    const ttl = this.policy.ttlSeconds;
    try {
      if (this.shared) {
        // Another replica's result, or its claim on the check: then its result is read once it is due.
        const known = await this.shared.get(job.key);
        if (known !== null) return this.store(job.key, known);
        const claimSeconds = Math.ceil(this.policy.timeoutMs / 1000) + CLAIM_GRACE_SECONDS;
        if (!(await this.shared.claim(job.key, claimSeconds))) return this.readLater(job.key, claimSeconds);
      }
      const handshake = this.policy.handshake ? { infoHash: job.infoHash, peerId: PEER_ID } : undefined;
      const connectable = await this.probe(job.ip, job.port, { timeoutMs: this.policy.timeoutMs, handshake });
      this.observe(connectable ? 'connectable' : 'not_connectable');
      this.store(job.key, connectable);
      await this.shared?.set(job.key, connectable, ttl);
    } catch {
      // The store unreachable: the address stays unknown here until its ttl passes.
    }
  }

  private store(key: string, connectable: boolean): void {
    if (!this.closed) this.remember(key, { result: connectable, until: Date.now() + this.policy.ttlSeconds * 1000 });
  }

  /** Reads another replica's result once its claim has run out (one read, off the announce path). */
  private readLater(key: string, seconds: number): void {
    const timer = setTimeout(() => {
      if (this.closed || !this.shared) return;
      this.shared.get(key).then(
        (known) => known !== null && this.store(key, known),
        () => undefined,
      );
    }, seconds * 1000);
    timer.unref();
  }
}
