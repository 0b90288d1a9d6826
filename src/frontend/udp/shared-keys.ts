/**
 * UDP connection id keys agreed through a shared tracker driver, for deployments that set no
 * `udp.secret`: read at start, then re-read often enough that every replica learns of a rotation
 * before the next one (a quarter of the rotation period, at most a minute apart). Each replica accepts
 * the previous, current and next keys, so ids issued by a replica that has already rotated, or has not
 * yet, are accepted everywhere.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { SharedState } from '../../store/driver.js';
import type { ConnectionIds } from './connection-id.js';

/** The name of the keys in the driver. */
const KEYS_NAME = 'udp';
/** Longest and shortest wait between reads, ms; a failed read is retried after RETRY_MS. */
const MAX_REFRESH_MS = 60_000;
const MIN_REFRESH_MS = 250;
const RETRY_MS = 1_000;

export interface SharedKeysOptions {
  shared: SharedState;
  ids: ConnectionIds;
  /** Seconds between rotations; 0 never rotates. */
  rotateSeconds: number;
  logger: Logger;
}

export interface SharedKeysHandle {
  stop(): void;
}

/** Reads the keys once (a failure is logged, and retried in the background), then keeps them fresh. */
export async function shareConnectionKeys(options: SharedKeysOptions): Promise<SharedKeysHandle> {
  const { shared, ids, rotateSeconds, logger } = options;
  const refreshMs = rotateSeconds > 0 ? Math.min(MAX_REFRESH_MS, Math.max(MIN_REFRESH_MS, (rotateSeconds * 1000) / 4)) : MAX_REFRESH_MS;
  const candidates = (): [string, string] => [randomBytes(32).toString('hex'), randomBytes(32).toString('hex')];
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  let seen = '';
  let failing = false;

  const refresh = async (): Promise<boolean> => {
    try {
      const keys = await shared.connectionKeys(KEYS_NAME, rotateSeconds, candidates);
      const fingerprint = `${keys.current}/${keys.previous}/${keys.next}`;
      if (fingerprint !== seen) {
        ids.setKeys(keys.current, keys.previous, keys.next);
        if (seen === '') {
          // Logged once: which replica made the keys, and how often they turn.
          logger.info(
            { created: keys.created, rotation_seconds: rotateSeconds },
            'udp connection id keys shared through the tracker driver (udp.secret unset)',
          );
        } else {
          logger.debug({ rotated: keys.rotated }, 'udp connection id keys rotated');
        }
        seen = fingerprint;
      }
      failing = false;
      return true;
    } catch (error) {
      if (!failing) logger.warn({ err: error }, 'udp connection id keys: the tracker driver did not answer; retrying');
      failing = true;
      return false;
    }
  };
  const schedule = (ok: boolean): void => {
    if (stopped) return;
    timer = setTimeout(() => void refresh().then(schedule), ok ? refreshMs : RETRY_MS);
    timer.unref();
  };
  schedule(await refresh());
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
