/**
 * Delay before the next attempt after `failures` failures in a row: 100 ms doubling to 5 s, with
 * jitter so that replicas (or consumers) that failed together do not retry in step.
 */
export function retryDelay(failures: number): number {
  const base = Math.min(100 * 2 ** Math.max(0, failures - 1), 5000);
  return Math.round(base * (0.8 + Math.random() * 0.4));
}
