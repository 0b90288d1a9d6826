/**
 * The image and the compose stack in a real Docker engine (`bash .ci/with-docker npm test`; CI runs that):
 * the Dockerfile builds; the image runs as non-root on a read-only root filesystem and serves; the default
 * stack (Redis, three replicas behind nginx, the UDP tracker) serves HTTP announces through nginx with the
 * client's own address, shares swarms across replicas and answers UDP; the accounting profile moves a
 * private announce's bytes into PostgreSQL through the consumer; `down` leaves nothing behind.
 * Each step's time goes to the test output as a diagnostic.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { adminClient } from '../helpers/admin.js';
import { composeCommand, dockerMissing, FETCH_SCRIPT, freeUdpPort, inspect, parseFetchResult, run } from '../helpers/docker.js';
import { announcePath, decode, httpGet, peerList, randomHash, randomPeerId } from '../helpers/http.js';
import { freePort } from '../helpers/redis.js';
import { TEST_UDP_SECRET } from '../helpers/tracker.js';
import { announcePacket, readAnnounceReply, udpConnect, udpRequest } from '../helpers/udp.js';
import { waitUntil } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');
const IMAGE = 'shoal:latest';
/** The compose network's subnet: the trackers trust X-Forwarded-For from it (TRACKER_TRUSTED_PROXIES). */
const COMPOSE_SUBNET = /^172\.28\./;

const missing = dockerMissing();

function seconds(since: number): string {
  return ((Date.now() - since) / 1000).toFixed(1);
}

/** Keeps polling through connection errors (a replica still starting, nginx not yet resolving). */
async function eventually<T>(what: string, attempt: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  let last: T | undefined;
  let error: unknown;
  await waitUntil(
    what,
    async () => {
      try {
        last = await attempt();
        return accept(last);
      } catch (e) {
        error = e;
        return false;
      }
    },
    timeoutMs,
    250,
  ).catch((e: Error) => {
    throw new Error(`${e.message}; last answer: ${JSON.stringify(last)}; last error: ${String(error)}`);
  });
  return last!;
}

describe('the container image', { skip: missing ?? false }, () => {
  it('builds from the Dockerfile (no pull: the base image is found locally)', { timeout: 900_000 }, async (t) => {
    const started = Date.now();
    await run('docker', ['build', '-t', IMAGE, ROOT], { timeoutMs: 900_000 });
    const image = await inspect(IMAGE);
    t.diagnostic(`docker build: ${seconds(started)} s; ${IMAGE}: ${(image.Size / 1e6).toFixed(0)} MB`);
    assert.equal(image.Config.User, 'node');
    assert.deepEqual(image.Config.Entrypoint, ['node', 'dist/src/cli.js']);
  });

  it('runs as the unprivileged node user on a read-only root filesystem, serves an announce and stops cleanly on SIGTERM', { timeout: 180_000 }, async (t) => {
    const started = Date.now();
    const port = await freePort();
    const name = `shoal-test-image-${process.pid}`;
    await run('docker', [
      'run',
      '--detach',
      '--name',
      name,
      '--read-only',
      '--publish',
      `127.0.0.1:${port}:6969`,
      '--env',
      'TRACKER_TRACKER_DRIVER=memory',
      '--env',
      `TRACKER_UDP_SECRET=${TEST_UDP_SECRET}`,
      IMAGE,
    ]);
    try {
      const hash = randomHash();
      const first = await eventually(
        'the first announce',
        () => httpGet('127.0.0.1', port, announcePath({ infoHash: hash, port: 7001, left: 0 })),
        (r) => r.status === 200,
      );
      assert.equal(decode(first.body)['failure reason'], undefined);
      const second = decode((await httpGet('127.0.0.1', port, announcePath({ infoHash: hash, port: 7002 }))).body);
      assert.equal(second.complete, 1);
      assert.equal(second.incomplete, 1);
      assert.deepEqual(
        peerList(second.peers, 4).map((p) => p.split(':')[1]),
        ['7001'],
      );

      const container = await inspect(name);
      assert.equal(container.HostConfig.ReadonlyRootfs, true);
      assert.equal((await run('docker', ['exec', name, 'id', '-u'])).trim(), '1000');
      await assert.rejects(run('docker', ['exec', name, 'sh', '-c', 'touch /app/written']), /Read-only file system/);
      await assert.rejects(run('docker', ['exec', name, 'sh', '-c', 'touch /tmp/written']), /Read-only file system/);

      await run('docker', ['stop', '--time', '15', name]);
      const stopped = await inspect(name);
      assert.equal(stopped.State.ExitCode, 0, 'SIGTERM: the tracker drains and exits 0');
      assert.match(await run('docker', ['logs', name]), /"tracker started"/);
      t.diagnostic(`docker run, announces, checks and docker stop: ${seconds(started)} s`);
    } finally {
      await run('docker', ['rm', '--force', name]).catch(() => undefined);
    }
  });
});

/** docker-compose with this file, a project of its own, and only the variables the test sets. */
function composeProject(project: string, variables: Record<string, string>) {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(TRACKER_|POSTGRES_|SHOAL_)/.test(k) && v !== undefined) env[k] = v;
  Object.assign(env, variables);
  const [command, ...prefix] = composeCommand();
  const compose = (args: string[], timeoutMs = 300_000) =>
    run(command!, [...prefix, '--file', COMPOSE_FILE, '--project-name', project, ...args], { env, timeoutMs });
  const label = `label=com.docker.compose.project=${project}`;
  return {
    compose,
    /** Running containers of a service, by id. */
    containers: async (service: string) =>
      (await run('docker', ['ps', '--quiet', '--filter', label, '--filter', `label=com.docker.compose.service=${service}`])).split('\n').filter(Boolean),
    /** Services of the containers still running, one entry per container. */
    services: async () =>
      (await run('docker', ['ps', '--filter', label, '--format', '{{.Label "com.docker.compose.service"}}'])).split('\n').filter(Boolean).sort(),
    /** Everything of the project that is left: containers (running or not), networks, volumes. */
    leftovers: async () => [
      ...(await run('docker', ['ps', '--all', '--quiet', '--filter', label])).split('\n').filter(Boolean),
      ...(await run('docker', ['network', 'ls', '--quiet', '--filter', label])).split('\n').filter(Boolean),
      ...(await run('docker', ['volume', 'ls', '--quiet', '--filter', label])).split('\n').filter(Boolean),
    ],
  };
}

/**
 * Brings the stack up and waits until it serves: every tracker healthy (its compose healthcheck, /readyz) and
 * ten announces in a row answered through nginx (nginx takes replicas that refused connections while they
 * started out of rotation for a few seconds). Returns a line for the test output with the times.
 */
async function composeUp(stack: ReturnType<typeof composeProject>, args: string[], httpPort: number, path: () => string): Promise<string> {
  const started = Date.now();
  // --no-build: the image is the one the image tests built from the same Dockerfile.
  await stack.compose([...args, 'up', '--detach', '--no-build']);
  const upTime = seconds(started);
  const trackers = [...(await stack.containers('tracker')), ...(await stack.containers('tracker-udp'))];
  assert.equal(trackers.length, 4, 'three replicas and the UDP tracker');
  await eventually(
    'four healthy trackers',
    () => Promise.all(trackers.map(async (id) => (await inspect(id)).State.Health.Status as string)),
    (states) => states.every((s) => s === 'healthy'),
    90_000,
  );
  await eventually(
    'ten announces in a row through nginx',
    async () => {
      for (let i = 0; i < 10; i++) if ((await httpGet('127.0.0.1', httpPort, path())).status !== 200) return false;
      return true;
    },
    (ok) => ok,
  );
  return `docker-compose ${[...args, 'up'].join(' ')}: ${upTime} s, serving after ${seconds(started)} s`;
}

async function composeDownLeavesNothing(t: TestContext, stack: ReturnType<typeof composeProject>, args: string[], hostPort: number): Promise<void> {
  const started = Date.now();
  await stack.compose([...args, 'down', '--volumes', '--timeout', '15']);
  t.diagnostic(`docker-compose ${[...args, 'down'].join(' ')}: ${seconds(started)} s`);
  assert.deepEqual(await stack.leftovers(), []);
  const answered = await httpGet('127.0.0.1', hostPort, '/healthz').then(
    () => true,
    () => false,
  );
  assert.equal(answered, false, `the published port ${hostPort} still answers`);
}

describe('docker-compose.yml: the default stack', { skip: missing ?? false }, () => {
  const project = `shoal-test-${process.pid}`;
  let stack: ReturnType<typeof composeProject>;
  let httpPort: number;
  let udpPort: number;
  let upTime: string;
  const clientsNetwork = `${project}-clients`;

  before(
    async () => {
      httpPort = await freePort();
      udpPort = await freeUdpPort();
      // No TRACKER_UDP_SECRET: the replicas agree on UDP keys through Redis (the accounting stack sets one).
      stack = composeProject(project, {
        SHOAL_HTTP_PORT: String(httpPort),
        SHOAL_UDP_PORT: String(udpPort),
        SHOAL_ADMIN_PORT: String(await freePort()),
      });
      upTime = await composeUp(stack, [], httpPort, () => announcePath({ infoHash: randomHash() }));
    },
    { timeout: 300_000 },
  );
  after(
    async () => {
      await stack?.compose(['down', '--volumes', '--timeout', '5']).catch((e: Error) => console.log(`# ${e.message}`));
      await run('docker', ['network', 'rm', clientsNetwork]).catch(() => undefined);
    },
    { timeout: 120_000 },
  );

  it('runs Redis, three healthy tracker replicas, the UDP tracker and nginx, and nothing of the accounting profile', async (t) => {
    t.diagnostic(upTime);
    assert.deepEqual(await stack.services(), ['nginx', 'redis', 'tracker', 'tracker', 'tracker', 'tracker-udp']);
  });

  it("answers HTTP announces through nginx, from the host's published port and with a client's own address", { timeout: 120_000 }, async (t) => {
    const started = Date.now();
    const viaHost = await httpGet('127.0.0.1', httpPort, announcePath({ infoHash: randomHash() }));
    assert.equal(viaHost.status, 200);
    assert.equal(decode(viaHost.body)['failure reason'], undefined);

    // A client on a network of its own, which nginx joins as a real edge proxy would: the client's
    // address is outside the trusted compose subnet, so only X-Forwarded-For can carry it to a tracker.
    await run('docker', ['network', 'create', clientsNetwork]);
    const [nginx] = await stack.containers('nginx');
    await run('docker', ['network', 'connect', '--alias', 'nginx', clientsNetwork, nginx!]);
    const hash = randomHash();
    const url = (port: number, left: number) => `http://nginx${announcePath({ infoHash: hash, port, left })}`;
    const result = parseFetchResult(
      await run('docker', [
        'run',
        '--rm',
        '--network',
        clientsNetwork,
        '--read-only',
        '--entrypoint',
        'node',
        IMAGE,
        '--input-type=module',
        '-e',
        FETCH_SCRIPT,
        url(7001, 0),
        url(7002, 100),
      ]),
    );
    assert.equal(result.addresses.length, 1);
    const [clientIp] = result.addresses;
    assert.doesNotMatch(clientIp!, COMPOSE_SUBNET);
    for (const reply of result.replies) assert.equal(reply.status, 200);
    const answer = decode(result.replies[1]!.body);
    assert.equal(answer['failure reason'], undefined);
    assert.deepEqual(peerList(answer.peers, 4), [`${clientIp}:7001`]);
    t.diagnostic(`announces through nginx: ${seconds(started)} s`);
  });

  it('shares swarms across the three replicas', { timeout: 120_000 }, async () => {
    const replicas = await stack.containers('tracker');
    assert.equal(replicas.length, 3);
    const hash = randomHash();
    const answers = [];
    // Each replica is asked directly (from inside its own container), one after the other.
    for (const [i, replica] of replicas.entries()) {
      const url = `http://127.0.0.1:6969${announcePath({ infoHash: hash, port: 7101 + i, numwant: 50 })}`;
      const result = await eventually(
        `an announce to replica ${i + 1}`,
        async () => parseFetchResult(await run('docker', ['exec', replica, 'node', '--input-type=module', '-e', FETCH_SCRIPT, url])),
        (r) => r.replies[0]!.status === 200,
      );
      answers.push(decode(result.replies[0]!.body));
    }
    assert.deepEqual(peerList(answers[0]!.peers, 4), []);
    assert.deepEqual(peerList(answers[1]!.peers, 4), ['127.0.0.1:7101']);
    assert.deepEqual(peerList(answers[2]!.peers, 4).sort(), ['127.0.0.1:7101', '127.0.0.1:7102']);
    assert.equal(answers[2]!.incomplete, 3);
  });

  it('answers a UDP announce on the published port, in the swarm the HTTP replicas share', { timeout: 120_000 }, async () => {
    const hash = randomHash();
    const http = await httpGet('127.0.0.1', httpPort, announcePath({ infoHash: hash, port: 7201, left: 0 }));
    assert.equal(decode(http.body)['failure reason'], undefined);
    const connectionId = await eventually(
      'a UDP connect',
      () => udpConnect('127.0.0.1', udpPort),
      () => true,
    );
    const reply = await udpRequest('127.0.0.1', udpPort, announcePacket({ connectionId, infoHash: hash, port: 7202, peerId: randomPeerId() }), 5000);
    assert.ok(reply, 'the UDP tracker answers');
    const answer = readAnnounceReply(reply);
    assert.equal(answer.seeders, 1);
    assert.equal(answer.leechers, 1);
    assert.deepEqual(
      peerList(answer.peers, 4).map((p) => p.split(':')[1]),
      ['7201'],
    );
  });

  it('docker-compose down leaves nothing behind', { timeout: 120_000 }, async (t) => {
    await run('docker', ['network', 'disconnect', clientsNetwork, (await stack.containers('nginx'))[0]!]);
    await run('docker', ['network', 'rm', clientsNetwork]);
    await composeDownLeavesNothing(t, stack, [], httpPort);
  });
});

describe('docker-compose.yml: the accounting profile', { skip: missing ?? false }, () => {
  const project = `shoal-test-accounting-${process.pid}`;
  const token = randomBytes(32).toString('hex');
  let stack: ReturnType<typeof composeProject>;
  let httpPort: number;
  let adminPort: number;
  let upTime: string;

  before(
    async () => {
      httpPort = await freePort();
      adminPort = await freePort();
      stack = composeProject(project, {
        TRACKER_UDP_SECRET: randomBytes(32).toString('hex'),
        TRACKER_PRIVATE_ENABLED: 'true',
        TRACKER_ADMIN_ADDR: '[::]:6881',
        TRACKER_ADMIN_TOKEN: token,
        POSTGRES_PASSWORD: randomBytes(16).toString('hex'),
        SHOAL_HTTP_PORT: String(httpPort),
        SHOAL_UDP_PORT: String(await freeUdpPort()),
        SHOAL_ADMIN_PORT: String(adminPort),
      });
      upTime = await composeUp(stack, ['--profile', 'accounting'], httpPort, () => '/healthz');
    },
    { timeout: 300_000 },
  );
  after(
    async () => {
      await stack?.compose(['--profile', 'accounting', 'down', '--volumes', '--timeout', '5']).catch((e: Error) => console.log(`# ${e.message}`));
    },
    { timeout: 120_000 },
  );

  it('runs PostgreSQL and the consumer besides the default stack', async (t) => {
    t.diagnostic(upTime);
    assert.deepEqual(await stack.services(), ['consumer', 'nginx', 'postgres', 'redis', 'tracker', 'tracker', 'tracker', 'tracker-udp']);
  });

  it("moves a private announce's bytes into PostgreSQL through the consumer", { timeout: 180_000 }, async (t) => {
    const started = Date.now();
    const admin = adminClient(adminPort, token);
    await eventually(
      'the management API on the published loopback port',
      () => admin.get('/freeleech'),
      (r) => r.status === 200,
    );
    const passkey = randomBytes(16).toString('hex');
    const hash = randomHash();
    assert.equal((await admin.put('/users/1001', { passkey })).status, 201);
    assert.equal((await admin.put(`/torrents/${hash.toString('hex')}`, { id: 31337 })).status, 201);

    const peerId = randomPeerId();
    const announce = (uploaded: number, downloaded: number, left: number, event?: string) =>
      httpGet('127.0.0.1', httpPort, announcePath({ infoHash: hash, peerId, uploaded, downloaded, left, event }, `/${passkey}`));
    const first = await eventually(
      'a private announce through nginx',
      () => announce(0, 0, 1000, 'started'),
      (r) => r.status === 200 && decode(r.body)['failure reason'] === undefined,
    );
    assert.equal(decode(first.body)['failure reason'], undefined, first.body.toString());
    // With an event: one without, this soon after the first, is answered but written nowhere (min interval).
    const second = await announce(4096, 512, 488, 'stopped');
    assert.equal(decode(second.body)['failure reason'], undefined, second.body.toString());

    const [postgres] = await stack.containers('postgres');
    const query = `SELECT uploaded, downloaded, raw_uploaded, raw_downloaded, announces FROM user_torrents WHERE user_id = 1001 AND torrent_id = 31337`;
    const row = await eventually(
      'the bytes in PostgreSQL',
      async () =>
        (
          await run('docker', ['exec', postgres!, 'psql', '--username', 'postgres', '--dbname', 'shoal', '--tuples-only', '--no-align', '--command', query])
        ).trim(),
      (r) => r === '4096|512|4096|512|2',
      60_000,
    );
    assert.equal(row, '4096|512|4096|512|2');
    const user = await run('docker', [
      'exec',
      postgres!,
      'psql',
      '-U',
      'postgres',
      '-d',
      'shoal',
      '-At',
      '-c',
      'SELECT uploaded, downloaded FROM users WHERE id = 1001',
    ]);
    assert.equal(user.trim(), '4096|512');
    t.diagnostic(`private announces to PostgreSQL: ${seconds(started)} s`);
  });

  it('docker-compose --profile accounting down leaves nothing behind', { timeout: 120_000 }, async (t) => {
    await composeDownLeavesNothing(t, stack, ['--profile', 'accounting'], httpPort);
  });
});
