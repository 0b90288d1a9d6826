/**
 * The fast lane's failure paths, tested as a client library's would be. Where a real redis-server can
 * produce the case, against one (test/helpers/redis.ts): NOSCRIPT, MOVED and ASK on a Cluster, Redis
 * killed and started again on its port. Where it cannot (replies cut at any byte, several replies and a
 * reply's tail in one chunk, a reset with half a batch answered, a server that never answers, bytes that
 * are no RESP), against a socket fixture on loopback that speaks just enough RESP: it parses the lane's
 * requests and writes whatever bytes the test tells it to. It is a fixture for the client's parser and
 * connection handling, not a Redis for the product's tests.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { DEFAULT_LANE_LIMITS, LaneFallback, RespLane, type LaneLimits, type RespValue } from '../../src/redis/resp-lane.js';
import { timedOut } from '../../src/redis/timed-out.js';
import { redisDriver } from '../../src/store/redis/driver.js';
import { swarmAnnounce } from '../../src/testing/harness.js';
import { redisCli, redisMissing, startCluster, startRedis } from '../helpers/redis.js';

const missing = redisMissing();
const soon = (ms = 5000): number => Date.now() + ms;

/** A loopback server that parses the lane's requests (arrays of bulk strings) and answers as the test says. */
class RespFixture {
  readonly sockets: Socket[] = [];
  /** Every request received, as its words, on any connection. */
  readonly requests: string[][] = [];
  private waiters: Array<() => void> = [];

  private constructor(readonly server: Server) {}

  static async start(): Promise<RespFixture> {
    const fixture = new RespFixture(createServer());
    fixture.server.on('connection', (socket) => fixture.accept(socket));
    await new Promise<void>((resolve) => fixture.server.listen(0, '127.0.0.1', resolve));
    return fixture;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  /** The newest connection. */
  get socket(): Socket {
    return this.sockets.at(-1)!;
  }

  /** Resolves once `count` requests in all have come. */
  async received(count: number): Promise<void> {
    while (this.requests.length < count) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    this.sockets.push(socket);
    let pending = Buffer.alloc(0);
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const parsed = parseRequest(pending);
        if (parsed === null) break;
        this.requests.push(parsed.words);
        pending = pending.subarray(parsed.end);
      }
      const waiters = this.waiters;
      this.waiters = [];
      for (const wake of waiters) wake();
    });
  }
}

/** One request `*N\r\n($len\r\nbytes\r\n)*N` at the start of `data`, or null while incomplete. */
function parseRequest(data: Buffer): { words: string[]; end: number } | null {
  const line = (at: number): [number, number] | null => {
    const cr = data.indexOf('\r\n', at);
    return cr < 0 ? null : [Number(data.toString('latin1', at + 1, cr)), cr + 2];
  };
  const head = line(0);
  if (head === null) return null;
  let [count, at] = head;
  const words: string[] = [];
  while (count-- > 0) {
    const bulk = line(at);
    if (bulk === null || bulk[1] + bulk[0] + 2 > data.length) return null;
    words.push(data.toString('latin1', bulk[1], bulk[1] + bulk[0]));
    at = bulk[1] + bulk[0] + 2;
  }
  return { words, end: at };
}

async function readyLane(lane: RespLane, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!lane.isReady()) {
    if (Date.now() > until) throw new Error('lane never became ready');
    await sleep(5);
  }
}

type Outcome = { value?: RespValue; error?: unknown } | 'pending';

/** A call's outcome, its handlers attached at once (a rejection may come before the test looks). */
function settle(call: Promise<RespValue> | null): Promise<Outcome> {
  assert.ok(call, 'the lane took the call');
  return call.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
}

/** The calls' outcomes, 'pending' for those not settled within `ms`: nothing may hang. */
function outcomes(calls: Array<Promise<Outcome>>, ms: number): Promise<Outcome[]> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'pending'>((resolve) => (timer = setTimeout(() => resolve('pending'), ms)));
  return Promise.all(calls.map((call) => Promise.race([call, late]))).finally(() => clearTimeout(timer));
}

/** A lane to the fixture, and both gone after `run`. */
async function withFixture(run: (lane: RespLane, fixture: RespFixture) => Promise<void>, limits: Partial<LaneLimits> = {}): Promise<void> {
  const fixture = await RespFixture.start();
  const lane = new RespLane({ host: '127.0.0.1', port: fixture.port }, timedOut, { ...DEFAULT_LANE_LIMITS, ...limits });
  try {
    await run(lane, fixture);
  } finally {
    lane.close();
    await fixture.close();
  }
}

/** Replies of every RESP2 type the lane reads, and what each call should get. */
const REPLIES: Array<[wire: string, expected: RespValue | 'error']> = [
  [':42\r\n', 42],
  [':-7\r\n', -7],
  ['$5\r\nhello\r\n', Buffer.from('hello')],
  ['$0\r\n\r\n', Buffer.alloc(0)],
  ['$-1\r\n', null],
  ['+OK\r\n', Buffer.from('OK')],
  ['-ERR something\r\n', 'error'],
  ['*3\r\n:1\r\n$2\r\nab\r\n*2\r\n$-1\r\n:3\r\n', [1, Buffer.from('ab'), [null, 3]]],
  ['*0\r\n', []],
  ['$12\r\nline\r\nbreaks\r\n', Buffer.from('line\r\nbreaks')],
];
const WIRE = Buffer.from(REPLIES.map(([wire]) => wire).join(''), 'latin1');

function assertReplies(got: Outcome[], context: string): void {
  got.forEach((outcome, i) => {
    assert.notEqual(outcome, 'pending', `${context}: call ${i} answered`);
    const expected = REPLIES[i]![1];
    if (outcome === 'pending') return;
    if (expected === 'error') {
      assert.ok(outcome.error instanceof LaneFallback && outcome.error.reason === 'error_reply', `${context}: call ${i} an error reply`);
    } else assert.deepEqual(outcome.value, expected, `${context}: call ${i}`);
  });
}

describe('redis fast lane: failure paths (socket fixture)', () => {
  it('replies cut at every byte boundary, and dribbled one byte a chunk, each reach its own call', { timeout: 60_000 }, async () => {
    await withFixture(async (lane, fixture) => {
      await readyLane(lane);
      let sent = 0;
      const batch = (): Array<Promise<Outcome>> => {
        sent += REPLIES.length;
        return REPLIES.map((_, i) => settle(lane.command(['ECHO', String(i)], soon())));
      };
      for (let cut = 1; cut < WIRE.length; cut++) {
        const calls = batch();
        await fixture.received(sent);
        fixture.socket.write(WIRE.subarray(0, cut));
        await sleep(1);
        fixture.socket.write(WIRE.subarray(cut));
        assertReplies(await outcomes(calls, 2000), `cut at ${cut}`);
      }
      const calls = batch();
      await fixture.received(sent);
      for (let at = 0; at < WIRE.length; at++) {
        fixture.socket.write(WIRE.subarray(at, at + 1));
        await new Promise((resolve) => setImmediate(resolve));
      }
      assertReplies(await outcomes(calls, 2000), 'one byte a chunk');
    });
  });

  it('several replies in one chunk, and the tail of one batch’s replies with the next batch’s in one chunk', { timeout: 20_000 }, async () => {
    await withFixture(async (lane, fixture) => {
      await readyLane(lane);
      const first = Array.from({ length: 20 }, (_, i) => settle(lane.command(['ECHO', `a${i}`], soon())));
      await fixture.received(20);
      const answer = (words: string[]): string => `$${words[1]!.length}\r\n${words[1]}\r\n`;
      const firstWire = Buffer.from(fixture.requests.slice(0, 20).map(answer).join(''));
      // Half of the first batch's replies, cut inside one; then a second batch goes out.
      const half = Math.floor(firstWire.length / 2) + 1;
      fixture.socket.write(firstWire.subarray(0, half));
      await sleep(5);
      const second = Array.from({ length: 20 }, (_, i) => settle(lane.command(['ECHO', `b${i}`], soon())));
      await fixture.received(40);
      const secondWire = Buffer.from(fixture.requests.slice(20, 40).map(answer).join(''));
      fixture.socket.write(Buffer.concat([firstWire.subarray(half), secondWire]));
      const got = await outcomes([...first, ...second], 2000);
      assert.deepEqual(
        got.map((o) => (o === 'pending' ? 'pending' : (o.value as Buffer).toString())),
        [...Array.from({ length: 20 }, (_, i) => `a${i}`), ...Array.from({ length: 20 }, (_, i) => `b${i}`)],
      );
    });
  });

  it(
    'a connection reset mid-batch: answered calls keep their replies, every other one falls back at once; the lane reconnects',
    { timeout: 20_000 },
    async () => {
      await withFixture(async (lane, fixture) => {
        await readyLane(lane);
        const calls = Array.from({ length: 10 }, (_, i) => settle(lane.command(['ECHO', `c${i}`], soon(10_000))));
        await fixture.received(10);
        fixture.socket.write(Buffer.from(Array.from({ length: 4 }, (_, i) => `+c${i}\r\n`).join('') + '+c4'));
        await sleep(20);
        const started = Date.now();
        fixture.socket.resetAndDestroy();
        const got = await outcomes(calls, 3000);
        assert.ok(Date.now() - started < 1000, 'settled at the reset, not at the deadline');
        got.forEach((outcome, i) => {
          assert.notEqual(outcome, 'pending', `call ${i} settled`);
          if (outcome === 'pending') return;
          if (i < 4) assert.equal((outcome.value as Buffer).toString(), `c${i}`);
          else assert.ok(outcome.error instanceof LaneFallback && outcome.error.reason === 'closed', `call ${i}: ${String(outcome.error)}`);
        });
        // Back by itself, on a new connection, in step.
        await readyLane(lane);
        const again = lane.command(['ECHO', 'again'], soon())!;
        await fixture.received(11);
        assert.equal(fixture.sockets.length, 2, 'a new connection');
        fixture.socket.write('+again\r\n');
        assert.equal((await again)!.toString(), 'again');
      });
    },
  );

  it('a server that never answers: each call fails with the timeout at its own deadline, and the lane takes calls after', { timeout: 20_000 }, async () => {
    await withFixture(async (lane, fixture) => {
      await readyLane(lane);
      const started = Date.now();
      const early = settle(lane.command(['ECHO', 'early'], Date.now() + 150));
      const late = settle(lane.command(['ECHO', 'late'], Date.now() + 400));
      const got = await outcomes([early, late], 2000);
      assert.deepEqual(
        got.map((o) => (o === 'pending' ? 'pending' : String(o.error))),
        ['Error: redis command timed out', 'Error: redis command timed out'],
      );
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 390 && elapsed < 1000, `the later deadline kept (${elapsed} ms)`);
      assert.ok(lane.isReady(), 'a timeout is no reason to drop the connection');
      // The late replies come, dropped; a new call gets its own.
      fixture.socket.write('+early\r\n+late\r\n');
      const next = lane.command(['ECHO', 'next'], soon())!;
      await fixture.received(3);
      fixture.socket.write('+next\r\n');
      assert.equal((await next)!.toString(), 'next');
    });
  });

  it('a handshake never answered: not ready, given up after connectTimeout and tried again', { timeout: 20_000 }, async () => {
    const fixture = await RespFixture.start();
    const lane = new RespLane({ host: '127.0.0.1', port: fixture.port, password: 'secret' }, timedOut, { ...DEFAULT_LANE_LIMITS, connectTimeout: 150 });
    try {
      await fixture.received(1);
      assert.deepEqual(fixture.requests[0], ['AUTH', 'secret']);
      assert.equal(lane.isReady(), false);
      assert.equal(lane.command(['ECHO', 'x'], soon()), null, 'no call before the handshake is answered');
      await fixture.received(2);
      assert.equal(fixture.sockets.length, 2, 'a second connection after the first was given up');
      fixture.socket.write('+OK\r\n');
      await readyLane(lane);
    } finally {
      lane.close();
      await fixture.close();
    }
  });

  it('bytes that are no RESP, or a reply no call waits for: every call falls back and the connection is replaced', { timeout: 20_000 }, async () => {
    await withFixture(async (lane, fixture) => {
      for (const [n, garbage] of ['!what\r\n', ':12x\r\n'].entries()) {
        await readyLane(lane);
        const calls = [settle(lane.command(['ECHO', '1'], soon())), settle(lane.command(['ECHO', '2'], soon()))];
        await fixture.received(2 * (n + 1));
        fixture.socket.write(garbage);
        const got = await outcomes(calls, 2000);
        for (const outcome of got) assert.ok(outcome !== 'pending' && outcome.error instanceof LaneFallback && outcome.error.reason === 'closed');
      }
      await readyLane(lane);
      const sockets = fixture.sockets.length;
      fixture.socket.write('+nobody asked\r\n');
      await readyLane(lane).then(() => sleep(100));
      assert.equal(fixture.sockets.length, sockets + 1, 'an unasked reply drops the connection');
    });
  });
});

/** Writes ARGV[1] to KEYS[1]. */
const SET = `redis.call('SET', KEYS[1], ARGV[1]) return 1`;
const SET_SHA = createHash('sha1').update(SET).digest('hex');

describe('redis fast lane: failure paths (real redis-server)', { skip: missing ?? false }, () => {
  it('NOSCRIPT after SCRIPT FLUSH: the announce falls back to ioredis, which loads the script, and the lane takes the next', { timeout: 20_000 }, async () => {
    const redis = await startRedis();
    const store = await redisDriver.open({ url: redis.url }, { peerTtl: 60, logger: pino({ level: 'silent' }) });
    try {
      const until = Date.now() + 5000;
      while (!(await store.ready()) && Date.now() < until) await sleep(20);
      const infoHash = randomBytes(20);
      const announce = (port: number) => store.announce(swarmAnnounce(infoHash, { v4: Buffer.from([127, 0, 0, 1, port >> 8, port & 255]), event: 'started' }));
      await announce(1);
      await announce(2);
      const events = () => store.events!();
      const lane = events().announce_fast_lane!;
      assert.ok(lane >= 1, 'the second announce on the lane');
      await redisCli(redis.port, 'script', 'flush');
      const fallbacks = events().announce_fast_lane_fallback!;
      assert.equal((await announce(3)).incomplete, 3, 'answered all the same');
      assert.equal(events().announce_fast_lane_fallback, fallbacks + 1, 'NOSCRIPT on the lane: through ioredis');
      assert.equal((await announce(4)).incomplete, 4);
      assert.equal(events().announce_fast_lane, lane + 1, 'the script loaded again: the lane takes the next');
    } finally {
      await store.close();
      await redis.kill();
    }
  });

  it('Cluster: MOVED from a master that does not own the slot, ASK from one migrating it; the lane stays in step', { timeout: 120_000 }, async () => {
    const cluster = await startCluster();
    const lanes: RespLane[] = [];
    try {
      const key = '{faults}:k';
      const slot = Number(await redisCli(cluster.nodes[0]!.port, 'cluster', 'keyslot', key));
      const owner = await cluster.masterOfSlot(slot);
      const masters: typeof cluster.nodes = [];
      for (const node of cluster.nodes) if ((await redisCli(node.port, 'role')).startsWith('master')) masters.push(node);
      const other = masters.find((node) => node !== owner)!;
      for (const node of masters) await redisCli(node.port, 'script', 'load', SET);
      const laneTo = async (port: number): Promise<RespLane> => {
        const lane = new RespLane({ host: '127.0.0.1', port }, timedOut);
        lanes.push(lane);
        await readyLane(lane);
        return lane;
      };
      const isError = (pattern: RegExp) => (error: unknown) => error instanceof LaneFallback && error.reason === 'error_reply' && pattern.test(error.message);
      const stray = await laneTo(other.port);
      await assert.rejects(stray.evalsha(SET_SHA, [key], ['v'], soon())!, isError(new RegExp(`^MOVED ${slot} `)));
      // ASK: the owner migrating the slot to `other`, the key not (or no longer) on the owner.
      const otherId = await redisCli(other.port, 'cluster', 'myid');
      assert.equal(await redisCli(owner.port, 'cluster', 'setslot', String(slot), 'migrating', otherId), 'OK');
      const onOwner = await laneTo(owner.port);
      await assert.rejects(onOwner.evalsha(SET_SHA, [key], ['v'], soon())!, isError(new RegExp(`^ASK ${slot} `)));
      // In step after the error replies: the next call on each lane gets its own answer.
      const keyOf = async (node: typeof owner): Promise<string> => {
        for (;;) {
          const candidate = `{${randomBytes(4).toString('hex')}}:k`;
          if ((await cluster.masterOfSlot(Number(await redisCli(node.port, 'cluster', 'keyslot', candidate)))) === node) return candidate;
        }
      };
      assert.equal(await onOwner.evalsha(SET_SHA, [await keyOf(owner)], ['w'], soon()), 1);
      assert.equal(await stray.evalsha(SET_SHA, [await keyOf(other)], ['w'], soon()), 1);
    } finally {
      for (const lane of lanes) lane.close();
      await cluster.stop();
    }
  });

  it('Redis killed and started again on its port: calls fail at once (no hang) while it is down, then are answered', { timeout: 60_000 }, async () => {
    const redis = await startRedis();
    const lane = new RespLane({ host: '127.0.0.1', port: redis.port }, timedOut);
    try {
      await readyLane(lane);
      assert.equal((await lane.command(['PING'], soon()))!.toString(), 'PONG');
      const inFlight = Array.from({ length: 50 }, () => settle(lane.command(['PING'], soon(10_000))));
      await redis.kill();
      for (const outcome of await outcomes(inFlight, 2000)) {
        assert.notEqual(outcome, 'pending', 'no call hangs on a dead server');
        if (outcome !== 'pending' && outcome.error) assert.ok(outcome.error instanceof LaneFallback, (outcome.error as Error).message);
      }
      await sleep(300);
      assert.equal(lane.isReady(), false);
      assert.equal(lane.command(['PING'], soon()), null, 'while it is down the lane takes nothing: the caller goes elsewhere');
      await redis.start();
      await readyLane(lane, 5000);
      assert.equal((await lane.command(['PING'], soon()))!.toString(), 'PONG');
    } finally {
      lane.close();
      await redis.kill();
    }
  });
});
