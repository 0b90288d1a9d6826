#!/usr/bin/env node
/** The `shoal-consumer` command: applies the accounting stream to PostgreSQL. */
import { hostname } from 'node:os';
import pg from 'pg';
import { pino, type Logger } from 'pino';
import { parseStreamParams, type StreamParams } from '../backend/stream/params.js';
import { failStartup, packageVersion, parseArgs } from '../cli-args.js';
import { ConfigError, loadConfig, type Config } from '../config/config.js';
import { connectRedis } from '../redis/connection.js';
import { Consumer } from './consumer.js';
import { ConsumerMetrics } from './metrics.js';
import { GroupMember } from './stream.js';

const USAGE = `usage: shoal-consumer [--config PATH]

Reads the accounting stream that the tracker's redis-stream backend writes (backend.params: url or
sentinels or cluster, stream) as a member of a consumer group, and applies it to PostgreSQL
(consumer.postgres_url), each batch in one transaction, each record exactly once. Takes the tracker's
configuration file; every key can be overridden from the environment (TRACKER_CONSUMER_POSTGRES_URL...).

  --config PATH   JSON configuration file (the tracker's)
  --help          this text
  --version       the version
`;

/** How long a read waits for new entries; SIGTERM waits for it at most this long. */
const BLOCK_MS = 1000;

function streamParams(config: Config): StreamParams {
  if (config.backend.driver !== 'redis-stream') {
    throw new ConfigError(
      'backend.driver',
      `is ${JSON.stringify(config.backend.driver)}: the consumer reads the stream of the "redis-stream" backend, configured in backend.params`,
    );
  }
  return parseStreamParams(config.backend.params);
}

function build(config: Config, logger: Logger): { consumer: Consumer; metrics: ConsumerMetrics; close: () => Promise<void> } {
  const params = streamParams(config);
  const name = config.consumer.name || `${hostname()}-${process.pid}`;
  // A blocking read holds its command for BLOCK_MS: the command timeout comes on top of that.
  const redis = connectRedis({ ...params, commandTimeout: params.commandTimeout + BLOCK_MS }, logger);
  const pool = new pg.Pool({ connectionString: config.consumer.postgres_url, max: 2 });
  // An idle connection's error (PostgreSQL restarted) must not crash the process: the pool replaces it.
  pool.on('error', (error) => logger.warn({ err: error }, 'idle PostgreSQL connection lost'));
  const metrics = new ConsumerMetrics();
  const consumer = new Consumer({
    member: new GroupMember(redis, params.stream, config.consumer.group, name),
    pool,
    logger,
    batchSize: config.consumer.batch_size,
    claimIdleMs: config.consumer.claim_idle * 1000,
    blockMs: BLOCK_MS,
    peers: { seedGraceSeconds: config.consumer.seed_grace, peerTtlSeconds: config.peer_ttl },
    sessionRetentionSeconds: config.consumer.session_retention,
    // Every live session announces again within an interval (and its jitter) of a Redis data loss.
    recoveryWindowMs: (config.announce_interval * 2 + 60) * 1000,
    metrics,
  });
  logger.info(
    { stream: params.stream, group: config.consumer.group, name, batch_size: config.consumer.batch_size, claim_idle: config.consumer.claim_idle },
    'consumer started',
  );
  return {
    consumer,
    metrics,
    async close() {
      redis.disconnect();
      await pool.end();
    },
  };
}

async function main(): Promise<void> {
  let built: ReturnType<typeof build>;
  let logger: Logger;
  let loadedConfig: Config;
  try {
    const args = parseArgs(process.argv.slice(2));
    if (args.help) return void process.stdout.write(USAGE);
    if (args.version) return void process.stdout.write(packageVersion() + '\n');
    const config = loadConfig({ config: args.config, env: process.env });
    loadedConfig = config;
    logger = pino({ level: config.log.level });
    built = build(config, logger);
  } catch (error) {
    failStartup('shoal-consumer', error);
  }
  const onSignal = (signal: NodeJS.Signals): void => {
    logger.info({ signal }, 'stopping after the current batch');
    built.consumer.stop();
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  try {
    const addr = loadedConfig.consumer.metrics_addr;
    if (addr) {
      const { server, address } = await built.metrics.listen(addr.host, addr.port);
      server.unref();
      logger.info({ metrics: `${address.address}:${address.port}` }, 'consumer metrics listening');
    }
    await built.consumer.run();
    await built.close();
    process.exit(0);
  } catch (error) {
    logger.fatal({ err: error }, 'consumer failed');
    process.exit(1);
  }
}

void main();
