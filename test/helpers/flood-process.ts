/**
 * A flood of announces from one loopback address, as a process of its own (an attacker is not in the
 * process that measures the victims):
 *   node dist/test/helpers/flood-process.js PORT LOCAL_ADDRESS PER_SECOND DURATION_MS
 * prints one JSON line: { sent, admitted, refused, failed, refusalP99 }.
 */
import { announcePath, randomHash } from './http.js';
import { LoopbackClient, paced, quantile, type Outcome } from './loopback-clients.js';

const [port, localAddress, perSecond, durationMs] = process.argv.slice(2);
const client = new LoopbackClient(localAddress!, Number(port), 16);
const outcomes: Outcome[] = [];
const sent = await paced(Number(perSecond), Number(durationMs), async () =>
  outcomes.push(await client.get(announcePath({ infoHash: randomHash(), event: 'started' }))),
);
client.close();
const refusals = outcomes.filter((o) => o.failureReason !== undefined);
console.log(
  JSON.stringify({
    sent,
    admitted: outcomes.filter((o) => !o.failed && o.failureReason === undefined).length,
    refused: refusals.filter((o) => o.failureReason!.startsWith('too many requests')).length,
    failed: outcomes.filter((o) => o.failed).length,
    refusalP99: quantile(
      refusals.map((o) => o.ms),
      0.99,
    ),
  }),
);
