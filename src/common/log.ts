import type { Logger } from 'pino';

/** Failures the client could not cause are logged, but at most once a second per message. */
export function throttledErrorLog(logger: Logger): (error: unknown) => void {
  const lastLogged = new Map<string, number>();
  return (error) => {
    const message = error instanceof Error ? error.message : String(error);
    const now = Date.now();
    if ((lastLogged.get(message) ?? 0) > now - 1000) return;
    if (lastLogged.size > 1000) lastLogged.clear();
    lastLogged.set(message, now);
    logger.error({ err: error }, 'request failed');
  };
}
