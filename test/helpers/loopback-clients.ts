/**
 * Announcing from many loopback addresses at once: keep-alive HTTP clients bound to a 127.x.y.z source
 * address each (Linux routes all of 127.0.0.0/8 to lo), timed, and counted as the flood and budget
 * tests need. Every request is a real one over a real socket.
 */
import { Agent, request } from 'node:http';
import { createSocket } from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { decode } from './http.js';

export interface Outcome {
  ms: number;
  /** A network error, a status other than 200, or an undecodable body. */
  failed: boolean;
  /** The bencoded `failure reason`, if any. */
  failureReason?: string;
  warning?: string;
}

/** One client: a keep-alive agent whose sockets leave from `localAddress`. */
export class LoopbackClient {
  private readonly agent: Agent;

  constructor(
    readonly localAddress: string,
    private readonly port: number,
    maxSockets = 4,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets });
  }

  get(path: string, headers: Record<string, string> = {}): Promise<Outcome> {
    const started = performance.now();
    return new Promise((resolve) => {
      const done = (failed: boolean, body?: Buffer): void => {
        const outcome: Outcome = { ms: performance.now() - started, failed };
        if (body && !failed) {
          try {
            const d = decode(body);
            if (d['failure reason']) outcome.failureReason = Buffer.from(d['failure reason'] as Uint8Array).toString();
            if (d['warning message']) outcome.warning = Buffer.from(d['warning message'] as Uint8Array).toString();
          } catch {
            outcome.failed = true;
          }
        }
        resolve(outcome);
      };
      const req = request({ host: '127.0.0.1', port: this.port, path, agent: this.agent, localAddress: this.localAddress, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => done(res.statusCode !== 200, Buffer.concat(chunks)));
        res.on('error', () => done(true));
      });
      req.on('error', () => done(true));
      req.setTimeout(5000, () => req.destroy(new Error('timeout')));
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/**
 * Calls `send()` about `perSecond` times a second for `durationMs`, in ticks of 10 ms, never with more
 * than `maxInFlight` waiting; returns how many were sent. The first comes after a random part of one
 * period, so that many clients paced alike do not all send at the same instants (real clients are not
 * in step, and a burst of all of them at once measures a queue the test made).
 */
export async function paced(perSecond: number, durationMs: number, send: () => Promise<unknown>, maxInFlight = 256): Promise<number> {
  let inFlight = 0;
  let sent = 0;
  await sleep(Math.random() * (1000 / perSecond));
  const started = performance.now();
  const pending = new Set<Promise<unknown>>();
  while (performance.now() - started < durationMs) {
    const due = Math.floor(((performance.now() - started) / 1000) * perSecond) + 1;
    while (sent < due && inFlight < maxInFlight) {
      sent++;
      inFlight++;
      const p = send().finally(() => {
        inFlight--;
        pending.delete(p);
      });
      pending.add(p);
    }
    await sleep(10);
  }
  await Promise.all(pending);
  return sent;
}

/** The q-quantile (0..1) of `values`. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

/** One UDP datagram from `localAddress`, and the answer (null after timeoutMs). */
export function udpFrom(localAddress: string, port: number, packet: Buffer, timeoutMs = 1000): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      resolve(null);
    }, timeoutMs);
    socket.once('message', (reply) => {
      clearTimeout(timer);
      socket.close();
      resolve(reply);
    });
    socket.bind({ address: localAddress, port: 0 }, () => socket.send(packet, port, '127.0.0.1'));
  });
}

/**
 * A metric's value from Prometheus text, summed over the series whose labels include every one given
 * (0 when none has been counted yet). Throws when the text has no such metric at all: a renamed metric
 * must fail the test, not read as 0.
 */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  if (!text.split('\n').some((line) => line.startsWith(`# TYPE ${name} `))) throw new Error(`no metric ${name} in the text`);
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
