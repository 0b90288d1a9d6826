/** The HTTP frontend: Koa routes for announce, scrape and health. */
import Router, { type RouterContext } from '@koa/router';
import Koa from 'koa';
import type { Logger } from 'pino';
import { ClientError } from '../../bittorrent/errors.js';
import type { Outcome, TrackerMetrics } from '../../metrics/metrics.js';
import type { Tracker } from '../../tracker/tracker.js';
import { throttledErrorLog } from '../../common/log.js';
import { countRequest, failureOutcome, failureReason, socketFamily } from '../sanitize.js';
import type { Blocklists } from '../../blocklist/lists.js';
import { announceAnswer, announceFastPath, checkBlocked, queryOf } from './announce.js';
import { resolveClientIp, type ClientIpOptions } from './client-ip.js';
import { parseScrape } from './parser.js';
import { writeFailure, writeScrape } from './writer.js';
import { FullScrapeBodies } from './full-scrape-body.js';

export interface HttpFrontendOptions {
  tracker: Tracker;
  metrics?: TrackerMetrics;
  logger: Logger;
  maxQueryLength: number;
  clientIp: ClientIpOptions;
  /** BEP 24 `external ip` in announce answers. */
  externalIp: boolean;
  /** blocklist.files: clients refused before anything else; absent or null: none. */
  blocklists?: Blocklists | null;
}

export function createHttpApp(options: HttpFrontendOptions): Koa {
  const { tracker, maxQueryLength, clientIp, metrics, externalIp, blocklists } = options;
  const logError = throttledErrorLog(options.logger);
  const app = new Koa();
  app.silent = true; // errors are logged by throttledErrorLog, not by Koa on stderr
  const router = new Router();
  const fullScrapes = new FullScrapeBodies();

  /** Runs a tracker action; any failure becomes a bencoded `failure reason` with status 200. */
  const bencoded = (name: 'scrape', action: (ctx: RouterContext, query: string) => Promise<Buffer>) => async (ctx: RouterContext) => {
    const started = performance.now();
    let body: Buffer;
    let outcome: Outcome = 'ok';
    try {
      const query = queryOf(ctx.req.url);
      if (query.length > maxQueryLength) throw new ClientError(`query string too long (at most ${maxQueryLength} bytes)`);
      body = await action(ctx, query);
    } catch (error) {
      outcome = failureOutcome(error);
      body = writeFailure(failureReason(error, logError));
    }
    if (metrics) countRequest(metrics, 'http', name, socketFamily(ctx.req.socket.remoteAddress), outcome, started);
    ctx.status = 200;
    ctx.set('Content-Type', 'text/plain');
    ctx.body = body;
  };

  const answerAnnounce = announceAnswer({ tracker, metrics, logError, maxQueryLength, clientIp, externalIp, blocklists });
  // Other spellings of the announce URLs (and HEAD) than the fast path's (announce.ts); the same answer.
  const announce = async (ctx: RouterContext) => {
    const body = await answerAnnounce(ctx.req, ctx.params.passkey);
    ctx.status = 200;
    ctx.set('Content-Type', 'text/plain');
    ctx.body = body;
  };

  const scrape = bencoded('scrape', async (ctx, query) => {
    const sourceIp = resolveClientIp(ctx.req.socket.remoteAddress, ctx.req.headers, clientIp) ?? undefined;
    if (blocklists && sourceIp) checkBlocked(blocklists, sourceIp);
    const infoHashes = parseScrape(query, tracker.policy.maxScrapeInfoHashes);
    const result = await tracker.scrape({ infoHashes, passkey: ctx.params.passkey, sourceIp, transport: 'http' });
    if (infoHashes.length > 0) return writeScrape(result);
    // A full scrape: the snapshot's answer, encoded once (full-scrape-body.ts).
    const wantGzip = ctx.acceptsEncodings('gzip', 'identity') === 'gzip';
    const body = await fullScrapes.body(result, wantGzip);
    ctx.vary('Accept-Encoding');
    if (wantGzip) ctx.set('Content-Encoding', 'gzip');
    return body;
  });

  router.get('/announce', announce);
  router.get('/scrape', scrape);
  // Private mode: the passkey in the path, as Gazelle-era sites hand it out (and the seed-era /users/ form).
  router.get('/:passkey/announce', announce);
  router.get('/:passkey/scrape', scrape);
  router.get('/users/:passkey/announce', announce);
  router.get('/users/:passkey/scrape', scrape);
  router.get('/healthz', (ctx) => {
    ctx.body = 'ok\n';
  });
  router.get('/readyz', async (ctx) => {
    let ready: boolean;
    try {
      ready = await tracker.store.ready();
    } catch {
      ready = false;
    }
    ctx.status = ready ? 200 : 503;
    ctx.body = ready ? 'ready\n' : 'not ready: tracker store unreachable\n';
  });

  app.use(announceFastPath(answerAnnounce));
  app.use(router.routes());
  return app;
}
