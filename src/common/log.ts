import type { Logger } from 'pino';

/**
 * A logger of failures the client could not cause, at most once per `intervalMs` per message: a flood of
 * the same failure (Redis down under load) must not become a flood of log lines.
 */
export function throttledErrorLog(logger: Logger, what = 'request failed', intervalMs = 1000): (error: unknown) => void {
  const lastLogged = new Map<string, number>();
  return (error) => {
    const message = error instanceof Error ? error.message : String(error);
    const now = Date.now();
    if ((lastLogged.get(message) ?? 0) > now - intervalMs) return;
    if (lastLogged.size > 1000) lastLogged.clear();
    lastLogged.set(message, now);
    logger.error({ err: error }, what);
  };
}
