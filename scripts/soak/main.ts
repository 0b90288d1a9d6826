/**
 * `npm run soak -- --minutes N [--topology sentinel|cluster] [--seed S]`: an accounting soak test with
 * fault injection. It starts Redis (Sentinel or Cluster), a private PostgreSQL, three tracker replicas
 * and the reference consumer as real processes on loopback; simulated clients keep about 300 private
 * sessions announcing over HTTP and UDP while replicas, the consumer, PostgreSQL and Redis are killed and
 * restarted; then it drains the stream and compares what PostgreSQL credited with the ground truth.
 * Exit 0 only when every byte, snatch and active peer matches (less what Redis itself lost); 1 otherwise.
 *
 * Time: the run ends `minutes` after its start (set-up included), then the drain has at most
 * --drain-limit seconds. Every process it started is killed however it ends.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { freePort, redisMissing } from '../../test/helpers/redis.js';
import { planCatalogue, registerCatalogue } from './catalogue.js';
import type { Crash } from './children.js';
import { FaultInjector, planFaults, REDIS_LOSS_KINDS, type FaultKind, type FaultTargets } from './faults.js';
import { postgresToolsMissing, PrivatePostgres } from './postgres.js';
import { Random } from './random.js';
import { faultCounts, printSummary } from './report.js';
import {
  ADMIN_TOKEN,
  CONSUMER_GROUP,
  FLUSH_INTERVAL_MS,
  MIN_ANNOUNCE_INTERVAL,
  planConsumer,
  planReplicas,
  replicaParamAccepted,
  STREAM_KEY,
} from './services.js';
import { Simulation } from './sessions.js';
import { StreamTap } from './tap.js';
import { ClusterTopology, connectSoakClient, SentinelTopology, type SoakRedis, type TopologyName } from './topology.js';
import { drain, judge, readDatabase, recordIdsInStream } from './verdict.js';

const USAGE = `usage: npm run soak -- --minutes N [--topology sentinel|cluster] [--seed S] [--sessions N] [--drain-limit SECONDS] [--no-faults]

  --no-faults   the same traffic without any fault: the control run, which must pass on any build`;
const REPLICAS = 3;
/** Before the first fault: every session has started. */
const WARM_UP_MS = 5000;
/** After the last fault: every live session announces again (2 × min interval + the flush interval, with room). */
const QUIET_TAIL_MS = 20_000;
/** The traffic phase must be at least this long once set-up is done, or the run means nothing. */
const MIN_TRAFFIC_MS = 45_000;
/** How long sessions in the middle of an announce get to finish it when the traffic stops. */
const STOP_GRACE_MS = 10_000;
/** Kept back from the drain limit for reading PostgreSQL and tearing down. */
const VERDICT_RESERVE_MS = 10_000;

interface Options {
  minutes: number;
  topology: TopologyName;
  seed: number;
  sessions: number;
  drainLimitSeconds: number;
  faults: boolean;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string' },
      topology: { type: 'string', default: 'sentinel' },
      seed: { type: 'string' },
      sessions: { type: 'string', default: '300' },
      'drain-limit': { type: 'string', default: '60' },
      'no-faults': { type: 'boolean', default: false },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const number = (text: string | undefined, name: string, min: number, max: number): number => {
    const value = Number(text);
    if (text === undefined || !Number.isFinite(value) || value < min || value > max)
      throw new Error(`--${name} must be a number from ${min} to ${max}\n${USAGE}`);
    return value;
  };
  if (values.topology !== 'sentinel' && values.topology !== 'cluster') throw new Error(`--topology must be sentinel or cluster\n${USAGE}`);
  return {
    minutes: number(values.minutes, 'minutes', 1, 24 * 60),
    topology: values.topology,
    seed: values.seed === undefined ? Date.now() % 1_000_000 : number(values.seed, 'seed', 0, 2 ** 32 - 1),
    sessions: number(values.sessions, 'sessions', 1, 5000),
    drainLimitSeconds: number(values['drain-limit'], 'drain-limit', 20, 3600),
    faults: !values['no-faults'],
  };
}

async function main(): Promise<number> {
  const o = options();
  const runStart = Date.now();
  const trafficEnd = runStart + o.minutes * 60_000;
  const hardDeadline = trafficEnd + o.drainLimitSeconds * 1000;
  // Every step is bounded; this is the bound of the bounds (a hung teardown), past which the exit
  // handlers kill everything.
  setTimeout(
    () => {
      console.log('[soak] watchdog: the run outlived minutes + drain limit + 30 s; stopping everything');
      console.log('verdict: FAIL: watchdog');
      process.exit(1);
    },
    hardDeadline + 30_000 - Date.now(),
  ).unref();
  const t = (ms = Date.now()) => `t+${((ms - runStart) / 1000).toFixed(1)}s`;
  const log = (line: string) => console.log(`[soak ${t()}] ${line}`);

  // Under CI a missing tool is an error (redisMissing throws); anywhere, the soak cannot run without them.
  const missing = redisMissing() ?? postgresToolsMissing();
  if (missing) throw new Error(`cannot run: ${missing}`);

  const random = new Random(o.seed);
  const logDir = mkdtempSync(join(tmpdir(), 'shoal-soak-'));
  log(
    `seed ${o.seed}, topology ${o.topology}, ${o.minutes} min, drain limit ${o.drainLimitSeconds} s${o.faults ? '' : ', NO FAULTS (control run)'}; configs and logs in ${logDir}`,
  );

  // Redis and PostgreSQL first: the trackers and the consumer connect to them.
  const redis: SoakRedis = o.topology === 'sentinel' ? await SentinelTopology.start() : await ClusterTopology.start(STREAM_KEY);
  // (test/helpers/redis.ts kills its redis-server processes when the harness exits, however it ends.)
  log(`redis ${o.topology}: ${await redis.describe()}`);
  const postgres = await PrivatePostgres.create(await freePort());
  log(`postgresql: private instance on 127.0.0.1:${postgres.port}`);
  const db = new pg.Pool({ connectionString: postgres.url, max: 2 });
  db.on('error', () => {}); // an idle connection lost at a PostgreSQL restart; the pool replaces it

  // The tap reads from before the first record.
  const tap = new StreamTap(redis.connection, STREAM_KEY);
  const withReplicaParam = replicaParamAccepted(redis.connection);
  if (!withReplicaParam) log('TODO: backend.params.replica is not accepted by this build (parseStreamParams refuses it): replicas run without it');
  const replicas = await planReplicas(REPLICAS, logDir, redis.connection, withReplicaParam);
  const consumer = planConsumer(logDir, redis.connection, postgres.url);
  await Promise.all(replicas.map((r) => r.service.start()));
  log(`trackers: ${replicas.map((r) => `${r.label} http :${r.httpPort} udp :${r.udpPort} admin :${r.adminPort}`).join('; ')}`);
  await consumer.start();

  // A crash (an exit no fault asked for) is reported and the program started again, as a supervisor would.
  const crashes: Crash[] = [];
  for (const service of [...replicas.map((r) => r.service), consumer]) {
    service.supervise((crash) => {
      crashes.push(crash);
      log(`CRASH: ${crash.label} ${crash.how}; starting it again in 2 s`);
    });
  }

  const { users, torrents } = planCatalogue(random);
  const adminPorts = () => replicas.map((r) => r.adminPort);
  await registerCatalogue(adminPorts, ADMIN_TOKEN, users, torrents, 30_000);
  log(
    `catalogue: ${users.length} users, ${torrents.length} torrents (${torrents.filter((x) => x.infoHashV2).length} hybrid, ${torrents.filter((x) => x.freeleech).length} freeleech)`,
  );

  const trafficStart = Date.now();
  if (trafficEnd - trafficStart < MIN_TRAFFIC_MS)
    throw new Error(`set-up took ${((trafficStart - runStart) / 1000).toFixed(0)} s: too little of the ${o.minutes} min left for traffic`);
  const windowStart = trafficStart + WARM_UP_MS;
  const windowEnd = trafficEnd - QUIET_TAIL_MS;
  const plan = o.faults ? planFaults(random, o.topology, windowEnd - windowStart) : [];
  log(`faults planned: ${plan.map((p) => `${t(windowStart + p.at)} ${p.kind}`).join(', ')}`);

  const simulation = new Simulation(
    random,
    { concurrency: o.sessions, minIntervalSeconds: MIN_ANNOUNCE_INTERVAL, lifetimeSeconds: [20, 120] },
    users,
    torrents,
    replicas,
  );
  const targets: FaultTargets = {
    replicas: replicas.map((r) => ({ label: r.label, service: r.service })),
    consumer,
    async restartPostgres() {
      await postgres.stopImmediately();
      await sleep(1000);
      await postgres.start();
    },
  };
  if (redis instanceof SentinelTopology) {
    targets.sentinelFailover = () => redis.failover();
    targets.redisDataLoss = async () => {
      const began = Date.now();
      const detail = await redis.restartEmpty();
      // The stream is new: the tap reads it from its start. The catalogue is gone: the site's sync job
      // registers it again, while clients retry "unknown passkey" and "unregistered torrent".
      tap.resetCursor();
      const restarted = Date.now();
      await registerCatalogue(adminPorts, ADMIN_TOKEN, users, torrents, 30_000);
      const registered = Date.now();
      await redis.waitReplicaInSync();
      const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
      return `${detail} in ${s(restarted - began)}; users and torrents registered again in ${s(registered - restarted)}; replica resynced in ${s(Date.now() - registered)}`;
    };
  }
  if (redis instanceof ClusterTopology) targets.clusterMasterFailover = () => redis.failMaster();
  // Master switches the sentinel announces, planned or not: each may lose what the replica lacked.
  const switches: Array<{ at: number; port: number }> = [];
  const stopWatching =
    redis instanceof SentinelTopology
      ? redis.watchSwitches((port) => {
          switches.push({ at: Date.now(), port });
          log(`sentinel: the master is now :${port}`);
        })
      : () => {};
  const injector = new FaultInjector(random, targets, log, runStart);

  simulation.start();
  log(`traffic: ${o.sessions} concurrent sessions until ${t(trafficEnd)}; faults from ${t(windowStart)} to ${t(windowEnd)}`);
  const progress = setInterval(() => {
    const s = simulation.stats;
    const seconds = (Date.now() - trafficStart) / 1000;
    log(
      `${s.sent} announces sent (${(s.sent / seconds).toFixed(0)}/s), ${s.succeeded} ok, ${s.failedThenRetried} retried; ` +
        `${simulation.sessions.filter((x) => x.live).length} live sessions; tap ${tap.records.length} entries; ${injector.done.length} faults`,
    );
  }, 15_000);
  await injector.run(plan, windowStart, windowEnd);
  const quietSince = Math.max(0, ...injector.done.map((f) => f.recoveredAt));
  log(`faults over (${faultCounts(injector.done, kindsOf(o.topology))}); quiet tail until ${t(trafficEnd)}`);
  await sleep(Math.max(0, trafficEnd - Date.now()));
  await simulation.stop(STOP_GRACE_MS);
  clearInterval(progress);
  const trafficSeconds = (Date.now() - trafficStart) / 1000;
  const staleLive = simulation.sessions.filter((s) => s.live && s.lastSuccessAt <= quietSince).length;
  log(`traffic stopped: ${simulation.stats.sent} announces; draining (at most until ${t(hardDeadline - VERDICT_RESERVE_MS)})`);

  // The replicas' last records are at most one flush interval away; then the consumer has to catch up.
  await sleep(FLUSH_INTERVAL_MS * 2);
  const drainClient = connectSoakClient(redis.connection, 5000);
  const drained = await drain(drainClient, db, STREAM_KEY, CONSUMER_GROUP, Math.max(0, hardDeadline - VERDICT_RESERVE_MS - Date.now()));
  await tap.stop();
  const stillInStream = await recordIdsInStream(drainClient, STREAM_KEY, tap.records.length + 1000);
  drainClient.disconnect();
  const state = await readDatabase(db);
  stopWatching();
  const planned = injector.done.filter((f) => f.kind === 'sentinel-failover');
  const unplannedSwitches = switches.filter((sw) => !planned.some((f) => sw.at >= f.at && sw.at <= f.recoveredAt));
  const lossTimes = [...injector.done.filter((f) => REDIS_LOSS_KINDS.includes(f.kind)).map((f) => f.at), ...unplannedSwitches.map((sw) => sw.at)];
  const verdict = judge(simulation.sessions, users, torrents, tap.records, state, stillInStream, lossTimes);
  await db.end();

  // Everything down before the summary, so that nothing keeps running while it is read.
  for (const service of [...replicas.map((r) => r.service), consumer]) service.retire();
  await Promise.all([...replicas.map((r) => r.service.stop('SIGKILL')), consumer.stop('SIGKILL')]);
  await redis.stop();
  const pass = verdict.pass && drained.drained && crashes.length === 0;
  if (!pass) writeFileSync(join(logDir, 'sessions.jsonl'), verdict.sessionsOff.map((x) => JSON.stringify(x)).join('\n') + '\n');
  printSummary(
    {
      topology: o.topology,
      seed: o.seed,
      minutes: o.minutes,
      concurrency: o.sessions,
      replicaParam: withReplicaParam,
      trafficSeconds,
      since: runStart,
      stats: simulation.stats,
      sessions: simulation.sessions,
      faults: injector.done,
      faultKinds: kindsOf(o.topology),
      staleLive,
      crashes,
      unplannedSwitches: unplannedSwitches.map((sw) => `${t(sw.at)} to :${sw.port}`),
      tap,
      drain: drained,
      verdict,
      logDir: pass ? '(removed: the run passed)' : logDir,
    },
    (line) => console.log(line),
  );
  if (pass) rmSync(logDir, { recursive: true, force: true });
  return pass ? 0 : 1;
}

function kindsOf(topology: TopologyName): FaultKind[] {
  return topology === 'sentinel'
    ? ['replica-sigkill', 'replica-sigterm', 'consumer-sigkill', 'postgres-restart', 'sentinel-failover', 'redis-data-loss']
    : ['replica-sigkill', 'replica-sigterm', 'consumer-sigkill', 'postgres-restart', 'cluster-master-failover'];
}

// Ctrl-C or a SIGTERM: exit, and the exit handlers kill every child and stop PostgreSQL.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.log(`[soak] ${signal}: stopping everything`);
    process.exit(130);
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`[soak] harness error: ${(error as Error).stack ?? String(error)}`);
    console.log('verdict: FAIL: harness error');
    process.exit(1);
  },
);
