/**
 * The management API: a Koa app of its own, on its own listener (admin.addr), so that it can stay off
 * the public network while the tracker faces it. Order matters: errors become JSON outermost; the token
 * is checked before routing; what no route took is a 405 or a 404.
 */
import type { RouterContext } from '@koa/router';
import Koa from 'koa';
import type { Logger } from 'pino';
import type { TrackerStore } from '../store/driver.js';
import { bearerAuth } from './auth.js';
import { ApiError, jsonErrors } from './errors.js';
import { adminRouter, type AdminRouterOptions, type HotSwarmsSource } from './routes.js';

export interface AdminOptions {
  store: TrackerStore;
  token: string;
  logger: Logger;
  /** GET /swarms/hot; absent: the route answers 404. */
  hotSwarms?: HotSwarmsSource;
  /** private.deleted_reason_ttl (default 7 days). */
  deletedReasonTtl?: number;
  /** GET /users/:id/peers: what the connectability check knows of an "IP:PORT"; absent when checks are off. */
  connectable?: (key: string) => Promise<boolean | null>;
  /** POST /config/reload (src/boot-reload.ts); absent: the route answers 404. */
  reload?: AdminRouterOptions['reload'];
}

export function createAdminApp(options: AdminOptions): Koa {
  const app = new Koa();
  app.silent = true; // jsonErrors logs what needs logging
  const router = adminRouter(options.store, options.hotSwarms ?? null, {
    deletedReasonTtl: options.deletedReasonTtl ?? 604800,
    connectable: options.connectable,
    reload: options.reload,
  });
  app.use(jsonErrors(options.logger));
  app.use(bearerAuth(options.token));
  app.use(router.routes());
  app.use(unrouted);
  return app;
}

/** Reached only when no route took the request: 405 (with Allow) if the path exists under other methods. */
const unrouted: Koa.Middleware = (ctx) => {
  const allowed = [...new Set((ctx as RouterContext).matched?.flatMap((layer) => layer.methods))];
  if (allowed.length > 0) {
    throw new ApiError(405, `method ${ctx.method} not allowed here (allowed: ${allowed.join(', ')})`, { Allow: allowed.join(', ') });
  }
  throw new ApiError(404, 'no such route');
};
