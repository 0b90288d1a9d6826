/** Polling for a condition that real processes and servers reach in their own time. */
import { setTimeout as sleep } from 'node:timers/promises';

export async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 10_000, everyMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}
