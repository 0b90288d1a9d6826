/** The soak's summary block: what was sent, what broke, and what PostgreSQL says against the truth. */
import type { Crash } from './children.js';
import type { FaultKind, FaultRecord } from './faults.js';
import type { AnnounceStats, Session } from './sessions.js';
import { isExpectedFailure } from './sessions.js';
import type { StreamTap } from './tap.js';
import type { DrainResult, Verdict } from './verdict.js';

export interface RunFacts {
  topology: string;
  seed: number;
  minutes: number;
  concurrency: number;
  replicaParam: boolean;
  trafficSeconds: number;
  since: number;
  stats: AnnounceStats;
  sessions: readonly Session[];
  faults: readonly FaultRecord[];
  faultKinds: readonly FaultKind[];
  /** Live sessions whose last success came before the last fault's recovery (they should be none). */
  staleLive: number;
  /** Exits of a tracker or the consumer that no fault caused. */
  crashes: readonly Crash[];
  /** Master switches the sentinel made by itself (not a planned failover), "t+…s to :port". */
  unplannedSwitches: readonly string[];
  tap: StreamTap;
  drain: DrainResult;
  verdict: Verdict;
  logDir: string;
}

const GIB = 1024 ** 3;
const bytes = (n: number): string => `${n} (${(n / GIB).toFixed(2)} GiB)`;
const signed = (n: number): string => (n > 0 ? `+${n}` : String(n));

export function faultCounts(faults: readonly FaultRecord[], kinds: readonly FaultKind[]): string {
  return kinds.map((kind) => `${kind}=${faults.filter((f) => f.kind === kind && !f.error).length}`).join(' ');
}

export function printSummary(f: RunFacts, out: (line: string) => void): void {
  const { stats, verdict } = f;
  const t = (ms: number) => `t+${((ms - f.since) / 1000).toFixed(1)}s`;
  out('');
  out('==================== soak summary ====================');
  out(
    `run: topology ${f.topology}, seed ${f.seed}, ${f.minutes} min, ${f.concurrency} concurrent sessions, backend.params.replica ${f.replicaParam ? 'set (r1, r2, r3)' : 'not accepted by this build: left out'}`,
  );
  out(
    `announces: ${stats.sent} sent (${(stats.sent / f.trafficSeconds).toFixed(1)}/s over ${f.trafficSeconds.toFixed(0)} s), ${stats.succeeded} succeeded, ${stats.failedThenRetried} failed then retried, ${stats.abandoned} failed at the end (not retried)`,
  );
  out(`  by transport: http ${stats.byTransport.http}, udp ${stats.byTransport.udp}; from 127.0.0.1 ${stats.byFamily[4]}, from ::1 ${stats.byFamily[6]}`);
  const reasons = [...stats.failureReasons].sort((a, b) => b[1] - a[1]);
  out(`  failures by reason: ${reasons.length ? reasons.map(([r, n]) => `"${r}" ${n}`).join(', ') : 'none'}`);
  const unexpected = reasons.filter(([r]) => !isExpectedFailure(r));
  if (unexpected.length) out(`  UNEXPECTED failure reasons: ${unexpected.map(([r, n]) => `"${r}" ${n}`).join(', ')}`);
  const s = f.sessions;
  out(
    `sessions: ${s.length} (hybrid ${s.filter((x) => x.hybrid).length}, dual-stack ${s.filter((x) => x.dualStack).length}, udp ${s.filter((x) => x.transport === 'udp').length}); ` +
      `${s.filter((x) => x.live).length} live at the end, ${s.filter((x) => x.stoppedAccepted).length} stopped, ${s.filter((x) => x.abandoned).length} in doubt; ` +
      `${s.filter((x) => x.completedAccepted).length} completed`,
  );
  if (f.staleLive > 0) out(`  WARNING: ${f.staleLive} live sessions did not announce after the last fault's recovery`);
  out(`faults: ${faultCounts(f.faults, f.faultKinds)}`);
  for (const fault of f.faults) {
    const recovered =
      fault.recoveredAt && fault.recoveredAt !== Number.MAX_SAFE_INTEGER ? ` (back ${((fault.recoveredAt - fault.at) / 1000).toFixed(1)} s later)` : '';
    out(`  ${t(fault.at)} ${fault.kind}: ${fault.detail}${recovered}${fault.error ? ` FAILED: ${fault.error}` : ''}`);
  }
  if (f.unplannedSwitches.length) {
    out(`sentinel failovers no fault asked for (counted as Redis losses): ${f.unplannedSwitches.join(', ')}`);
  }
  out(`crashes (exits no fault caused; restarted 2 s later): ${f.crashes.length}`);
  for (const crash of f.crashes) out(`  ${t(crash.at)} ${crash.label} ${crash.how}`);
  out(
    `tap: ${f.tap.records.length} stream entries read with XREAD (${verdict.tapRecordsOfSessions} of the soak's sessions, ${f.tap.unreadable} unreadable, ${f.tap.errors} read errors${f.tap.overflowed ? ', OVERFLOWED' : ''})`,
  );
  out(`drain: ${f.drain.drained ? `done in ${f.drain.seconds.toFixed(1)} s` : `GAVE UP after ${f.drain.seconds.toFixed(0)} s`} (${f.drain.detail})`);

  const off = verdict.users.filter(
    (u) => u.credited.uploaded !== u.truth.uploaded - u.allowed.uploaded || u.credited.downloaded !== u.truth.downloaded - u.allowed.downloaded,
  );
  out(`users with a difference: ${off.length} of ${verdict.users.length} (credited − (truth − allowed loss), bytes)`);
  for (const u of off.slice(0, 60)) {
    out(
      `  user ${u.user.id}: up truth ${u.truth.uploaded} credited ${u.credited.uploaded} allowed ${u.allowed.uploaded} diff ${signed(u.credited.uploaded - u.truth.uploaded + u.allowed.uploaded)}; ` +
        `down truth ${u.truth.downloaded} credited ${u.credited.downloaded} allowed ${u.allowed.downloaded} diff ${signed(u.credited.downloaded - u.truth.downloaded + u.allowed.downloaded)}`,
    );
  }
  if (off.length > 60) out(`  … and ${off.length - 60} more`);
  const sum = (pick: (u: Verdict['users'][number]) => number) => verdict.users.reduce((n, u) => n + pick(u), 0);
  for (const dir of ['uploaded', 'downloaded'] as const) {
    const truth = sum((u) => u.truth[dir]);
    const credited = sum((u) => u.credited[dir]);
    const allowed = sum((u) => u.allowed[dir]);
    out(
      `bytes ${dir}: truth ${bytes(truth)}, credited ${bytes(credited)}, difference ${signed(credited - truth)}; allowed (lost with Redis) ${allowed}; unexplained ${signed(credited - truth + allowed)}`,
    );
  }
  if (verdict.diagnoses.length > 0) {
    out(`where the missing credit went, per session (from the tap, which may have missed entries while Redis was away):`);
    for (const d of verdict.diagnoses) {
      out(`  ${d.diagnosis}: ${d.sessions} sessions, ${d.missing.uploaded} bytes up, ${d.missing.downloaded} bytes down (e.g. ${d.example})`);
    }
  }
  out(`stream: ${verdict.unappliedInStream} entries still in it at the end, never applied`);
  const lostUp = verdict.lost.reduce((n, l) => n + l.credit.uploaded, 0);
  const lostDown = verdict.lost.reduce((n, l) => n + l.credit.downloaded, 0);
  out(`lost with Redis (allowed): ${verdict.lost.length} sessions, ${lostUp} bytes up, ${lostDown} bytes down credited`);
  for (const l of verdict.lost.slice(0, 20)) {
    out(`  ${l.session.key}: raw up ${l.raw.uploaded}, raw down ${l.raw.downloaded}${l.snatch ? ', its snatch' : ''}`);
  }
  if (verdict.lost.length > 20) out(`  … and ${verdict.lost.length - 20} more`);
  const snatchTruth = verdict.snatches.reduce((n, x) => n + x.truth, 0);
  const snatchCredited = verdict.snatches.reduce((n, x) => n + x.credited, 0);
  const snatchAllowed = verdict.snatches.reduce((n, x) => n + x.allowed, 0);
  const snatchOff = verdict.snatches.filter((x) => x.credited !== x.truth - x.allowed);
  out(`snatches: truth ${snatchTruth}, torrents.snatches ${snatchCredited}, allowed ${snatchAllowed}; torrents off: ${snatchOff.length}`);
  for (const x of snatchOff) out(`  torrent ${x.torrent.id}: truth ${x.truth}, credited ${x.credited}, allowed ${x.allowed}`);
  const ap = verdict.activePeers;
  out(
    `active_peers: ${ap.rows} rows, ${ap.live} live sessions (${ap.inDoubt} in doubt or lost with Redis, not compared): ${ap.missing.length} missing, ${ap.extra.length} extra → ${ap.missing.length === 0 && ap.extra.length === 0 ? 'exactly the live sessions' : 'DIFFERENT'}`,
  );
  for (const k of ap.missing.slice(0, 5)) out(`  missing ${k}`);
  for (const k of ap.extra.slice(0, 5)) out(`  extra ${k}`);
  out(`logs: ${f.logDir}${f.logDir.startsWith('/') ? ' (sessions.jsonl: every session whose applied records miss its truth, with its records)' : ''}`);
  const failures = [
    ...(f.drain.drained ? [] : ['the drain gave up']),
    ...(f.crashes.length ? [`${f.crashes.length} crashes of a tracker or the consumer`] : []),
    ...verdict.reasons,
  ];
  out(`verdict: ${failures.length === 0 ? 'PASS' : `FAIL: ${failures.join('; ')}`}`);
  out('======================================================');
}
