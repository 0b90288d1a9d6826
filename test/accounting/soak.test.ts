/**
 * The accounting soak (scripts/soak, `npm run soak`) as a CI test: the compiled harness runs as a child
 * process, briefly, with its faults packed densely, and must exit 0 (every credited byte, snatch and
 * active peer as the clients' ground truth says, less only what Redis itself lost) after doing every
 * kind of fault it plans. Sentinel for 3 minutes (every fault kind, at least six replica SIGKILLs), then
 * Cluster for 1.5 minutes (a master failover). Fixed seeds: the same fault schedule on every run.
 *
 * node --test bounds a whole test file by --test-timeout, not only each test in it: this file takes
 * about 6 minutes, so `npm test` runs it on its own with a larger bound (`npm run test:soak` alone).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { postgresBinary } from '../../scripts/soak/postgres.js';
import { redisMissing } from '../helpers/redis.js';
import { toolMissing } from '../helpers/tools.js';

const SOAK = fileURLToPath(new URL('../../scripts/soak/main.js', import.meta.url));
/** The drain normally takes about 10 s (PostgreSQL must stay unchanged that long). */
const DRAIN_LIMIT_SECONDS = 45;
/** Room for set-up and teardown beyond the run's own bound (minutes + drain limit). */
const MARGIN_MS = 60_000;
const SENTINEL_TIMEOUT_MS = 3 * 60_000 + DRAIN_LIMIT_SECONDS * 1000 + MARGIN_MS;
const CLUSTER_TIMEOUT_MS = 1.5 * 60_000 + DRAIN_LIMIT_SECONDS * 1000 + MARGIN_MS;

function postgresMissing(): string | null {
  return toolMissing('PostgreSQL server binaries (initdb, pg_ctl)', 'postgresql', [
    [postgresBinary('initdb'), ['--version']],
    [postgresBinary('pg_ctl'), ['--version']],
  ]);
}

/**
 * Runs the harness; its output goes to this test's output as it comes (a CI log shows where a run went
 * wrong). A test that times out or is cancelled aborts `signal`: the harness gets SIGTERM and tears down
 * everything it started; so it does when this process exits first.
 */
function runSoak(args: string[], signal: AbortSignal): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SOAK, ...args], { stdio: ['ignore', 'pipe', 'pipe'], signal, killSignal: 'SIGTERM' });
    const stopOnExit = () => child.kill('SIGTERM');
    process.once('exit', stopOnExit);
    child.on('error', () => {}); // the abort, reported by the exit below
    let output = '';
    let partial = '';
    const collect = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      output += text;
      // Whole lines only: the test runner shows each line of this file's output as a diagnostic.
      const lines = (partial + text).split('\n');
      partial = lines.pop()!;
      for (const line of lines) console.log(line);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('exit', (code) => {
      process.removeListener('exit', stopOnExit);
      resolve({ code, output });
    });
  });
}

/** The summary's "faults: kind=count ..." line, as numbers. */
function faultCounts(output: string): Record<string, number> {
  const summary = output.slice(output.indexOf('soak summary'));
  const line = /^faults: (.*)$/m.exec(summary)?.[1];
  assert.ok(line, 'the summary lists the faults done');
  return Object.fromEntries(line.split(' ').map((pair) => [pair.split('=')[0]!, Number(pair.split('=')[1])]));
}

const verdictOf = (output: string): string => /^verdict: .*$/m.exec(output)?.[0] ?? '(no verdict line)';

// The suite's own timeout too: --test-timeout (180 s in npm test) would otherwise bound the whole suite.
describe(
  'accounting soak with fault injection',
  { skip: redisMissing() ?? postgresMissing() ?? false, timeout: SENTINEL_TIMEOUT_MS + CLUSTER_TIMEOUT_MS },
  () => {
    it('Sentinel, 3 minutes, every fault kind: PostgreSQL holds exactly the truth', { timeout: SENTINEL_TIMEOUT_MS }, async (t) => {
      const { code, output } = await runSoak(
        ['--minutes', '3', '--topology', 'sentinel', '--seed', '1', '--drain-limit', String(DRAIN_LIMIT_SECONDS)],
        t.signal,
      );
      const faults = faultCounts(output);
      assert.ok(faults['replica-sigkill']! >= 6, `at least 6 replica SIGKILLs (${faults['replica-sigkill']})`);
      for (const kind of ['replica-sigterm', 'consumer-sigkill', 'postgres-restart', 'sentinel-failover', 'redis-data-loss']) {
        assert.ok(faults[kind]! >= 1, `at least one ${kind} (${faults[kind]})`);
      }
      assert.equal(code, 0, verdictOf(output));
    });

    it('Cluster, 1.5 minutes, a master failover: PostgreSQL holds exactly the truth', { timeout: CLUSTER_TIMEOUT_MS }, async (t) => {
      const { code, output } = await runSoak(
        ['--minutes', '1.5', '--topology', 'cluster', '--seed', '2', '--drain-limit', String(DRAIN_LIMIT_SECONDS)],
        t.signal,
      );
      const faults = faultCounts(output);
      for (const kind of ['replica-sigkill', 'replica-sigterm', 'consumer-sigkill', 'postgres-restart', 'cluster-master-failover']) {
        assert.ok(faults[kind]! >= 1, `at least one ${kind} (${faults[kind]})`);
      }
      assert.equal(code, 0, verdictOf(output));
    });
  },
);
