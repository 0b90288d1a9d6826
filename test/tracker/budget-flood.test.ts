/**
 * A flood from one address at 20 times its request budget while 50 clients on other loopback addresses
 * keep announcing: the tracker (the real CLI, in its own process) refuses the flood cheaply and the
 * others notice nothing (no failure, p99 under 50 ms). Numbers are printed for the note.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { announcePath, httpGet, randomHash } from '../helpers/http.js';
import { LoopbackClient, metricValue, paced, quantile, type Outcome } from '../helpers/loopback-clients.js';
import { spawnNode, startTrackerProcess, type TestTracker } from '../helpers/tracker.js';

/** The flood's own process (test/helpers/flood-process.ts). */
const FLOOD = fileURLToPath(new URL('../helpers/flood-process.js', import.meta.url));

/** The flooder's budget: 250 requests per 10 s window, 25 a second. */
const WINDOW = 10;
const PER_ADDRESS = 250;
const FLOOD_PER_SECOND = 20 * (PER_ADDRESS / WINDOW);
/** 50 clients, each announcing 5 times a second: 250 a second together, each well inside its budget. */
const CLIENTS = 50;
const CLIENT_PER_SECOND = 5;

interface Phase {
  outcomes: Outcome[];
  failures: number;
  p50: number;
  p99: number;
}

function summary(outcomes: Outcome[]): Phase {
  const ms = outcomes.map((o) => o.ms);
  return { outcomes, failures: outcomes.filter((o) => o.failed || o.failureReason !== undefined).length, p50: quantile(ms, 0.5), p99: quantile(ms, 0.99) };
}

describe('a flood at 20x its budget next to 50 ordinary clients', () => {
  let t: TestTracker;
  let metricsPort = 0;
  let clients: LoopbackClient[] = [];

  before(async () => {
    const started = await startTrackerProcess({
      TRACKER_BUDGET_WINDOW: String(WINDOW),
      TRACKER_BUDGET_PER_ADDRESS: String(PER_ADDRESS),
      // The 50 clients share 127.1.0.0/24: room for them all.
      TRACKER_BUDGET_PER_SUBNET: '100000',
      TRACKER_METRICS_ADDR: '127.0.0.1:0',
    });
    t = started;
    const line = started.proc.lines.find((l) => l.includes('"tracker started"'))!;
    const metrics = (JSON.parse(line) as { metrics: string }).metrics;
    metricsPort = Number(metrics.slice(metrics.lastIndexOf(':') + 1));
    clients = Array.from({ length: CLIENTS }, (_, i) => new LoopbackClient(`127.1.0.${10 + i}`, t.port, 1));
  });
  after(async () => {
    for (const c of clients) c.close();
    await t.close();
  });

  /** Every client announces at its pace for `ms`; their outcomes. */
  async function ordinaryLoad(ms: number): Promise<Outcome[]> {
    const outcomes: Outcome[] = [];
    await Promise.all(
      clients.map((client) =>
        paced(CLIENT_PER_SECOND, ms, async () => outcomes.push(await client.get(announcePath({ infoHash: randomHash(), event: 'started', numwant: 50 }))), 4),
      ),
    );
    return outcomes;
  }

  it('keeps every ordinary announce answered, p99 under 50 ms, while the flood is refused', async () => {
    // Warm-up, then the same load without and with the flood (from a process of its own).
    await ordinaryLoad(1000);
    const quiet = summary(await ordinaryLoad(3000));

    const floodProcess = spawnNode([FLOOD, String(t.port), '127.2.0.2', String(FLOOD_PER_SECOND), '5000']);
    const [loud, flood] = await Promise.all([
      ordinaryLoad(5000).then(summary),
      (async () => {
        const { code } = await floodProcess.exit;
        assert.equal(code, 0, floodProcess.stderr());
        return JSON.parse(floodProcess.lines[0]!) as { sent: number; admitted: number; refused: number; failed: number; refusalP99: number };
      })(),
    ]);
    const { sent } = flood;
    const floodAdmitted = flood.admitted;
    const floodRefused = flood.refused;
    const metrics = (await httpGet('127.0.0.1', metricsPort, '/metrics')).body.toString();
    console.log(
      `flood test: ordinary clients without flood: ${quiet.outcomes.length} announces, ${quiet.failures} failures, p50 ${quiet.p50.toFixed(2)} ms, p99 ${quiet.p99.toFixed(2)} ms; ` +
        `with flood: ${loud.outcomes.length} announces, ${loud.failures} failures, p50 ${loud.p50.toFixed(2)} ms, p99 ${loud.p99.toFixed(2)} ms; ` +
        `flood: ${sent} sent in 5 s (${(sent / 5).toFixed(0)}/s, budget ${PER_ADDRESS / WINDOW}/s), ${floodAdmitted} admitted, ${floodRefused} refused, ` +
        `p99 of a refusal ${flood.refusalP99.toFixed(2)} ms`,
    );

    assert.equal(quiet.failures, 0);
    assert.equal(loud.failures, 0, 'no ordinary client was refused or failed during the flood');
    assert.ok(loud.p99 < 50, `p99 of ordinary announces during the flood ${loud.p99.toFixed(1)} ms`);
    assert.ok(loud.outcomes.length >= 0.8 * CLIENTS * CLIENT_PER_SECOND * 5, `ordinary clients kept their pace (${loud.outcomes.length})`);
    assert.ok(sent >= 0.9 * FLOOD_PER_SECOND * 5, `the flood ran at 20x its budget (${sent} in 5 s)`);
    // 5 s inside at most two windows: at most two budgets' worth got through; everything else was refused.
    assert.ok(floodAdmitted <= 2 * PER_ADDRESS, `flood admitted ${floodAdmitted}`);
    assert.equal(floodAdmitted + floodRefused, sent, 'every flood request answered');
    assert.equal(metricValue(metrics, 'tracker_budget_refusals_total', { protocol: 'http', action: 'announce', scope: 'address' }), floodRefused);
    assert.equal(metricValue(metrics, 'tracker_requests_total', { outcome: 'server_error' }), 0);
  });
});
