/**
 * The simulated clients: a fixed number of concurrent private sessions (a user, a torrent, a fresh
 * peer_id), each announcing `started`, then growing totals every min interval to twice that, `completed`
 * when nothing is left, and `stopped` at the end of its lifetime, when a new session takes its place.
 * Clients behave as real ones behind a load balancer: an attempt that fails (connection refused, reset,
 * a timeout, a failure reason) is sent again, unchanged, to another replica after a short pause, until
 * it succeeds; totals grow only after a success, and a session never has two announces in flight.
 *
 * The ground truth is what the tracker accepted: per session, the totals of its last successful
 * announce. A hybrid session announces the v1 and the v2 hash, a dual-stack one from 127.0.0.1 and ::1,
 * each pair with the same totals: one session, counted once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { SoakTorrent, SoakUser } from './catalogue.js';
import { announceHttp, announceUdp, type AnnounceEvent, type Family, type ReplicaAddress } from './client.js';
import type { Random } from './random.js';

const MIB = 1024 * 1024;

export interface SessionPlanOptions {
  /** Sessions live at once. */
  concurrency: number;
  /** The tracker's min_announce_interval, in seconds: the gap between two announces of a session is this to twice this. */
  minIntervalSeconds: number;
  /** Seconds a session lives before its `stopped`, at least and at most. */
  lifetimeSeconds: [number, number];
}

/** One announce of a step: which hash, from which address family. */
interface Leg {
  infoHash: Buffer;
  family: Family;
}

export interface Totals {
  uploaded: number;
  downloaded: number;
}

export class Session {
  /** Totals and left the client reports on its next announce. */
  uploaded = 0;
  downloaded = 0;
  left: number;
  /** The totals of its last announce that got a success answer: the ground truth. */
  readonly accepted: Totals = { uploaded: 0, downloaded: 0 };
  startedAccepted = false;
  completedAccepted = false;
  stoppedAccepted = false;
  /** Gave up in the middle of a step at the end of the run: whether the tracker took it is unknown. */
  abandoned = false;
  /** When an announce of it last succeeded (ms). */
  lastSuccessAt = 0;

  constructor(
    readonly serial: number,
    readonly user: SoakUser,
    readonly torrent: SoakTorrent,
    readonly peerId: Buffer,
    /** The peer's listen port. */
    readonly port: number,
    readonly transport: 'http' | 'udp',
    readonly legs: readonly Leg[],
  ) {
    this.left = torrent.size;
  }

  get key(): string {
    return sessionKey(this.user.id, this.torrent.id, this.peerId.toString('hex'));
  }

  get hybrid(): boolean {
    return this.legs.some((leg) => !leg.infoHash.equals(this.torrent.infoHash));
  }

  get dualStack(): boolean {
    return this.legs.some((leg) => leg.family === 6);
  }

  /** In the swarm at the end: started, not stopped (and not left in doubt). */
  get live(): boolean {
    return this.startedAccepted && !this.stoppedAccepted && !this.abandoned;
  }

  /** Bytes the site owes the user for this session: the accepted totals times the multipliers. */
  credit(): Totals {
    return creditFor(this.user, this.torrent, this.accepted);
  }
}

export function sessionKey(userId: number, torrentId: number, peerIdHex: string): string {
  return `${userId}/${torrentId}/${peerIdHex}`;
}

/** Raw totals × the user's and the torrent's multipliers; downloads count 0 on a freeleech torrent. */
export function creditFor(user: SoakUser, torrent: SoakTorrent, raw: Totals): Totals {
  return {
    uploaded: raw.uploaded * user.upMultiplier * torrent.upMultiplier,
    downloaded: torrent.freeleech ? 0 : raw.downloaded * user.downMultiplier * torrent.downMultiplier,
  };
}

export class AnnounceStats {
  /** Attempts sent. */
  sent = 0;
  succeeded = 0;
  /** Attempts that failed and were sent again elsewhere. */
  failedThenRetried = 0;
  /** Attempts that failed when the run ended, not retried. */
  abandoned = 0;
  readonly failureReasons = new Map<string, number>();
  readonly byTransport = { http: 0, udp: 0 };
  readonly byFamily = { 4: 0, 6: 0 };
}

/** Failure reasons a client behind a load balancer simply retries elsewhere. Anything else is printed as unexpected. */
const EXPECTED_FAILURE =
  /^(ECONNREFUSED|ECONNRESET|EPIPE|timeout|socket hang up|UDP timeout|UDP connect timeout|HTTP 50\d)$|temporarily unavailable|unknown passkey|unregistered torrent/;

export function isExpectedFailure(reason: string): boolean {
  return EXPECTED_FAILURE.test(reason);
}

export class Simulation {
  readonly sessions: Session[] = [];
  readonly stats = new AnnounceStats();
  private stopping = false;
  private hardStop = false;
  private loops: Promise<void>[] = [];
  private serial = 0;

  constructor(
    private readonly random: Random,
    private readonly options: SessionPlanOptions,
    private readonly users: readonly SoakUser[],
    private readonly torrents: readonly SoakTorrent[],
    private readonly replicas: readonly ReplicaAddress[],
  ) {}

  /** Starts the sessions, spread over the first seconds so that their announces do not come in one burst. */
  start(): void {
    const spreadMs = this.options.minIntervalSeconds * 2000;
    this.loops = Array.from({ length: this.options.concurrency }, (_, slot) => this.slot((slot * spreadMs) / this.options.concurrency));
  }

  /**
   * Stops starting steps; waits up to `graceMs` for the steps in flight (each retried until it succeeds),
   * then gives up on those still failing (they are marked abandoned).
   */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    const all = Promise.all(this.loops);
    const timer = setTimeout(() => (this.hardStop = true), graceMs);
    await all;
    clearTimeout(timer);
  }

  private newSession(): Session {
    const r = this.random;
    const user = r.pick(this.users);
    const torrent = r.pick(this.torrents);
    const serial = this.serial++;
    // An Azureus-style peer_id: the client prefix, then 12 random characters. New for every session.
    const peerId = Buffer.concat([Buffer.from('-qB4630-'), Buffer.from(r.bytes(6).toString('hex'))]);
    const transport = r.chance(0.6) ? 'http' : 'udp';
    const hashes = [torrent.infoHash];
    // Most clients of a hybrid torrent announce both hashes (libtorrent 2.x); a few only the v1 one.
    if (torrent.infoHashV2 && r.chance(0.75)) hashes.push(torrent.infoHashV2);
    const families: Family[] = r.chance(0.25) ? [4, 6] : [4];
    const legs = hashes.flatMap((infoHash) => families.map((family) => ({ infoHash, family })));
    const session = new Session(serial, user, torrent, peerId, 10_000 + (serial % 50_000), transport, legs);
    // A third of the sessions seed from the start (left 0: no download, no `completed`).
    if (r.chance(1 / 3)) session.left = 0;
    else session.left = torrent.size - Math.min(torrent.size, r.int(0, 8) * 32 * MIB);
    this.sessions.push(session);
    return session;
  }

  private async slot(delayMs: number): Promise<void> {
    await sleep(delayMs);
    while (!this.stopping) {
      await this.live(this.newSession());
      if (!this.stopping) await sleep(this.random.int(0, 1000));
    }
  }

  /** One session from `started` to `stopped`, or to the end of the run. */
  private async live(s: Session): Promise<void> {
    const r = this.random;
    const [minLife, maxLife] = this.options.lifetimeSeconds;
    const endsAt = Date.now() + r.between(minLife, maxLife) * 1000;
    if (!(await this.step(s, 'started'))) return;
    const min = this.options.minIntervalSeconds * 1000;
    while (!this.stopping) {
      // A little over the min interval at least, so that the tracker never takes an announce for one
      // sent too soon (min_interval_enforcement, left at its default, would answer it without accounting).
      await sleep(r.between(min + 250, 2 * min));
      if (this.stopping) return;
      const wasLeeching = s.left > 0;
      s.uploaded += wasLeeching ? r.int(0, 8 * MIB) : r.int(MIB, 32 * MIB);
      if (wasLeeching) {
        const got = Math.min(s.left, r.int(MIB, 48 * MIB));
        s.downloaded += got;
        s.left -= got;
      }
      let event: AnnounceEvent = 'none';
      if (Date.now() >= endsAt) event = 'stopped';
      // A client says `completed` on the announce after its last piece, whatever else is due.
      else if (wasLeeching && s.left === 0) event = 'completed';
      if (!(await this.step(s, event))) return;
      if (event === 'stopped') return;
    }
  }

  /** Every leg of one announce, each until it succeeds; false when the run ended first. */
  private async step(s: Session, event: AnnounceEvent): Promise<boolean> {
    const fields = { passkey: s.user.passkey, peerId: s.peerId, port: s.port, uploaded: s.uploaded, downloaded: s.downloaded, left: s.left, event };
    for (const leg of s.legs) {
      let replica = this.random.int(0, this.replicas.length - 1);
      for (let failures = 0; ; failures++) {
        if (this.hardStop) {
          // The last failure of this leg is not retried after all.
          if (failures > 0) {
            this.stats.failedThenRetried--;
            this.stats.abandoned++;
          }
          s.abandoned = true;
          return false;
        }
        const target = this.replicas[replica]!;
        const attempt = { ...fields, infoHash: leg.infoHash };
        this.stats.sent++;
        this.stats.byTransport[s.transport]++;
        this.stats.byFamily[leg.family]++;
        const outcome = s.transport === 'http' ? await announceHttp(target, leg.family, attempt) : await announceUdp(target, leg.family, attempt);
        if (outcome.ok) {
          this.stats.succeeded++;
          s.accepted.uploaded = s.uploaded;
          s.accepted.downloaded = s.downloaded;
          s.lastSuccessAt = Date.now();
          if (event === 'started') s.startedAccepted = true;
          if (event === 'completed') s.completedAccepted = true;
          if (event === 'stopped') s.stoppedAccepted = true;
          break;
        }
        this.stats.failedThenRetried++;
        this.stats.failureReasons.set(outcome.reason, (this.stats.failureReasons.get(outcome.reason) ?? 0) + 1);
        // Another replica, as a load balancer's next pick would be, after a short pause.
        replica = (replica + 1) % this.replicas.length;
        await sleep(this.random.int(100, 400));
      }
    }
    return true;
  }
}
