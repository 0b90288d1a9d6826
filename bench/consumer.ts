/**
 * `npm run bench:consumer`: the reference consumer's throughput into PostgreSQL, in records per second.
 *
 * Each run gets a fresh PostgreSQL database (the server on 127.0.0.1:5432, trust authentication, user
 * postgres; dropped at the end) and a redis-server of its own on a free port (the shipped redis.conf).
 * The accounting stream is filled beforehand with N records written exactly as the redis-stream backend
 * writes them (toFields, one XADD per record, pipelined), then the real Consumer (a GroupMember, the
 * configuration's defaults: batch size 500, claim_idle, seed_grace, peer_ttl; a pool of 2 as
 * shoal-consumer has) drains it. The rate is wall time from the consumer's first read of new entries
 * to the acknowledgement of the last one; schema creation and filling are not counted.
 *
 * The records are realistic and the same in every run and version (a seeded generator): many sessions
 * (user, torrent, peer_id), each announcing several times, `interval` seconds apart, with growing reported
 * totals and per-record deltas consistent with them; most sessions start with `started` (totals from
 * zero), the others were running before the window; leechers download at their own pace and some
 * complete (`completed`, a snatch) and go on seeding; some sessions end with `stopped`; IPv4, some
 * dual-stack and some IPv6-only peers; about 10% of torrents freeleech. Announces of all sessions are
 * interleaved in time order, as a tracker writes them, and spread over four tracker replicas' record ids.
 * The generator uses only the AccountingRecord fields of today (no transport: HTTP/UDP peers); the
 * timeline ends just before the run and fits in peer_ttl, so that the consumer's pruning of old peers
 * never touches the bench's rows and every run does the same work.
 *
 *   npm run bench:consumer -- [--records N] [--announces N] [--runs N] [--batch-size N] [--seed N]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { pino } from 'pino';
import type { AccountingRecord } from '../src/backend/driver.js';
import { toFields } from '../src/backend/stream/entry.js';
import { parseStreamParams } from '../src/backend/stream/params.js';
import { loadConfig } from '../src/config/config.js';
import { Consumer } from '../src/consumer/consumer.js';
import { GroupMember } from '../src/consumer/stream.js';
import { connectRedis, type RedisClient } from '../src/redis/connection.js';
import { freePort } from './swarm-peers.js';

const HELP = `usage: npm run bench:consumer -- [--records N] [--announces N] [--runs N] [--batch-size N] [--seed N]

  --records N     accounting records in the stream per run (100000)
  --announces N   announces per session (20): sessions = records / announces
  --runs N        runs, each with a fresh database and Redis (3); the median is printed
  --batch-size N  the consumer's batch size (consumer.batch_size's default, 500)
  --seed N        the record generator's seed (1): the same seed gives the same records`;

const args = process.argv.slice(2);
if (args.includes('--help')) {
  console.log(HELP);
  process.exit(0);
}
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  const value = i === -1 ? fallback : Number(args[i + 1]);
  if (!Number.isSafeInteger(value) || value < 1) {
    console.error(`--${name} must be a positive integer`);
    process.exit(2);
  }
  return value;
};

const ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const STREAM = 'bench:accounting';
/** How long a read waits for new entries, as shoal-consumer's. */
const BLOCK_MS = 1000;
/** A run that acknowledges nothing for this long has stalled: it is stopped and the bench fails. */
const STALL_MS = 60_000;

/** The consumer's settings: the configuration's defaults, as shoal-consumer would run with no file. */
const config = loadConfig({ env: {} });
const RECORDS = option('records', 100_000);
const ANNOUNCES = option('announces', 20);
const RUNS = option('runs', 3);
const BATCH_SIZE = option('batch-size', config.consumer.batch_size);
const SEED = option('seed', 1);
const SESSIONS = Math.ceil(RECORDS / ANNOUNCES);
/** Seconds between a session's announces: the whole timeline (announces + 1 intervals) within ~50 minutes, under peer_ttl. */
const INTERVAL = Math.max(10, Math.min(config.announce_interval, Math.floor(Math.min(3000, config.peer_ttl * 0.8) / (ANNOUNCES + 1))));

// ---------------------------------------------------------------------------------------------------
// The records.

/** mulberry32: a small seeded generator, so that every run and every version gets the same records. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The fields of AccountingRecord the generator writes: today's, without the WebTorrent transport. */
type GeneratedRecord = Pick<
  AccountingRecord,
  | 'id'
  | 'userId'
  | 'torrentId'
  | 'infoHash'
  | 'peerId'
  | 'event'
  | 'rawUploaded'
  | 'rawDownloaded'
  | 'uploaded'
  | 'downloaded'
  | 'left'
  | 'snatched'
  | 'time'
  | 'ipv4'
  | 'ipv6'
  | 'port'
  | 'reportedUploaded'
  | 'reportedDownloaded'
  | 'interval'
> &
  Pick<AccountingRecord, 'session' | 'upMultiplier' | 'downMultiplier'>;

/** What the database should hold once every record is applied, for the sanity check. */
interface Expected {
  users: number;
  torrents: number;
  userTorrents: number;
  activePeers: number;
  uploaded: bigint;
  downloaded: bigint;
  /** Records per event, for the header. */
  events: Record<string, number>;
}

const CLIENTS = ['-qB4630-', '-TR4050-', '-DE2110-', '-lt0D80-', '-UT3600-', '-BT7a1S-'];
const MB = 1024 * 1024;

/** Zipf-like pick of 1..n (s = 1): a few users and torrents have many sessions, most have few. */
function skewed(random: () => number, n: number): number {
  return Math.min(n, Math.floor(Math.exp(random() * Math.log(n + 1))));
}

function generate(records: number, seed: number, endMs: number): { records: GeneratedRecord[]; expected: Expected } {
  const random = generator(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));
  const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => int(0, 255)));
  const users = Math.max(1, Math.round(SESSIONS * 0.3));
  const torrentCount = Math.max(1, Math.round(SESSIONS * 0.4));
  const torrents = Array.from({ length: torrentCount }, (_, i) => ({
    id: i + 1,
    infoHash: bytes(20),
    // 50 MB to 20 GB, log-uniform.
    size: Math.round(50 * MB * Math.exp(random() * Math.log((20 * 1024) / 50))),
    freeleech: random() < 0.1,
  }));
  const startMs = endMs - (ANNOUNCES + 1) * INTERVAL * 1000;
  // Four tracker replicas, each numbering its records as the tracker does (prefix-counter in base 36).
  const replicas = Array.from({ length: 4 }, () => ({ prefix: bytes(8).toString('hex'), count: 0 }));

  type Planned = Omit<GeneratedRecord, 'id'>;
  const planned: Planned[] = [];
  for (let s = 0; s < SESSIONS; s++) {
    const userId = skewed(random, users);
    const torrent = torrents[skewed(random, torrentCount) - 1]!;
    const peerId = Buffer.concat([Buffer.from(CLIENTS[int(0, CLIENTS.length - 1)]!, 'latin1'), bytes(12)]);
    const family = random();
    const ipv4 = family < 0.95 ? `10.${int(0, 255)}.${int(0, 255)}.${int(1, 254)}` : '';
    const ipv6 = family >= 0.8 ? `2001:db8:${int(0, 0xffff).toString(16)}::${int(1, 0xffff).toString(16)}` : '';
    const port = int(1024, 65535);
    // 80% start in the window (from zero), the others were running before it.
    const fresh = random() < 0.8;
    // 40% seed from the start; leechers complete after 5 to 40 announces' worth, so some do in the window.
    let left = random() < 0.4 ? 0 : fresh ? torrent.size : Math.round(torrent.size * random());
    const downPerAnnounce = Math.ceil(torrent.size / int(5, 40));
    const upPerAnnounce = int(0, 1) ? int(0, 400) * MB : int(0, 8) * MB;
    let reportedUp = fresh ? 0 : int(0, 2000) * MB;
    let reportedDown = fresh ? 0 : torrent.size - left;
    const stops = random() < 0.25;
    let time = startMs + Math.floor(random() * INTERVAL * 1000);
    // The session as the tracker numbers it: started opens an epoch from 0; a session running before the
    // window is one the tracker meets mid-way (an open epoch from its first totals). A consumer that does
    // not know these fields ignores them.
    const epoch = `bench-${seed}-${s}`;
    const baseUploaded = reportedUp;
    const baseDownloaded = reportedDown;
    for (let k = 0; k < ANNOUNCES; k++) {
      const event = k === 0 && fresh ? 'started' : k === ANNOUNCES - 1 && stops ? 'stopped' : 'none';
      let rawUploaded = 0;
      let rawDownloaded = 0;
      let completed = false;
      // A first announce only reports where the session stands: `started` from zero, a running one from its previous totals.
      if (k > 0 || !fresh) {
        rawUploaded = Math.round(upPerAnnounce * (0.5 + random()));
        if (left > 0) {
          rawDownloaded = Math.min(left, Math.round(downPerAnnounce * (0.5 + random())));
          left -= rawDownloaded;
          completed = left === 0;
        }
      }
      reportedUp += rawUploaded;
      reportedDown += rawDownloaded;
      // The announce that finishes the download says `completed` and counts the snatch (a stop says only `stopped`).
      const snatched = completed && event === 'none';
      planned.push({
        userId,
        torrentId: torrent.id,
        infoHash: torrent.infoHash,
        peerId,
        event: snatched ? 'completed' : event,
        rawUploaded,
        rawDownloaded,
        uploaded: rawUploaded,
        downloaded: torrent.freeleech ? 0 : rawDownloaded,
        left,
        snatched,
        time,
        ipv4,
        ipv6,
        port,
        reportedUploaded: reportedUp,
        reportedDownloaded: reportedDown,
        interval: INTERVAL,
        session: { epoch, seq: k + 1, baseUploaded, baseDownloaded, open: !fresh },
        upMultiplier: 1,
        downMultiplier: torrent.freeleech ? 0 : 1,
      });
      // The next announce comes about an interval later (clients are told interval plus some jitter).
      time += Math.round(INTERVAL * 1000 * (1 + random() * 0.05));
    }
  }
  planned.sort((a, b) => a.time - b.time);
  const out = planned.slice(0, records).map((r): GeneratedRecord => {
    const replica = replicas[int(0, replicas.length - 1)]!;
    return { id: `${replica.prefix}-${(replica.count++).toString(36)}`, ...r };
  });
  // What applying them should leave: users with credited bytes, torrents with snatches, every pair, the
  // peers whose latest record is not a stop.
  const credited = new Set<number>();
  const snatchedTorrents = new Set<number>();
  const pairs = new Set<string>();
  const peers = new Map<string, boolean>();
  let uploaded = 0n;
  let downloaded = 0n;
  const events: Record<string, number> = { started: 0, completed: 0, stopped: 0, none: 0 };
  for (const r of out) {
    events[r.event]!++;
    if (r.uploaded > 0 || r.downloaded > 0) credited.add(r.userId);
    if (r.snatched) snatchedTorrents.add(r.torrentId);
    pairs.add(`${r.userId}:${r.torrentId}`);
    peers.set(`${r.userId}:${r.torrentId}:${r.peerId.toString('hex')}`, r.event !== 'stopped');
    uploaded += BigInt(r.uploaded);
    downloaded += BigInt(r.downloaded);
  }
  return {
    records: out,
    expected: {
      users: credited.size,
      torrents: snatchedTorrents.size,
      userTorrents: pairs.size,
      activePeers: [...peers.values()].filter(Boolean).length,
      uploaded,
      downloaded,
      events,
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// PostgreSQL and Redis of the run's own.

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function startRedis(): Promise<{ child: ChildProcess; port: number; dir: string }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'shoal-bench-consumer-'));
  const conf = fileURLToPath(new URL('../../redis.conf', import.meta.url));
  const child = spawn('redis-server', [conf, '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: 'ignore',
  });
  const probe = connectRedis({ url: `redis://127.0.0.1:${port}`, commandTimeout: 1000, connectTimeout: 1000 }, pino({ level: 'silent' }), {
    offlineQueue: false,
  });
  try {
    for (let i = 0; ; i++) {
      try {
        if ((await probe.ping()) === 'PONG') break;
      } catch (error) {
        if (i > 100 || child.exitCode !== null) throw new Error(`redis-server did not start: ${(error as Error).message}`, { cause: error });
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  } finally {
    probe.disconnect();
  }
  return { child, port, dir };
}

/** Writes the records as the redis-stream backend does: toFields, one XADD each, pipelined in its batches. */
async function fill(redis: RedisClient, records: GeneratedRecord[], batch: number): Promise<void> {
  for (let i = 0; i < records.length; i += batch) {
    const pipeline = redis.pipeline();
    // As the tracker writes them, sessions and multipliers included (a consumer of an older version ignores those).
    for (const r of records.slice(i, i + batch)) pipeline.xadd(STREAM, '*', ...toFields(r as AccountingRecord));
    for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
  }
}

/** A GroupMember that notes when the first new entries are read and stops the consumer once every record is acknowledged. */
class TimedMember extends GroupMember {
  firstRead = 0;
  drained = 0;
  acknowledged = 0;
  batches = 0;
  onDrained: () => void = () => {};

  constructor(
    client: RedisClient,
    group: string,
    private readonly total: number,
  ) {
    super(client, STREAM, group, 'bench');
  }

  override next(count: number, blockMs: number): ReturnType<GroupMember['next']> {
    if (this.firstRead === 0) this.firstRead = performance.now();
    return super.next(count, blockMs);
  }

  override async done(streamIds: string[]): Promise<void> {
    await super.done(streamIds);
    this.batches++;
    this.acknowledged += streamIds.length;
    if (this.acknowledged >= this.total && this.drained === 0) {
      this.drained = performance.now();
      this.onDrained();
    }
  }
}

interface RunResult {
  rate: number;
  seconds: number;
  batches: number;
  counts: Record<string, number>;
  sums: { uploaded: bigint; downloaded: bigint };
  applied: number;
  deadLetters: number;
  streamLeft: number;
}

async function run(index: number): Promise<RunResult & { expected: Expected }> {
  const name = `shoal_bench_consumer_${process.pid}_${index}`;
  await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin(`CREATE DATABASE ${name}`);
  const redisServer = await startRedis();
  const logger = pino({ level: 'warn' });
  const params = parseStreamParams({ url: `redis://127.0.0.1:${redisServer.port}`, stream: STREAM });
  const redis = connectRedis({ ...params, commandTimeout: params.commandTimeout + BLOCK_MS }, logger);
  const pool = new pg.Pool({ connectionString: `postgres://postgres@127.0.0.1:5432/${name}`, max: 2 });
  pool.on('error', (error) => logger.warn({ err: error }, 'idle PostgreSQL connection lost'));
  try {
    // The timeline ends a few seconds before the run, every run alike.
    const { records, expected } = generate(RECORDS, SEED, Date.now() - 5000);
    await fill(redis, records, params.batchSize);
    const length = await redis.xlen(STREAM);
    if (length !== records.length) throw new Error(`the stream holds ${length} entries, not ${records.length}`);
    // Whatever PostgreSQL has to write out from the database's creation, it does now, not during the run.
    await admin('CHECKPOINT');

    const member = new TimedMember(redis, config.consumer.group, records.length);
    const consumer = new Consumer({
      member,
      pool,
      logger,
      batchSize: BATCH_SIZE,
      claimIdleMs: config.consumer.claim_idle * 1000,
      blockMs: BLOCK_MS,
      peers: { seedGraceSeconds: config.consumer.seed_grace, peerTtlSeconds: config.peer_ttl },
    });
    member.onDrained = () => consumer.stop();
    let seen = -1;
    const watchdog = setInterval(() => {
      if (member.acknowledged === seen) {
        logger.error({ acknowledged: seen, of: records.length }, 'the consumer made no progress: stopping the run');
        consumer.stop();
      }
      seen = member.acknowledged;
    }, STALL_MS);
    try {
      await consumer.run();
    } finally {
      clearInterval(watchdog);
    }
    if (member.drained === 0) throw new Error(`the consumer stopped after ${member.acknowledged} of ${records.length} entries`);

    const seconds = (member.drained - member.firstRead) / 1000;
    const counts: Record<string, number> = {};
    for (const table of ['users', 'torrents', 'user_torrents', 'active_peers', 'applied_ids', 'dead_letters'])
      counts[table] = Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n);
    const sums = (await pool.query<{ up: string | null; down: string | null }>('SELECT sum(uploaded)::text AS up, sum(downloaded)::text AS down FROM users'))
      .rows[0]!;
    return {
      rate: records.length / seconds,
      seconds,
      batches: member.batches,
      counts,
      sums: { uploaded: BigInt(sums.up ?? 0), downloaded: BigInt(sums.down ?? 0) },
      applied: consumer.totals.applied,
      deadLetters: consumer.totals.deadLetters,
      streamLeft: await redis.xlen(STREAM),
      expected,
    };
  } finally {
    redis.disconnect();
    await pool.end();
    redisServer.child.kill('SIGKILL');
    rmSync(redisServer.dir, { recursive: true, force: true });
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
}

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function main(): Promise<void> {
  const settings = new pg.Client({ connectionString: ADMIN_URL });
  await settings.connect();
  const show = async (name: string): Promise<string> => (await settings.query<Record<string, string>>(`SHOW ${name}`)).rows[0]![name]!;
  const server = `${(await settings.query<{ v: string }>('SELECT version() AS v')).rows[0]!.v.split(' on ')[0]}, synchronous_commit=${await show('synchronous_commit')}, fsync=${await show('fsync')}, shared_buffers=${await show('shared_buffers')}`;
  await settings.end();
  console.log(
    `shoal consumer benchmark: node ${process.version}, ${server}, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  console.log(
    `${fmt(RECORDS)} records per run: ${fmt(SESSIONS)} sessions × ${ANNOUNCES} announces, ${INTERVAL} s apart (seed ${SEED}); batch size ${BATCH_SIZE}, ` +
      `${RUNS} runs, each with a fresh database and Redis; records/s = records ÷ wall time from the first read of new entries to the last acknowledgement`,
  );
  const rates: number[] = [];
  let mismatches = 0;
  for (let i = 1; i <= RUNS; i++) {
    const r = await run(i);
    rates.push(r.rate);
    const e = r.expected;
    if (i === 1)
      console.log(
        `events: ${Object.entries(e.events)
          .map(([event, n]) => `${event} ${fmt(n)}`)
          .join(', ')}`,
      );
    const check = (what: string, got: number | bigint, want: number | bigint, unit = ''): string => {
      if (got !== want) mismatches++;
      return `${what} ${fmt(Number(got))}${unit}${got === want ? '' : ` (MISMATCH: expected ${fmt(Number(want))})`}`;
    };
    console.log(
      `  run ${i}: ${fmt(r.rate).padStart(8)} records/s (${fmt(r.applied)} applied in ${r.seconds.toFixed(2)} s, ${r.batches} batches, ` +
        `${r.deadLetters} dead letters, ${r.streamLeft} left in the stream)`,
    );
    console.log(
      '         rows: ' +
        [
          check('users', r.counts.users!, e.users),
          check('torrents', r.counts.torrents!, e.torrents),
          check('user_torrents', r.counts.user_torrents!, e.userTorrents),
          check('active_peers', r.counts.active_peers!, e.activePeers),
          check('applied_ids', r.counts.applied_ids!, RECORDS),
          check('credited up', r.sums.uploaded, e.uploaded, ' B'),
          check('down', r.sums.downloaded, e.downloaded, ' B'),
        ].join(', '),
    );
    if (r.applied !== RECORDS || r.deadLetters > 0 || r.streamLeft > 0) mismatches++;
  }
  console.log(`median: ${fmt(median(rates))} records/s (runs: ${rates.map((x) => fmt(x)).join(', ')})`);
  if (mismatches > 0) {
    console.log(`sanity: ${mismatches} mismatch(es) between what was written and what the database holds`);
    process.exitCode = 1;
  }
}

await main();
