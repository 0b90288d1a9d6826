/** The management API's errors: every one is `{"error": "..."}` with its status, never a stack trace. */
import type Koa from 'koa';
import type { Logger } from 'pino';
import { throttledErrorLog } from '../common/log.js';
import { CatalogueConflict, CatalogueLimit, UnknownSync } from '../store/catalogue.js';

/** A refusal the caller can act on (4xx); its message is shown as is. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function badRequest(message: string): never {
  throw new ApiError(400, message);
}

/**
 * Outermost middleware. ApiError, CatalogueConflict and CatalogueLimit are the caller's to fix; anything else is the
 * store failing (Redis down, a timeout), so the caller may retry: 503, logged at most once a second.
 */
export function jsonErrors(logger: Logger): Koa.Middleware {
  const logError = throttledErrorLog(logger);
  return async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      let status = 503;
      let message = 'the tracker store is unavailable, try again later';
      if (error instanceof ApiError) {
        status = error.status;
        message = error.message;
        ctx.set(error.headers);
      } else if (error instanceof CatalogueConflict || error instanceof CatalogueLimit) {
        status = 409;
        message = error.message;
      } else if (error instanceof UnknownSync) {
        status = 404;
        message = error.message;
      } else {
        logError(error);
      }
      ctx.status = status;
      ctx.body = { error: message };
    }
  };
}
